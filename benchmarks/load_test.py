"""A bounded load test on loopback: mixed reads and share attempts against gunicorn, for `make bench`.

A few thousand requests over a minute at a steady rate, from several client threads in this process
to gunicorn in others: the public profile and the whitelist lookup of a set of accounts, and share
attempts on the same accounts with a platform-wide API key. It passes with no 5xx answer, no failed
connection, no status outside the expected ones, and no over-grant: per account and hour, the
shares granted (201) never exceed the entry's limit less what the account had already shared in
that hour, and the database holds no more than the limit.

    benchmarks/bench.py --rows 8    (or as part of `make bench`)
"""

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

LOAD_API_KEY_NAME = "load test (benchmarks/load_test.py)"
# What the mix asks for, by weight, and the statuses each may answer.
MIX = (("profile", 5), ("lookup", 2), ("share", 3))
EXPECTED = {"profile": {200}, "lookup": {200}, "share": {201, 429}}


@dataclass(frozen=True, slots=True)
class LoadAccount:
    id: int
    platform: str
    platform_uid: str
    miniprogram: int
    limit: int
    used_before: int  # shares already recorded in the hour the test starts in


@dataclass(slots=True)
class LoadResult:
    seconds: float
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    over_grants: int = 0
    database_over_limit: int = 0
    granted: int = 0

    @property
    def server_errors(self) -> int:
        return sum(count for (_kind, status), count in self.statuses.items() if status >= 500)

    @property
    def unexpected(self) -> dict[str, int]:
        return {
            f"{kind} {status}": count
            for (kind, status), count in sorted(self.statuses.items())
            if status not in EXPECTED[kind]
        }

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def passed(self) -> bool:
        return not (
            self.server_errors
            or self.connection_errors
            or self.unexpected
            or self.over_grants
            or self.database_over_limit
        )

    def summary(self) -> str:
        kinds = Counter[str]()
        for (kind, _status), count in self.statuses.items():
            kinds[kind] += count
        parts = ", ".join(f"{count:,} {kind}" for kind, count in sorted(kinds.items()))
        return (
            f"{self.requests:,} requests in {self.seconds:,.0f} s ({self.rate:,.0f}/s: {parts}); "
            f"{self.granted:,} shares granted; p50 {self.percentile_ms(0.5):.0f} ms, "
            f"p99 {self.percentile_ms(0.99):.0f} ms"
        )


def prepare_load(*, accounts: int) -> tuple[list[LoadAccount], str]:
    """`accounts` whitelisted accounts with a live mini program, and a platform-wide key for them.

    Needs Django set up, a staff user and live links (the scale seed's or the demo data's).
    """
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import User
    from accounts.scopes import Scope
    from integrations.models import ApiKey
    from integrations.services import api_key_issue, api_key_revoke
    from miniprograms.models import MiniProgramState, ProfileLink, ProfileLinkState, Share
    from miniprograms.quota import window_start
    from whitelist.models import EntryState

    staff = User.objects.filter(is_staff=True, is_active=True).order_by("id").first()
    if staff is None:
        raise RuntimeError("The load test needs a staff user to issue its API key.")
    window = window_start()
    links = list(
        ProfileLink.objects.filter(
            state=ProfileLinkState.LIVE,
            miniprogram__state=MiniProgramState.ACTIVE,
            account__whitelist_entry__state=EntryState.ACTIVE,
            account__whitelist_entry__valid_until__gt=timezone.now(),
        )
        # Accounts that have not shared this hour yet, so that the test sees grants as well as refusals.
        .exclude(account__shares__window_start=window)
        .select_related("account__whitelist_entry")
        .order_by("account_id", "id")
        .distinct("account_id")[:accounts]
    )
    used = dict(
        Share.objects.filter(account_id__in=[link.account_id for link in links], window_start=window)
        .values("account_id")
        .annotate(count=Count("id"))
        .values_list("account_id", "count")
    )
    if len(links) < accounts:
        raise RuntimeError(
            f"The load test needs {accounts} accounts with a live mini program; found {len(links)}."
        )
    for earlier in ApiKey.objects.filter(name=LOAD_API_KEY_NAME, revoked=False):
        api_key_revoke(actor=staff, key=earlier)
    _key, secret = api_key_issue(
        actor=staff,
        name=LOAD_API_KEY_NAME,
        scopes=[Scope.SHARES_WRITE, Scope.PROFILES_READ, Scope.WHITELIST_READ],
    )
    chosen = [
        LoadAccount(
            id=link.account_id,
            platform=link.account.platform,
            platform_uid=link.account.platform_uid,
            miniprogram=link.miniprogram_id,
            limit=link.account.whitelist_entry.share_limit_per_hour,
            used_before=used.get(link.account_id, 0),
        )
        for link in links
    ]
    return chosen, secret


