"""The whitelist criteria: pure functions of the facts of an application and a policy's rules."""

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .constants import GOOD_STANDING_DAYS, Criterion, Outcome, Recommendation


@dataclass(frozen=True)
class Facts:
    """Everything the criteria read about one application, loaded once."""

    account_verified: bool
    vertical_code: str
    vertical_name: str
    followers_count: int
    has_in_house_team: bool
    dev_team_size: int
    self_developed_products: Sequence[dict[str, str]]
    services: Sequence[str]
    support_channels: Sequence[str]
    attachment_count: int
    last_revoked_at: datetime | None
    now: datetime

    def as_dict(self) -> dict[str, Any]:
        """The facts as JSON values, kept with an evaluation so a reviewer sees what was true then."""
        values = asdict(self)
        for name in ("last_revoked_at", "now"):
            values[name] = values[name].isoformat() if values[name] is not None else None
        return values


@dataclass(frozen=True)
class Rules:
    """The thresholds of one policy version."""

    version: int
    open_verticals: frozenset[str]
    min_followers: int
    min_dev_team_size: int
    min_user_services: int
    support_channel_required: bool
    required_criteria: frozenset[str] = field(default_factory=lambda: frozenset(Criterion.values))


@dataclass(frozen=True)
class CriterionResult:
    criterion: str
    outcome: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def verified_account(facts: Facts, rules: Rules) -> CriterionResult:
    if facts.account_verified:
        return CriterionResult(
            Criterion.VERIFIED_ACCOUNT, Outcome.PASS, _("The account is verified by platform staff.")
        )
    return CriterionResult(
        Criterion.VERIFIED_ACCOUNT,
        Outcome.FAIL,
        _("The account is not verified yet; platform staff must verify it first."),
    )


def open_vertical(facts: Facts, rules: Rules) -> CriterionResult:
    if facts.vertical_code in rules.open_verticals:
        return CriterionResult(
            Criterion.OPEN_VERTICAL,
            Outcome.PASS,
            _("The programme is open to the %(vertical)s vertical.") % {"vertical": facts.vertical_name},
        )
    return CriterionResult(
        Criterion.OPEN_VERTICAL,
        Outcome.FAIL,
        _("The programme is not open to the %(vertical)s vertical yet.") % {"vertical": facts.vertical_name},
    )


def audience(facts: Facts, rules: Rules) -> CriterionResult:
    values = {"followers": f"{facts.followers_count:,}", "minimum": f"{rules.min_followers:,}"}
    if facts.followers_count >= rules.min_followers:
        return CriterionResult(
            Criterion.AUDIENCE,
            Outcome.PASS,
            _("The account has %(followers)s followers; the minimum is %(minimum)s.") % values,
        )
    return CriterionResult(
        Criterion.AUDIENCE,
        Outcome.FAIL,
        _("The account has %(followers)s followers, fewer than the minimum of %(minimum)s.") % values,
    )


def independent_development(facts: Facts, rules: Rules) -> CriterionResult:
    if not facts.has_in_house_team:
        return CriterionResult(
            Criterion.INDEPENDENT_DEVELOPMENT,
            Outcome.FAIL,
            _("No in-house development team was declared; the programme needs one."),
        )
    if facts.dev_team_size < rules.min_dev_team_size:
        return CriterionResult(
            Criterion.INDEPENDENT_DEVELOPMENT,
            Outcome.FAIL,
            ngettext(
                "The in-house team has %(size)d developer; at least %(minimum)d are needed.",
                "The in-house team has %(size)d developers; at least %(minimum)d are needed.",
                facts.dev_team_size,
            )
            % {"size": facts.dev_team_size, "minimum": rules.min_dev_team_size},
        )
    if not facts.self_developed_products:
        return CriterionResult(
            Criterion.INDEPENDENT_DEVELOPMENT,
            Outcome.FAIL,
            _("No self-developed app, mini program or site was listed."),
        )
    if facts.attachment_count:
        # Documents cannot be judged by a rule: a reviewer must read them.
        return CriterionResult(
            Criterion.INDEPENDENT_DEVELOPMENT,
            Outcome.NEEDS_REVIEW,
            _("The team and products meet the rule; a reviewer will check the attached evidence."),
        )
    return CriterionResult(
        Criterion.INDEPENDENT_DEVELOPMENT,
        Outcome.PASS,
        _("An in-house team of %(size)d with %(products)d self-developed product(s).")
        % {"size": facts.dev_team_size, "products": len(facts.self_developed_products)},
    )


def user_services(facts: Facts, rules: Rules) -> CriterionResult:
    count = len(set(facts.services))
    if count < rules.min_user_services:
        return CriterionResult(
            Criterion.USER_SERVICES,
            Outcome.FAIL,
            _(
                "%(count)d user-facing service(s) listed; at least %(minimum)d needed "
                "(advertising alone is not one)."
            )
            % {"count": count, "minimum": rules.min_user_services},
        )
    if rules.support_channel_required and not facts.support_channels:
        return CriterionResult(
            Criterion.USER_SERVICES,
            Outcome.FAIL,
            _("A support channel (hotline, online service, email) is required."),
        )
    return CriterionResult(
        Criterion.USER_SERVICES,
        Outcome.PASS,
        _("%(count)d user-facing service(s) offered.") % {"count": count},
    )


def good_standing(facts: Facts, rules: Rules) -> CriterionResult:
    if facts.last_revoked_at is not None and facts.last_revoked_at > facts.now - timedelta(
        days=GOOD_STANDING_DAYS
    ):
        return CriterionResult(
            Criterion.GOOD_STANDING,
            Outcome.FAIL,
            _("The account's whitelisting was revoked on %(date)s, less than %(days)d days ago.")
            # Kept with the evaluation and read alike by all: the date in the merchants' zone.
            % {
                "date": timezone.localdate(
                    facts.last_revoked_at, ZoneInfo(settings.MERCHANT_TIME_ZONE)
                ).isoformat(),
                "days": GOOD_STANDING_DAYS,
            },
        )
    return CriterionResult(
        Criterion.GOOD_STANDING,
        Outcome.PASS,
        _("No whitelisting of this account was revoked in the last %(days)d days.")
        % {"days": GOOD_STANDING_DAYS},
    )


CRITERIA: tuple[Callable[[Facts, Rules], CriterionResult], ...] = (
    verified_account,
    open_vertical,
    audience,
    independent_development,
    user_services,
    good_standing,
)


def failing_required(results: Sequence[CriterionResult], rules: Rules) -> list[CriterionResult]:
    """The results that make an application ineligible: required criteria that fail."""
    return [r for r in results if r.outcome == Outcome.FAIL and r.criterion in rules.required_criteria]


def evaluate(facts: Facts, rules: Rules) -> tuple[list[CriterionResult], str]:
    """Every criterion's result and the overall recommendation."""
    results = [criterion(facts, rules) for criterion in CRITERIA]
    if failing_required(results, rules):
        return results, Recommendation.INELIGIBLE
    if any(r.outcome == Outcome.NEEDS_REVIEW for r in results):
        return results, Recommendation.NEEDS_REVIEW
    return results, Recommendation.ELIGIBLE
