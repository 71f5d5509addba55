"""The whitelist criteria and the recommendation rule: pure functions, no database."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whitelist import criteria
from whitelist.constants import GOOD_STANDING_DAYS, Criterion, Outcome, Recommendation, UserService
from whitelist.criteria import Facts, Rules, evaluate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PRODUCT = {"name": "Order app", "url": "https://apps.example.com/order"}

RULES = Rules(
    version=1,
    open_verticals=frozenset({"government", "commerce", "food_beverage", "retail"}),
    min_followers=100_000,
    min_dev_team_size=3,
    min_user_services=1,
    support_channel_required=True,
)

# Facts that pass every criterion of RULES; each test changes what it is about.
PASSING = Facts(
    account_verified=True,
    vertical_code="food_beverage",
    vertical_name="Food and beverage",
    followers_count=250_000,
    has_in_house_team=True,
    dev_team_size=8,
    self_developed_products=[PRODUCT],
    services=["ordering", "payment"],
    support_channels=["400-800-1234"],
    attachment_count=0,
    last_revoked_at=None,
    now=NOW,
)

FAST = settings(max_examples=200, deadline=None)


def facts(**changes: object) -> Facts:
    return replace(PASSING, **changes)


def rules(**changes: object) -> Rules:
    return replace(RULES, **changes)


# Each criterion, with the reason the applicant reads


def test_evaluate__all_facts_meet_the_rules__every_criterion_passes_and_is_eligible():
    results, recommendation = evaluate(PASSING, RULES)
    assert [r.criterion for r in results] == list(Criterion.values)
    assert {r.outcome for r in results} == {Outcome.PASS}
    assert recommendation == Recommendation.ELIGIBLE


def test_verified_account__verified__passes():
    result = criteria.verified_account(PASSING, RULES)
    assert (result.criterion, result.outcome) == (Criterion.VERIFIED_ACCOUNT, Outcome.PASS)
    assert result.reason == "The account is verified by platform staff."


def test_verified_account__not_verified__fails_saying_staff_must_verify():
    result = criteria.verified_account(facts(account_verified=False), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "The account is not verified yet; platform staff must verify it first."


def test_open_vertical__open__passes_naming_the_vertical():
    result = criteria.open_vertical(PASSING, RULES)
    assert (result.criterion, result.outcome) == (Criterion.OPEN_VERTICAL, Outcome.PASS)
    assert result.reason == "The programme is open to the Food and beverage vertical."


def test_open_vertical__not_open__fails_naming_the_vertical():
    result = criteria.open_vertical(facts(vertical_code="finance", vertical_name="Finance"), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "The programme is not open to the Finance vertical yet."


def test_audience__enough_followers__passes_with_both_numbers():
    result = criteria.audience(PASSING, RULES)
    assert (result.criterion, result.outcome) == (Criterion.AUDIENCE, Outcome.PASS)
    assert result.reason == "The account has 250,000 followers; the minimum is 100,000."


def test_audience__one_follower_short__fails_with_both_numbers():
    result = criteria.audience(facts(followers_count=99_999), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "The account has 99,999 followers, fewer than the minimum of 100,000."


def test_independent_development__team_and_products__passes_counting_them():
    result = criteria.independent_development(PASSING, RULES)
    assert (result.criterion, result.outcome) == (Criterion.INDEPENDENT_DEVELOPMENT, Outcome.PASS)
    assert result.reason == "An in-house team of 8 with 1 self-developed product(s)."


def test_independent_development__no_team__fails_asking_for_one():
    result = criteria.independent_development(facts(has_in_house_team=False, dev_team_size=0), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "No in-house development team was declared; the programme needs one."


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        (1, "The in-house team has 1 developer; at least 3 are needed."),
        (2, "The in-house team has 2 developers; at least 3 are needed."),
    ],
)
def test_independent_development__team_too_small__fails_with_size_and_minimum(size, reason):
    result = criteria.independent_development(facts(dev_team_size=size), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == reason


def test_independent_development__no_products__fails_asking_for_them():
    result = criteria.independent_development(facts(self_developed_products=[]), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "No self-developed app, mini program or site was listed."


def test_independent_development__attachments__needs_a_reviewer():
    result = criteria.independent_development(facts(attachment_count=2), RULES)
    assert result.outcome == Outcome.NEEDS_REVIEW
    assert (
        result.reason == "The team and products meet the rule; a reviewer will check the attached evidence."
    )


def test_user_services__services_and_channel__passes_counting_distinct_services():
    result = criteria.user_services(facts(services=["ordering", "payment", "ordering"]), RULES)
    assert (result.criterion, result.outcome) == (Criterion.USER_SERVICES, Outcome.PASS)
    assert result.reason == "2 user-facing service(s) offered."


def test_user_services__none__fails_saying_advertising_is_not_a_service():
    result = criteria.user_services(facts(services=[]), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == (
        "0 user-facing service(s) listed; at least 1 needed (advertising alone is not one)."
    )


def test_user_services__duplicates_below_minimum__fail():
    result = criteria.user_services(facts(services=["ordering", "ordering"]), rules(min_user_services=2))
    assert result.outcome == Outcome.FAIL
    assert result.reason.startswith("1 user-facing service(s) listed; at least 2 needed")


def test_user_services__no_support_channel_when_required__fails_asking_for_one():
    result = criteria.user_services(facts(support_channels=[]), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "A support channel (hotline, online service, email) is required."


def test_user_services__no_support_channel_when_not_required__passes():
    result = criteria.user_services(facts(support_channels=[]), rules(support_channel_required=False))
    assert result.outcome == Outcome.PASS


def test_good_standing__never_revoked__passes():
    result = criteria.good_standing(PASSING, RULES)
    assert (result.criterion, result.outcome) == (Criterion.GOOD_STANDING, Outcome.PASS)
    assert result.reason == "No whitelisting of this account was revoked in the last 180 days."


def test_good_standing__revoked_recently__fails_with_date_and_period():
    result = criteria.good_standing(facts(last_revoked_at=NOW - timedelta(days=30)), RULES)
    assert result.outcome == Outcome.FAIL
    assert result.reason == "The account's whitelisting was revoked on 2026-05-02, less than 180 days ago."


def test_good_standing__revoked_exactly_the_period_ago__passes():
    result = criteria.good_standing(facts(last_revoked_at=NOW - timedelta(days=GOOD_STANDING_DAYS)), RULES)
    assert result.outcome == Outcome.PASS


# Thresholds, for any value

followers = st.integers(min_value=0, max_value=10**10)
team_sizes = st.integers(min_value=0, max_value=500)
products = st.lists(st.just(PRODUCT), max_size=3)
attachments = st.integers(min_value=0, max_value=20)
service_lists = st.lists(st.sampled_from(UserService.values), max_size=12)
channels = st.lists(st.sampled_from(["400-800-1234", "help@shop.example", "online chat"]), max_size=3)


@FAST
@given(count=followers, minimum=followers)
def test_audience__any_numbers__passes_iff_followers_reach_the_minimum(count, minimum):
    result = criteria.audience(facts(followers_count=count), rules(min_followers=minimum))
    assert result.outcome == (Outcome.PASS if count >= minimum else Outcome.FAIL)


@FAST
@given(
    minimum=st.integers(min_value=1, max_value=500),
    data=st.data(),
    listed=products,
    attached=attachments,
)
def test_independent_development__below_minimum_team__always_fails(minimum, data, listed, attached):
    size = data.draw(st.integers(min_value=0, max_value=minimum - 1))
    result = criteria.independent_development(
        facts(
            has_in_house_team=size > 0,
            dev_team_size=size,
            self_developed_products=listed,
            attachment_count=attached,
        ),
        rules(min_dev_team_size=minimum),
    )
    assert result.outcome == Outcome.FAIL


@FAST
@given(minimum=st.integers(min_value=0, max_value=500), listed=products, attached=attachments)
def test_independent_development__without_team__always_fails(minimum, listed, attached):
    result = criteria.independent_development(
        facts(
            has_in_house_team=False,
            dev_team_size=0,
            self_developed_products=listed,
            attachment_count=attached,
        ),
        rules(min_dev_team_size=minimum),
    )
    assert result.outcome == Outcome.FAIL


@FAST
@given(size=team_sizes, attached=attachments)
def test_independent_development__without_products__always_fails(size, attached):
    result = criteria.independent_development(
        facts(dev_team_size=size, self_developed_products=[], attachment_count=attached),
        rules(min_dev_team_size=0),
    )
    assert result.outcome == Outcome.FAIL


@FAST
@given(minimum=team_sizes, extra=team_sizes, listed=products.filter(bool), attached=attachments)
def test_independent_development__team_and_products_enough__needs_review_iff_attachments(
    minimum, extra, listed, attached
):
    result = criteria.independent_development(
        facts(dev_team_size=minimum + extra, self_developed_products=listed, attachment_count=attached),
        rules(min_dev_team_size=minimum),
    )
    assert result.outcome == (Outcome.NEEDS_REVIEW if attached > 0 else Outcome.PASS)


@FAST
@given(
    offered=service_lists,
    minimum=st.integers(min_value=0, max_value=len(UserService.values) + 1),
    support=channels,
    channel_required=st.booleans(),
)
def test_user_services__any_lists__pass_iff_enough_distinct_services_and_channel_when_required(
    offered, minimum, support, channel_required
):
    result = criteria.user_services(
        facts(services=offered, support_channels=support),
        rules(min_user_services=minimum, support_channel_required=channel_required),
    )
    enough = len(set(offered)) >= minimum
    reachable = bool(support) or not channel_required
    assert result.outcome == (Outcome.PASS if enough and reachable else Outcome.FAIL)


@FAST
@given(
    revoked_seconds_ago=st.one_of(
        st.none(), st.integers(min_value=-86_400, max_value=2 * GOOD_STANDING_DAYS * 86_400)
    )
)
def test_good_standing__any_revocation__fails_iff_within_the_period(revoked_seconds_ago):
    revoked_at = None if revoked_seconds_ago is None else NOW - timedelta(seconds=revoked_seconds_ago)
    result = criteria.good_standing(facts(last_revoked_at=revoked_at), RULES)
    recent = revoked_seconds_ago is not None and revoked_seconds_ago < GOOD_STANDING_DAYS * 86_400
    assert result.outcome == (Outcome.FAIL if recent else Outcome.PASS)


# The recommendation

# For each criterion, the facts that give each outcome it can give.
OUTCOME_FACTS: dict[str, dict[str, dict[str, object]]] = {
    Criterion.VERIFIED_ACCOUNT: {Outcome.PASS: {}, Outcome.FAIL: {"account_verified": False}},
    Criterion.OPEN_VERTICAL: {
        Outcome.PASS: {},
        Outcome.FAIL: {"vertical_code": "finance", "vertical_name": "Finance"},
    },
    Criterion.AUDIENCE: {Outcome.PASS: {}, Outcome.FAIL: {"followers_count": 10}},
    Criterion.INDEPENDENT_DEVELOPMENT: {
        Outcome.PASS: {},
        Outcome.FAIL: {"self_developed_products": []},
        Outcome.NEEDS_REVIEW: {"attachment_count": 1},
    },
    Criterion.USER_SERVICES: {Outcome.PASS: {}, Outcome.FAIL: {"services": []}},
    Criterion.GOOD_STANDING: {Outcome.PASS: {}, Outcome.FAIL: {"last_revoked_at": NOW - timedelta(days=1)}},
}


@st.composite
def outcome_combinations(draw: st.DrawFn) -> dict[str, str]:
    return {
        criterion: draw(st.sampled_from(sorted(outcomes))) for criterion, outcomes in OUTCOME_FACTS.items()
    }


@FAST
@given(wanted=outcome_combinations(), required=st.frozensets(st.sampled_from(Criterion.values)))
def test_evaluate__any_outcomes__ineligible_iff_a_required_fails_else_review_else_eligible(wanted, required):
    changes: dict[str, object] = {}
    for criterion, outcome in wanted.items():
        changes.update(OUTCOME_FACTS[criterion][outcome])

    results, recommendation = evaluate(facts(**changes), rules(required_criteria=required))

    assert {r.criterion: r.outcome for r in results} == wanted
    if any(outcome == Outcome.FAIL and criterion in required for criterion, outcome in wanted.items()):
        assert recommendation == Recommendation.INELIGIBLE
    elif Outcome.NEEDS_REVIEW in wanted.values():
        assert recommendation == Recommendation.NEEDS_REVIEW
    else:
        assert recommendation == Recommendation.ELIGIBLE


def test_evaluate__failing_criterion_not_required__is_still_eligible():
    required = frozenset(Criterion.values) - {Criterion.AUDIENCE}
    results, recommendation = evaluate(facts(followers_count=10), rules(required_criteria=required))
    assert {r.criterion: r.outcome for r in results}[Criterion.AUDIENCE] == Outcome.FAIL
    assert recommendation == Recommendation.ELIGIBLE


def test_evaluate__failing_criterion_not_required_and_attachments__needs_review():
    required = frozenset(Criterion.values) - {Criterion.GOOD_STANDING}
    _, recommendation = evaluate(
        facts(last_revoked_at=NOW - timedelta(days=1), attachment_count=1), rules(required_criteria=required)
    )
    assert recommendation == Recommendation.NEEDS_REVIEW


def test_evaluate__required_failure_and_attachments__is_ineligible():
    _, recommendation = evaluate(facts(account_verified=False, attachment_count=1), RULES)
    assert recommendation == Recommendation.INELIGIBLE