def _request(kind: str, account: LoadAccount, secret: str) -> tuple[str, str, str | None]:
    platform, uid = quote(account.platform, safe=""), quote(account.platform_uid, safe="")
    if kind == "profile":
        return "GET", f"/api/v1/profiles/{platform}/{uid}/miniprograms/", None
    if kind == "lookup":
        return "GET", f"/api/v1/whitelist/{platform}/{uid}/", None
    return "POST", f"/api/v1/miniprograms/{account.miniprogram}/shares/", json.dumps({"account": account.id})


def run_load(
    base_url: str,
    load_accounts: list[LoadAccount],
    secret: str,
    *,
    seconds: float = 60,
    rate: float = 60,
    clients: int = 8,
    seed: int = 1,
) -> LoadResult:
    """Send `rate` requests a second for `seconds` from `clients` threads, on a fixed schedule."""
    from miniprograms.quota import WINDOW, window_start

    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    total = int(seconds * rate)
    rng = random.Random(seed)  # noqa: S311 - a reproducible request mix, not a secret
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    plan = [(rng.choice(kinds), rng.choice(load_accounts)) for _ in range(total)]
    result = LoadResult(seconds=seconds)
    granted: Counter[tuple[int, str]] = Counter()  # (account, window) -> 201s
    lock = threading.Lock()
    cursor = iter(range(total))
    headers = {"Authorization": f"Api-Key {secret}", "Content-Type": "application/json"}
    start = time.monotonic() + 0.5

    def client() -> None:
        try:
            send_all()
        except Exception as exc:  # a bug of the load test itself: stop counting, say so
            with lock:
                result.connection_errors.append(f"client thread failed: {exc!r}")

    def send_all() -> None:
        while True:
            with lock:
                number = next(cursor, None)
            if number is None:
                return
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind, account = plan[number]
            method, path, body = _request(kind, account, secret)
            sent = time.perf_counter()
            connection = http.client.HTTPConnection(host, port, timeout=30)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    result.connection_errors.append(f"{method} {path}: {exc!r}")
                continue
            finally:
                connection.close()
            elapsed_ms = (time.perf_counter() - sent) * 1000
            with lock:
                result.requests += 1
                result.statuses[(kind, status)] += 1
                result.latencies_ms.append(elapsed_ms)
                if kind == "share" and status == 201:
                    result.granted += 1
                    # The hour of the grant: the quota it answers with resets at its end.
                    granted[(account.id, json.loads(payload)["quota"]["resets_at"])] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    result.seconds = max(time.monotonic() - began, 0.001)

    first_window = window_start(
        datetime.fromtimestamp(time.time() - result.seconds, tz=window_start().tzinfo)
    )
    by_id = {account.id: account for account in load_accounts}
    for (account_id, resets_at), count in granted.items():
        account = by_id[account_id]
        window = datetime.fromisoformat(resets_at.replace("Z", "+00:00")) - WINDOW
        allowed = account.limit - (account.used_before if window == first_window else 0)
        result.over_grants += max(0, count - max(allowed, 0))
    result.database_over_limit = database_over_limit(load_accounts)
    return result


def database_over_limit(load_accounts: list[LoadAccount]) -> int:
    """Shares recorded beyond the limit, per account and hour, for the test's accounts."""
    from django.db.models import Count

    from miniprograms.models import Share

    limits = {account.id: account.limit for account in load_accounts}
    over = 0
    rows = (
        Share.objects.filter(account_id__in=limits)
        .values("account_id", "window_start")
        .annotate(count=Count("id"))
        .values_list("account_id", "count")
    )
    for account_id, count in rows:
        over += max(0, count - limits[account_id])
    return over


def measure_load(
    env: Mapping[str, str], *, seconds: float = 60, rate: float = 60, accounts: int = 20
) -> LoadResult:
    """gunicorn with `env`, the load, and the checks (Django set up on the same database)."""
    from benchmarks.gunicorn_server import gunicorn_server

    load_accounts, secret = prepare_load(accounts=accounts)
    with gunicorn_server(env) as server:
        return run_load(server.base_url, load_accounts, secret, seconds=seconds, rate=rate)


def as_dict(result: LoadResult) -> dict[str, Any]:
    """For a report: the counts that decide whether the test passed."""
    return {
        "requests": result.requests,
        "server_errors": result.server_errors,
        "connection_errors": len(result.connection_errors),
        "unexpected": result.unexpected,
        "over_grants": result.over_grants,
        "database_over_limit": result.database_over_limit,
    }
