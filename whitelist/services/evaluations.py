"""The criteria run on an application: its facts, the policy's rules, and the evaluation kept."""

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, User
from portal.transitions import invalid_transition

from ..constants import Recommendation
from ..criteria import CriterionResult, Facts, Rules, evaluate, failing_required
from ..models import (
    EDITABLE_APPLICATION_STATES,
    ApplicationState,
    CriteriaPolicy,
    Evaluation,
    EvaluationTrigger,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
)
from ..permissions import ensure_applicant
from ..selectors import policy_active
from .locks import application_locked, application_locked_with_account


def rules_of(policy: CriteriaPolicy) -> Rules:
    return Rules(
        version=policy.version,
        open_verticals=frozenset(vertical.code for vertical in policy.open_verticals.all()),
        min_followers=policy.min_followers,
        min_dev_team_size=policy.min_dev_team_size,
        min_user_services=policy.min_user_services,
        support_channel_required=policy.support_channel_required,
        required_criteria=frozenset(policy.required_criteria),
    )


def facts_of(
    application: WhitelistApplication,
    *,
    now: datetime | None = None,
    attachment_count: int | None = None,
    last_revoked_at: datetime | Literal[False] | None = False,
) -> Facts:
    """The facts of an application; a caller that loaded counts in bulk passes them in."""
    account = application.account
    if last_revoked_at is False:
        entry = WhitelistEntry.objects.filter(account=account).only("revoked_at").first()
        last_revoked_at = entry.revoked_at if entry else None
    if attachment_count is None:
        attachment_count = application.attachments.count()
    return Facts(
        account_verified=account.is_verified,
        vertical_code=account.vertical.code,
        vertical_name=str(account.vertical.name),
        followers_count=account.followers_count,
        has_in_house_team=application.has_in_house_team,
        dev_team_size=application.dev_team_size,
        self_developed_products=list(application.self_developed_products or []),
        services=list(application.services or []),
        support_channels=list(application.support_channels or []),
        attachment_count=attachment_count,
        last_revoked_at=last_revoked_at,
        now=now or timezone.now(),
    )


def evaluation_create(
    *, application: WhitelistApplication, trigger: EvaluationTrigger
) -> tuple[Evaluation, list[CriterionResult]]:
    """Run the active policy's criteria on the application as it is now and keep the result with the
    facts it read; also return the required criteria that fail."""
    policy = policy_active()
    rules = rules_of(policy)
    facts = facts_of(application)
    # The reasons are kept as words: in the site's default language whoever's request runs this, so that
    # every evaluation reads alike in the admin and the API.
    with translation.override(settings.LANGUAGE_CODE):
        results, recommendation = evaluate(facts, rules)
    evaluation = Evaluation.objects.create(
        application=application,
        policy=policy,
        results=[result.as_dict() for result in results],
        recommendation=recommendation,
        trigger=trigger,
        facts=facts.as_dict(),
    )
    return evaluation, failing_required(results, rules)


@transaction.atomic
def application_evaluate(*, actor: User, application: WhitelistApplication) -> Evaluation:
    """Run the criteria now and keep the result.

    An applicant checks a draft, or an application under change request, before sending it; the check
    never stands for a submitted application. Staff (outside the organization) re-evaluate an application
    in any state: the result becomes the one shown with it, and the timeline records who ran it.
    """
    if (
        actor.is_staff
        and not Membership.objects.filter(user=actor, organization_id=application.organization_id).exists()
    ):
        application = application_locked_with_account(application)
        evaluation, _failing = evaluation_create(application=application, trigger=EvaluationTrigger.STAFF)
        with translation.override(settings.LANGUAGE_CODE):
            message = _("Re-evaluated now: %(recommendation)s under criteria version %(version)d.") % {
                "recommendation": Recommendation(evaluation.recommendation).label,
                "version": evaluation.policy.version,
            }
        ReviewEvent.objects.create(
            application=application,
            actor=actor,
            message=message,
            visible_to_applicant=False,
            evaluation=evaluation,
        )
        return evaluation
    ensure_applicant(user=actor, application_or_account=application)
    application = application_locked(application)
    if application.state not in EDITABLE_APPLICATION_STATES:
        raise invalid_transition(
            _("This application is %(state)s; eligibility is checked while it can still be edited.")
            % {"state": str(ApplicationState(application.state).label).lower()}
        )
    evaluation, _failing = evaluation_create(application=application, trigger=EvaluationTrigger.APPLICANT)
    return evaluation
