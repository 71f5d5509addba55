"""The HTTP benchmark without wrk: reading its output, its script, the status check, the targets."""

import os

import pytest
import redis
from rest_framework.test import APIClient

from accounts.profile_cache import profile_forget
from benchmarks.gunicorn_server import Server
from benchmarks.http_load import prepare_targets
from benchmarks.wrk import HttpResult, Target, lua_string, merge_rounds, parse_wrk_output, wrk_script
from integrations.models import ApiKey
from miniprograms.models import Share

# `wrk --latency` with the generated script, against the refused share of a gunicorn run.
SHARE_RUN = """\
Running 3s test @ http://127.0.0.1:41499/api/v1/miniprograms/1/shares/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    75.47ms   19.17ms 183.24ms   91.50%
    Req/Sec   210.37     46.67   272.00     76.67%
  Latency Distribution
     50%   73.47ms
     75%   78.47ms
     90%   83.35ms
     99%  152.63ms
  629 requests in 3.00s, 418.31KB read
  Non-2xx or 3xx responses: 629
Requests/sec:    209.47
Transfer/sec:    139.30KB
status-count 429 629
"""

# Two wrk threads against a server that answers 200 and 503 in turn, closes every fifth connection
# unanswered (read errors) and holds some requests past wrk's --timeout 1s.
FLAKY_RUN = """\
Running 3s test @ http://127.0.0.1:18765/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   524.80us    1.58ms  20.12ms   95.34%
    Req/Sec   795.64      0.95k    3.05k    90.91%
  Latency Distribution
     50%  157.00us
     75%  327.00us
     90%  635.00us
     99%    8.87ms
  1466 requests in 3.01s, 96.64KB read
  Socket errors: connect 0, read 368, write 0, timeout 8
  Non-2xx or 3xx responses: 733
Requests/sec:    487.19
Transfer/sec:     32.11KB
status-count 200 733
status-count 503 733
"""

SHARE = Target(
    name="share", method="POST", path="/api/v1/miniprograms/1/shares/", expected_statuses=frozenset({429})
)


def test_parse__captured_share_run__reads_rate_latency_and_statuses():
    result = parse_wrk_output(SHARE_RUN, target=SHARE)

    assert result.name == "share"
    assert result.requests_per_second == 209.47
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (73.47, 83.35, 152.63)
    assert result.requests == 629
    assert result.duration_seconds == 3.0
    assert result.statuses == {429: 629}
    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert result.problems == []


def test_parse__share_run_for_a_target_expecting_200__reports_the_429s():
    expecting_200 = Target(name="share", method="POST", path="/api/v1/miniprograms/1/shares/")

    result = parse_wrk_output(SHARE_RUN, target=expecting_200)

    assert result.unexpected_statuses == {429: 629}
    assert result.problems == ["share: 629 x 429 (expected only 200)"]


def test_parse__two_threads_with_socket_errors__sums_the_threads_and_keeps_the_errors():
    target = Target(name="flaky", method="GET", path="/", expected_statuses=frozenset({200, 503}))

    result = parse_wrk_output(FLAKY_RUN, target=target)

    # Both threads' counts: 733 + 733 is every response wrk counted.
    assert result.statuses == {200: 733, 503: 733}
    assert sum(result.statuses.values()) == result.requests == 1466
    assert result.p50_ms == pytest.approx(0.157)  # wrk wrote 157.00us
    assert result.p99_ms == pytest.approx(8.87)
    assert result.socket_errors == {"connect": 0, "read": 368, "write": 0, "timeout": 8}
    assert result.problems == ["flaky: socket errors read 368, timeout 8"]


def test_parse__output_without_the_latency_distribution__is_value_error():
    without_distribution = "\n".join(line for line in SHARE_RUN.splitlines() if "%  " not in line)

    with pytest.raises(ValueError, match="wrk --latency"):
        parse_wrk_output(without_distribution, target=SHARE)


def test_problems__no_response_at_all__is_an_error():
    result = HttpResult(
        name="profile",
        requests_per_second=0.0,
        p50_ms=0.0,
        p90_ms=0.0,
        p99_ms=0.0,
        requests=0,
        duration_seconds=10.0,
        statuses={},
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": 0},
        expected_statuses=frozenset({200}),
    )

    assert result.problems == ["profile: no responses"]


def test_lua_string__quotes_backslashes_controls_and_non_ascii__are_escaped():
    assert lua_string("Api-Key ab.CD") == '"Api-Key ab.CD"'
    assert lua_string('a"b\\c\n€') == '"a\\"b\\\\c\\010\\226\\130\\172"'


def test_script__post_with_headers_and_body__sets_them_on_wrk():
    target = Target(
        name="share",
        method="POST",
        path="/api/v1/miniprograms/1/shares/",
        headers={"Authorization": "Api-Key abc.def", "Content-Type": "application/json"},
        body='{"account": 5}',
    )

    script = wrk_script(target)

    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Authorization"] = "Api-Key abc.def"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert 'wrk.body = "{\\"account\\": 5}"' in script


def test_script__get_without_body__sets_no_body():
    script = wrk_script(Target(name="trivial", method="GET", path="/bench/trivial/"))

    assert 'wrk.method = "GET"' in script
    assert "wrk.body" not in script
    assert "wrk.headers[" not in script


