"""Reads of policies, applications, events and whitelist entries, scoped to who asks."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import MANAGING_ROLES, OfficialAccount, Organization, User
from accounts.selectors import (
    EMAIL_SWEEP_BATCH,
    EMAIL_SWEEP_GRACE,
    EMAIL_SWEEP_HORIZON,
    organization_ids_of,
    organization_list_managed_by,
)
from portal.email_claims import email_claimable

from .constants import NOTIFIED_ENTRY_ACTIONS
from .models import (
    EDITABLE_APPLICATION_STATES,
    EVALUATION_TRIGGERS_OF_RECORD,
    OPEN_APPLICATION_STATES,
    ApplicationState,
    CriteriaPolicy,
    EntryState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

# The attribute with_latest_evaluation fills: a list of at most one evaluation, the newest.
LATEST_EVALUATION_ATTR = "prefetched_latest_evaluation"


def policy_active() -> CriteriaPolicy:
    """The one active policy (a data migration creates version 1)."""
    return CriteriaPolicy.objects.prefetch_related("open_verticals").get(is_active=True)


def application_list_visible_to(*, user: User, state: str = "") -> QuerySet[WhitelistApplication]:
    applications = WhitelistApplication.objects.select_related("account", "account__vertical", "organization")
    if not user.is_staff:
        applications = applications.filter(organization__in=organization_ids_of(user=user))
    if state:
        applications = applications.filter(state=state)
    return applications.order_by("-id")


def evaluations_shown() -> QuerySet[Evaluation]:
    """The evaluations that may speak for their application, wherever one is shown or filtered on.

    Those taken at submission or resubmission, run by staff, or at a decision; an applicant's own check
    only while the application can still change, so a check run after submission (with figures changed
    meanwhile) never stands for it.
    """
    return Evaluation.objects.filter(
        Q(trigger__in=EVALUATION_TRIGGERS_OF_RECORD) | Q(application__state__in=EDITABLE_APPLICATION_STATES)
    )


def evaluation_shown(*, application: WhitelistApplication) -> Evaluation | None:
    """The newest evaluation shown with the application, or None."""
    return (
        evaluations_shown().filter(application=application).select_related("policy").order_by("-id").first()
    )


def with_latest_evaluation(
    applications: QuerySet[WhitelistApplication],
) -> QuerySet[WhitelistApplication]:
    """Fetch each application's evaluation shown, with its policy, in one more query for the whole page."""
    return applications.prefetch_related(
        Prefetch(
            "evaluations",
            queryset=evaluations_shown().select_related("policy").order_by("-id")[:1],
            to_attr=LATEST_EVALUATION_ATTR,
        )
    )


def application_events_visible_to(*, user: User, application: WhitelistApplication) -> QuerySet[ReviewEvent]:
    events = application.events.select_related("actor", "reason_code").order_by("id")
    if user.is_staff:
        return events
    return events.filter(visible_to_applicant=True)


def whitelist_entry_list_visible_to(*, user: User, account_id: int | None = None) -> QuerySet[WhitelistEntry]:
    entries = WhitelistEntry.objects.select_related("account", "account__organization")
    if not user.is_staff:
        entries = entries.filter(account__organization__in=organization_ids_of(user=user))
    if account_id is not None:
        entries = entries.filter(account_id=account_id)
    return entries.order_by("-id")


def review_event_ids_awaiting_email(*, now: datetime | None = None) -> list[int]:
    """Recent transitions and notes the applicant sees whose email was never sent."""
    now = now or timezone.now()
    return list(
        ReviewEvent.objects.filter(
            email_claimable(claimed_field="notify_claimed_at", sent_field="notified_at", now=now),
            visible_to_applicant=True,
            created_at__lte=now - EMAIL_SWEEP_GRACE,
            created_at__gt=now - EMAIL_SWEEP_HORIZON,
        )
        # A new draft is not told to anyone.
        .exclude(to_state=ApplicationState.DRAFT)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:EMAIL_SWEEP_BATCH]
    )


def entry_event_ids_awaiting_email(*, now: datetime | None = None) -> list[int]:
    """Recent entry events the organization is emailed about whose email was never sent."""
    now = now or timezone.now()
    return list(
        WhitelistEntryEvent.objects.filter(
            email_claimable(claimed_field="notify_claimed_at", sent_field="notified_at", now=now),
            action__in=NOTIFIED_ENTRY_ACTIONS,
            created_at__lte=now - EMAIL_SWEEP_GRACE,
            created_at__gt=now - EMAIL_SWEEP_HORIZON,
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:EMAIL_SWEEP_BATCH]
    )


def account_whitelist_dependents(account: OfficialAccount) -> list[str]:
    """What of the whitelist hangs on the account: open applications, an active or suspended entry."""
    dependents = []
    open_applications = WhitelistApplication.objects.filter(
        account_id=account.pk, state__in=OPEN_APPLICATION_STATES
    ).count()
    if open_applications:
        dependents.append(
            ngettext(
                "%(count)d open whitelist application",
                "%(count)d open whitelist applications",
                open_applications,
            )
            % {"count": open_applications}
        )
    entry_state = (
        WhitelistEntry.objects.filter(
            account_id=account.pk, state__in=[EntryState.ACTIVE, EntryState.SUSPENDED]
        )
        .values_list("state", flat=True)
        .first()
    )
    if entry_state is not None:
        dependents.append(_("a whitelist entry that is %(state)s") % {"state": EntryState(entry_state).label})
    return dependents


def organization_list_applicant_for(*, user: User) -> QuerySet[Organization]:
    """The organizations the user may apply for: those they manage (for staff, only as owner or admin)."""
    organizations = organization_list_managed_by(user=user)
    if user.is_staff:
        # Staff review applications; they apply only for an organization they own or administer.
        organizations = organizations.filter(memberships__user=user, memberships__role__in=MANAGING_ROLES)
    return organizations


def official_account_list_open_for_application(
    *, organizations: QuerySet[Organization]
) -> QuerySet[OfficialAccount]:
    """The accounts of these organizations without an open application, by name."""
    return (
        OfficialAccount.objects.filter(organization__in=organizations)
        .exclude(applications__state__in=OPEN_APPLICATION_STATES)
        .select_related("organization")
        .order_by("screen_name", "id")
    )