def test_script__counts_per_thread_and_sums_the_threads_in_done():
    script = wrk_script(Target(name="trivial", method="GET", path="/bench/trivial/"))

    # Each thread counts in its own Lua state; setup keeps the threads so done can read their tables.
    assert "function setup(thread)\n   table.insert(threads, thread)" in script
    assert "statuses[status] = (statuses[status] or 0) + 1" in script
    assert 'thread:get("statuses")' in script
    assert 'io.write(string.format("status-count %d %d\\n", status, count))' in script


@pytest.fixture
def fresh_share_quota(redis_url):
    """No share quota counters on Redis: account ids repeat between runs, the database rolls back."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("portal:share-quota:*"):
        client.delete(key)
    yield
    client.close()


@pytest.mark.urls("benchmarks.urls")
def test_prepare_targets__empty_database__profile_200_share_429_trivial_200(db, fresh_share_quota):
    # Given a migrated database with no data, and no cached profile of the demo accounts
    assert not Share.objects.exists()
    profile_forget([("weibo", "5501150801"), ("weibo", "2803301701")])

    # When the benchmark prepares its targets
    targets = {target.name: target for target in prepare_targets()}

    # Then each answers what the benchmark expects of it, through DRF
    assert list(targets) == ["profile", "share", "trivial"]
    client = APIClient()
    answers = {
        name: client.generic(
            target.method,
            target.path,
            data=target.body or "",
            content_type=target.headers.get("Content-Type", "application/octet-stream"),
            headers=dict(target.headers),
        )
        for name, target in targets.items()
    }
    assert answers["profile"].status_code == 200
    assert answers["profile"].json()["whitelisted"] is True
    assert answers["profile"].json()["miniprograms"]
    assert answers["share"].status_code == 429
    assert answers["share"]["Content-Type"].startswith("application/problem+json")
    assert "Retry-After" in answers["share"]
    assert answers["trivial"].status_code == 200
    assert answers["trivial"].json() == {"ok": True}
    assert {name: target.expected_statuses for name, target in targets.items()} == {
        "profile": {200},
        "share": {429},
        "trivial": {200},
    }
    # The quota was used up by real shares, made with the benchmark's key of the account's organization
    key = ApiKey.objects.get(name="HTTP benchmark", revoked=False)
    shares = Share.objects.filter(api_key=key)
    assert shares.count() == shares.first().limit
    assert key.organization_id == shares.first().account.organization_id


@pytest.mark.urls("benchmarks.urls")
def test_prepare_targets__second_time__revokes_the_first_key(db, fresh_share_quota):
    first = {target.name: target for target in prepare_targets()}

    second = {target.name: target for target in prepare_targets()}

    assert first["profile"].path == second["profile"].path
    assert ApiKey.objects.filter(name="HTTP benchmark", revoked=False).count() == 1
    client = APIClient()
    response = client.post(
        first["share"].path,
        data=first["share"].body,
        content_type="application/json",
        headers={"Authorization": first["share"].headers["Authorization"]},
    )
    assert response.status_code == 401


def _round(requests: int, seconds: float, p99: float, cpu: float | None) -> HttpResult:
    return HttpResult(
        name="profile",
        requests_per_second=requests / seconds,
        p50_ms=p99 / 4,
        p90_ms=p99 / 2,
        p99_ms=p99,
        requests=requests,
        duration_seconds=seconds,
        statuses={200: requests - 1, 404: 1},
        socket_errors={"connect": 0, "read": 1, "write": 0, "timeout": 0},
        expected_statuses=frozenset({200}),
        server_cpu_seconds=cpu,
    )


def test_merge_rounds__three_rounds__sums_counts_and_takes_the_median_percentile():
    rounds = [_round(1000, 5.0, 40.0, 1.0), _round(3000, 5.0, 20.0, 3.0), _round(2000, 5.0, 90.0, 2.0)]

    merged = merge_rounds(rounds)

    assert merged.requests == 6000
    assert merged.duration_seconds == 15.0
    assert merged.requests_per_second == 400.0  # all requests over all seconds, not a mean of rates
    assert merged.p99_ms == 40.0
    assert merged.statuses == {200: 5997, 404: 3}
    assert merged.socket_errors["read"] == 3
    assert merged.server_cpu_seconds == 6.0
    assert merged.server_cpu_ms_per_request == 1.0
    assert merged.rounds == 3
    assert merged.problems == ["profile: 3 x 404 (expected only 200)", "profile: socket errors read 3"]


def test_merge_rounds__a_round_without_cpu_time__has_no_cpu_time():
    merged = merge_rounds([_round(1000, 5.0, 40.0, 1.0), _round(1000, 5.0, 40.0, None)])

    assert merged.server_cpu_seconds is None
    assert merged.server_cpu_ms_per_request is None


def test_server_cpu_seconds__this_process__reads_its_cpu_time():
    server = Server(base_url="http://127.0.0.1:1", pid=os.getpid(), workers=0)
    before = server.cpu_seconds()
    sum(number * number for number in range(2_000_000))  # some CPU time

    after = server.cpu_seconds()

    assert before is not None and after is not None
    assert after > before
