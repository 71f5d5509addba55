"""Every write of the whitelist: applications and their transitions, evaluations, entries, policies.

Row locks, in the one order every service here takes them (and miniprograms/services.py, which takes
the account before its links and reads entries without locking them):

    official account → application → whitelist entry;  criteria policy rows on their own.

Every lock is ``select_for_update(of=("self",))``: a joined row (the account's vertical, the entry's
account) is read, never locked. No file is written while a row is locked: an upload is stored first
and its row created after, in a short transaction.
"""

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import MANAGING_ROLES, Membership, OfficialAccount, User
from accounts.permissions import ensure_staff
from accounts.profile_cache import profile_forget_accounts
from integrations.models import WebhookEvent
from integrations.services import webhook_endpoints_exist, webhook_event_emit
from portal.errors import Conflict, Forbidden
from portal.uploads import upload_check

from .constants import NOTIFIED_ENTRY_ACTIONS, Criterion, Recommendation, UserService
from .criteria import CriterionResult, Facts, Rules, evaluate, failing_required
from .models import (
    EDITABLE_APPLICATION_STATES,
    OPEN_APPLICATION_STATES,
    ApplicationAttachment,
    ApplicationState,
    AttachmentContentType,
    CriteriaPolicy,
    EntryState,
    Evaluation,
    EvaluationTrigger,
    PolicyPreview,
    PreviewStatus,
    ReasonCode,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
    attachment_path,
)
from .selectors import policy_active

EVIDENCE_FIELDS = (
    "has_in_house_team",
    "dev_team_size",
    "self_developed_products",
    "services",
    "support_channels",
    "after_sales_policy",
    "description",
)
EDITABLE_STATES = EDITABLE_APPLICATION_STATES
OVERRIDE_CRITERIA_PERMISSION = "whitelist.override_criteria"


# Who may act


def ensure_applicant(*, user: User, application_or_account: WhitelistApplication | OfficialAccount) -> None:
    """Owners and admins of the applicant organization act on its applications; staff do not."""
    organization_id = application_or_account.organization_id
    if not Membership.objects.filter(
        user=user,
        organization_id=organization_id,
        role__in=MANAGING_ROLES,
    ).exists():
        raise Forbidden(_("Only the owners and admins of the applicant organization can do this."))


def ensure_reviewer(*, user: User, application: WhitelistApplication) -> None:
    """Staff decide, except on an application of an organization they belong to."""
    ensure_staff(user=user)
    if Membership.objects.filter(user=user, organization_id=application.organization_id).exists():
        raise Forbidden(_("You belong to the applicant organization, so another reviewer must decide."))


def can_override_criteria(*, user: User) -> bool:
    """Staff holding the dedicated permission may approve past a failed required criterion."""
    return bool(user.is_staff and user.is_active and user.has_perm(OVERRIDE_CRITERIA_PERMISSION))


# Evidence


def _clean_evidence(
    data: Mapping[str, Any], *, current: WhitelistApplication | None = None
) -> dict[str, Any]:
    """Check the evidence; the API and the forms check types, this checks the rules between fields."""
    unknown = set(data) - set(EVIDENCE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    merged = {name: getattr(current, name) for name in EVIDENCE_FIELDS} if current else {}
    merged.update(data)
    errors: dict[str, list[str]] = {}
    has_team = bool(merged.get("has_in_house_team", False))
    team_size = merged.get("dev_team_size", 0) or 0
    if not has_team and team_size:
        errors["dev_team_size"] = [_("Declare an in-house team before giving its size.")]
    if has_team and team_size < 1:
        errors["dev_team_size"] = [_("An in-house team has at least one developer.")]
    unknown_services = sorted(set(merged.get("services", [])) - set(UserService.values))
    if unknown_services:
        errors["services"] = [_("Unknown services: %(names)s.") % {"names": ", ".join(unknown_services)}]
    if errors:
        raise ValidationError(errors)
    return dict(data)


@transaction.atomic
def application_create(
    *, actor: User, account: OfficialAccount, data: Mapping[str, Any]
) -> WhitelistApplication:
    """Start a draft application for an account; one open application per account."""
    ensure_applicant(user=actor, application_or_account=account)
    evidence = _clean_evidence(data)
    # Locked and read again: a staff move of the account (accounts' official_account_update, which
    # refuses while an application is open) either sees this application or is seen by it.
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    ensure_applicant(user=actor, application_or_account=account)
    open_application = WhitelistApplication.objects.filter(
        account=account, state__in=OPEN_APPLICATION_STATES
    ).first()
    if open_application is not None:
        raise Conflict(
            _("This account already has an open application (#%(id)d, %(state)s).")
            % {"id": open_application.pk, "state": open_application.state}
        )
    application = WhitelistApplication(
        account=account, organization_id=account.organization_id, created_by=actor, **evidence
    )
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise Conflict(_("This account already has an open application.")) from exc
    ReviewEvent.objects.create(application=application, actor=actor, to_state=ApplicationState.DRAFT)
    return application


@transaction.atomic
def application_update(
    *, actor: User, application: WhitelistApplication, data: Mapping[str, Any]
) -> WhitelistApplication:
    """Edit the evidence of a draft, or of an application whose changes were requested."""
    ensure_applicant(user=actor, application_or_account=application)
    application = _locked(application)
    if application.state not in EDITABLE_STATES:
        raise _illegal(application, _("edit"))
    evidence = _clean_evidence(data, current=application)
    for name, value in evidence.items():
        setattr(application, name, value)
    if evidence:
        application.save(update_fields=[*evidence, "updated_at"])
    return application


# Evaluation


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


def _evaluation_create(
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
        application = _locked_with_account(application)
        evaluation, _failing = _evaluation_create(application=application, trigger=EvaluationTrigger.STAFF)
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
    application = _locked(application)
    if application.state not in EDITABLE_STATES:
        raise Conflict(
            _("This application is %(state)s; eligibility is checked while it can still be edited.")
            % {"state": str(ApplicationState(application.state).label).lower()},
            code="invalid-transition",
        )
    evaluation, _failing = _evaluation_create(application=application, trigger=EvaluationTrigger.APPLICANT)
    return evaluation


# Transitions


def _locked(application: WhitelistApplication) -> WhitelistApplication:
    """The application's row, locked; its account and vertical are read with it, not locked."""
    return (
        WhitelistApplication.objects.select_for_update(of=("self",))
        .select_related("account", "account__vertical")
        .get(pk=application.pk)
    )


def _locked_with_account(application: WhitelistApplication) -> WhitelistApplication:
    """Lock the account, then the application (the lock order above): an evaluation that counts reads
    facts that no account edit can change before the transaction ends."""
    list(
        OfficialAccount.objects.select_for_update(of=("self",)).filter(pk=application.account_id).values("pk")
    )
    return _locked(application)


def _illegal(application: WhitelistApplication, action: str) -> Conflict:
    return Conflict(
        _("Cannot %(action)s an application that is %(state)s.")
        % {"action": action, "state": ApplicationState(application.state).label},
        code="invalid-transition",
    )


def _transition(
    application: WhitelistApplication,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    action: str,
    message: str = "",
    reason_code: ReasonCode | None = None,
    evaluation: Evaluation | None = None,
) -> ReviewEvent:
    """Move the locked application to a new state and record the event.

    The conditional UPDATE makes the move safe even where SELECT ... FOR UPDATE does nothing (SQLite):
    of two concurrent deciders, only one finds the row still in the state it read.
    """
    from_state = application.state
    if from_state not in allowed_from:
        raise _illegal(application, action)
    now = timezone.now()
    changes: dict[str, Any] = {"state": to, "updated_at": now}
    if to == ApplicationState.SUBMITTED:
        changes["submitted_at"] = now
    if to in (ApplicationState.APPROVED, ApplicationState.REJECTED):
        changes["decided_at"] = now
    moved = WhitelistApplication.objects.filter(pk=application.pk, state=from_state).update(**changes)
    if not moved:
        application.refresh_from_db(fields=["state"])
        raise _illegal(application, action)
    for name, value in changes.items():
        setattr(application, name, value)
    event = ReviewEvent.objects.create(
        application=application,
        actor=actor,
        from_state=from_state,
        to_state=to,
        message=message,
        reason_code=reason_code,
        evaluation=evaluation,
        visible_to_applicant=True,
    )
    _notify_after_commit(event)
    return event


def _notify_after_commit(event: ReviewEvent) -> None:
    from .tasks import notify_application_event

    transaction.on_commit(lambda: notify_application_event.delay(event_id=event.pk), robust=True)
    if event.to_state in (ApplicationState.APPROVED, ApplicationState.REJECTED) and webhook_endpoints_exist():
        application = event.application
        webhook_event_emit(
            event=WebhookEvent.APPLICATION_DECIDED,
            organization_id=application.organization_id,
            data={
                "application": {
                    "id": application.pk,
                    "account": application.account_id,
                    "state": event.to_state,
                },
                "decision": event.to_state,
                "reason_code": event.reason_code.code if event.reason_code else None,
                "message": event.message if event.visible_to_applicant else "",
            },
        )


@transaction.atomic
def application_submit(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    """Send a draft for review; it is evaluated against the active policy."""
    ensure_applicant(user=actor, application_or_account=application)
    application = _locked_with_account(application)
    if application.state != ApplicationState.DRAFT:
        raise _illegal(application, _("submit"))
    evaluation, _failing = _evaluation_create(application=application, trigger=EvaluationTrigger.SUBMISSION)
    _transition(
        application,
        allowed_from=(ApplicationState.DRAFT,),
        to=ApplicationState.SUBMITTED,
        actor=actor,
        action=_("submit"),
        evaluation=evaluation,
    )
    return application


@transaction.atomic
def application_resubmit(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    """Send an application back to review after the requested changes; it is evaluated again."""
    ensure_applicant(user=actor, application_or_account=application)
    application = _locked_with_account(application)
    if application.state != ApplicationState.CHANGES_REQUESTED:
        raise _illegal(application, _("resubmit"))
    evaluation, _failing = _evaluation_create(application=application, trigger=EvaluationTrigger.SUBMISSION)
    _transition(
        application,
        allowed_from=(ApplicationState.CHANGES_REQUESTED,),
        to=ApplicationState.SUBMITTED,
        actor=actor,
        action=_("resubmit"),
        evaluation=evaluation,
    )
    return application


@transaction.atomic
def application_withdraw(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    ensure_applicant(user=actor, application_or_account=application)
    application = _locked(application)
    _transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED, ApplicationState.CHANGES_REQUESTED),
        to=ApplicationState.WITHDRAWN,
        actor=actor,
        action=_("withdraw"),
    )
    return application


def _required_message(message: str) -> str:
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": [_("Tell the applicant what to change.")]})
    return message


@transaction.atomic
def application_request_changes(
    *, actor: User, application: WhitelistApplication, message: str, reason_code: ReasonCode | None = None
) -> WhitelistApplication:
    ensure_reviewer(user=actor, application=application)
    message = _required_message(message)
    application = _locked(application)
    _transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.CHANGES_REQUESTED,
        actor=actor,
        action=_("request changes on"),
        message=message,
        reason_code=reason_code,
    )
    return application


@transaction.atomic
def application_reject(
    *, actor: User, application: WhitelistApplication, reason_code: ReasonCode | None, message: str = ""
) -> WhitelistApplication:
    ensure_reviewer(user=actor, application=application)
    if reason_code is None:
        raise ValidationError({"reason_code": [_("Choose the reason for the rejection.")]})
    application = _locked(application)
    _transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.REJECTED,
        actor=actor,
        action=_("reject"),
        message=(message or "").strip() or reason_code.text,
        reason_code=reason_code,
    )
    return application


class CriteriaNotMet(Conflict):
    """Approval refused: required criteria fail at decision time. ``errors`` names each, with its reason."""

    code = "criteria-not-met"

    def __init__(self, failing: list[CriterionResult]) -> None:
        self.failing = [result.criterion for result in failing]
        super().__init__(
            _("The required criteria are not met: %(criteria)s.")
            % {"criteria": ", ".join(_criterion_label(result.criterion) for result in failing)},
            errors={result.criterion: [result.reason] for result in failing},
        )


def _criterion_label(criterion: str) -> str:
    return str(Criterion(criterion).label) if criterion in Criterion.values else criterion


@transaction.atomic
def application_approve(
    *, actor: User, application: WhitelistApplication, message: str = "", override: bool = False
) -> WhitelistApplication:
    """Approve and create (or renew) the account's whitelist entry under the active policy.

    The criteria run again at decision time, on the account as it is now. A required criterion that
    fails refuses the approval (CriteriaNotMet), unless staff holding the override permission say why:
    then the message is the reason, recorded staff-only with the failing criteria.
    """
    ensure_reviewer(user=actor, application=application)
    message = (message or "").strip()
    if override:
        if not can_override_criteria(user=actor):
            raise Forbidden(_("Only staff allowed to override the criteria can approve past them."))
        if not message:
            raise ValidationError({"message": [_("Say why the criteria are overridden.")]})
    application = _locked_with_account(application)
    if application.state != ApplicationState.SUBMITTED:
        raise _illegal(application, _("approve"))
    evaluation, failing = _evaluation_create(application=application, trigger=EvaluationTrigger.DECISION)
    if failing and not override:
        raise CriteriaNotMet(failing)
    if failing:
        with translation.override(settings.LANGUAGE_CODE):
            note = _("Approved past failed required criteria (%(criteria)s): %(reason)s") % {
                "criteria": ", ".join(result.criterion for result in failing),
                "reason": message,
            }
        ReviewEvent.objects.create(
            application=application,
            actor=actor,
            message=note,
            visible_to_applicant=False,
            evaluation=evaluation,
        )
    _transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.APPROVED,
        actor=actor,
        action=_("approve"),
        # An override's reason is for staff; the applicant is told of the approval only.
        message="" if failing else message,
        evaluation=evaluation,
    )
    _entry_grant(application=application, actor=actor)
    return application


@transaction.atomic
def application_note(
    *, actor: User, application: WhitelistApplication, message: str, visible_to_applicant: bool = False
) -> ReviewEvent:
    """A reviewer's note on the timeline; staff-only unless said otherwise."""
    ensure_staff(user=actor)
    message = (message or "").strip()
    if not message:
        raise ValidationError({"message": [_("The note is empty.")]})
    event = ReviewEvent.objects.create(
        application=application, actor=actor, message=message, visible_to_applicant=visible_to_applicant
    )
    if visible_to_applicant:
        _notify_after_commit(event)
    return event


# Whitelist entries


def _entry_event(
    entry: WhitelistEntry,
    *,
    actor: User | None,
    action: str,
    from_state: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    event = WhitelistEntryEvent.objects.create(
        entry=entry,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=entry.state,
        reason=reason,
        details=details or {},
    )
    profile_forget_accounts([entry.account_id])
    _notify_entry_event_after_commit([event])


# Entry events that webhooks hear of; a renewal is a new grant.
ENTRY_WEBHOOK_EVENTS = {
    "granted": WebhookEvent.ENTRY_GRANTED,
    "renewed": WebhookEvent.ENTRY_GRANTED,
    "suspend": WebhookEvent.ENTRY_SUSPENDED,
    "reinstate": WebhookEvent.ENTRY_REINSTATED,
    "revoke": WebhookEvent.ENTRY_REVOKED,
    "expire": WebhookEvent.ENTRY_EXPIRED,
}


def _notify_entry_event_after_commit(events: list[WhitelistEntryEvent]) -> None:
    from .tasks import notify_entry_event

    notified = [event.pk for event in events if event.action in NOTIFIED_ENTRY_ACTIONS]

    def notify() -> None:
        # Stops at the first failure (the broker is down); the beat sweep sends the rest later.
        for event_id in notified:
            notify_entry_event.delay(event_id=event_id)

    if notified:
        # A named function, not a partial: Django logs a failing robust callback by its __qualname__.
        transaction.on_commit(notify, robust=True)
    _entry_webhooks(events)


def _entry_webhooks(events: list[WhitelistEntryEvent]) -> None:
    heard = [event for event in events if event.action in ENTRY_WEBHOOK_EVENTS]
    if not heard or not webhook_endpoints_exist():
        return
    entries = WhitelistEntry.objects.select_related("account").in_bulk([event.entry_id for event in heard])
    for event in heard:
        entry = entries[event.entry_id]
        webhook_event_emit(
            event=ENTRY_WEBHOOK_EVENTS[event.action],
            organization_id=entry.account.organization_id,
            data={
                "whitelist_entry": {
                    "id": entry.pk,
                    "state": entry.state,
                    "previous_state": event.from_state or None,
                    "valid_until": entry.valid_until,
                    "share_limit_per_hour": entry.share_limit_per_hour,
                },
                "account": {
                    "id": entry.account_id,
                    "platform": entry.account.platform,
                    "platform_uid": entry.account.platform_uid,
                    "screen_name": entry.account.screen_name,
                },
                "reason": event.reason,
            },
        )


def _entry_grant(*, application: WhitelistApplication, actor: User) -> WhitelistEntry:
    policy = policy_active()
    now = timezone.now()
    valid_until = now + timedelta(days=policy.entry_validity_days)
    entry = (
        WhitelistEntry.objects.select_for_update(of=("self",))
        .filter(account_id=application.account_id)
        .first()
    )
    if entry is None:
        entry = WhitelistEntry.objects.create(
            account_id=application.account_id,
            state=EntryState.ACTIVE,
            share_limit_per_hour=policy.default_share_limit_per_hour,
            valid_from=now,
            valid_until=valid_until,
            application=application,
        )
        _entry_event(entry, actor=actor, action="granted", from_state="", details={"policy": policy.version})
        return entry
    from_state = entry.state
    entry.state = EntryState.ACTIVE
    entry.valid_from = now
    entry.valid_until = valid_until
    entry.application = application
    entry.expiry_warning_sent_at = None
    entry.save(
        update_fields=[
            "state",
            "valid_from",
            "valid_until",
            "application",
            "expiry_warning_sent_at",
            "updated_at",
        ]
    )
    _entry_event(
        entry, actor=actor, action="renewed", from_state=from_state, details={"policy": policy.version}
    )
    return entry


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason; the organization is told.")]})
    return reason


def _entry_move(
    *, actor: User, entry: WhitelistEntry, allowed_from: tuple[str, ...], to: str, action: str, reason: str
) -> WhitelistEntry:
    ensure_staff(user=actor)
    reason = _required_reason(reason)
    entry = WhitelistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if entry.state not in allowed_from:
        raise Conflict(
            _("Cannot %(action)s an entry that is %(state)s.")
            % {"action": action, "state": EntryState(entry.state).label},
            code="invalid-transition",
        )
    from_state = entry.state
    entry.state = to
    fields = ["state", "updated_at"]
    if to == EntryState.REVOKED:
        entry.revoked_at = timezone.now()
        fields.append("revoked_at")
    entry.save(update_fields=fields)
    _entry_event(entry, actor=actor, action=action, from_state=from_state, reason=reason)
    return entry


@transaction.atomic
def whitelist_entry_suspend(*, actor: User, entry: WhitelistEntry, reason: str) -> WhitelistEntry:
    return _entry_move(
        actor=actor,
        entry=entry,
        allowed_from=(EntryState.ACTIVE,),
        to=EntryState.SUSPENDED,
        action="suspend",
        reason=reason,
    )


@transaction.atomic
def whitelist_entry_reinstate(*, actor: User, entry: WhitelistEntry, reason: str) -> WhitelistEntry:
    ensure_staff(user=actor)
    locked = WhitelistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if locked.state == EntryState.SUSPENDED and locked.valid_until <= timezone.now():
        raise Conflict(
            _("The entry's validity ended on %(date)s; the account needs a new application.")
            % {"date": timezone.localdate(locked.valid_until).isoformat()},
            code="invalid-transition",
        )
    return _entry_move(
        actor=actor,
        entry=locked,
        allowed_from=(EntryState.SUSPENDED,),
        to=EntryState.ACTIVE,
        action="reinstate",
        reason=reason,
    )


@transaction.atomic
def whitelist_entry_revoke(*, actor: User, entry: WhitelistEntry, reason: str) -> WhitelistEntry:
    return _entry_move(
        actor=actor,
        entry=entry,
        allowed_from=(EntryState.ACTIVE, EntryState.SUSPENDED),
        to=EntryState.REVOKED,
        action="revoke",
        reason=reason,
    )


@transaction.atomic
def whitelist_entry_set_share_limit(
    *, actor: User, entry: WhitelistEntry, share_limit_per_hour: int
) -> WhitelistEntry:
    ensure_staff(user=actor)
    if share_limit_per_hour < 1:
        raise ValidationError({"share_limit_per_hour": [_("At least one share per hour.")]})
    entry = WhitelistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    before = entry.share_limit_per_hour
    if before == share_limit_per_hour:
        return entry
    entry.share_limit_per_hour = share_limit_per_hour
    entry.save(update_fields=["share_limit_per_hour", "updated_at"])
    _entry_event(
        entry,
        actor=actor,
        action="share_limit",
        from_state=entry.state,
        details={"from": before, "to": share_limit_per_hour},
    )
    return entry


@transaction.atomic
def whitelist_entries_expire(*, now: datetime | None = None) -> int:
    """Expire active and suspended entries past their date; running it again changes nothing."""
    now = now or timezone.now()
    due = list(
        WhitelistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state__in=[EntryState.ACTIVE, EntryState.SUSPENDED], valid_until__lte=now)
        .values_list("pk", "state")
    )
    if not due:
        return 0
    WhitelistEntry.objects.filter(pk__in=[pk for pk, _ in due]).update(
        state=EntryState.EXPIRED, updated_at=now
    )
    events = WhitelistEntryEvent.objects.bulk_create(
        WhitelistEntryEvent(entry_id=pk, action="expire", from_state=state, to_state=EntryState.EXPIRED)
        for pk, state in due
    )
    profile_forget_accounts(
        WhitelistEntry.objects.filter(pk__in=[pk for pk, _ in due]).values_list("account_id", flat=True)
    )
    _notify_entry_event_after_commit(events)
    return len(due)


EXPIRY_WARNING_DAYS = 30


@transaction.atomic
def whitelist_entries_warn_expiring(*, now: datetime | None = None) -> int:
    """Warn organizations once, 30 days before their entry expires; running it again warns nobody twice."""
    now = now or timezone.now()
    due = list(
        WhitelistEntry.objects.in_force(now)
        .select_for_update(skip_locked=True, of=("self",))
        .filter(
            expiry_warning_sent_at__isnull=True, valid_until__lte=now + timedelta(days=EXPIRY_WARNING_DAYS)
        )
        .values_list("pk", flat=True)
    )
    if not due:
        return 0
    WhitelistEntry.objects.filter(pk__in=due).update(expiry_warning_sent_at=now)
    events = WhitelistEntryEvent.objects.bulk_create(
        WhitelistEntryEvent(
            entry_id=pk, action="expiry_warning", from_state=EntryState.ACTIVE, to_state=EntryState.ACTIVE
        )
        for pk in due
    )
    _notify_entry_event_after_commit(events)
    return len(due)


# Criteria policies


POLICY_FIELDS = (
    "min_followers",
    "min_dev_team_size",
    "min_user_services",
    "support_channel_required",
    "required_criteria",
    "entry_validity_days",
    "default_share_limit_per_hour",
    "max_live_links_per_account",
    "notes",
)


# Concurrent "new version" requests each take the next free number: the unique version is the arbiter,
# and a request that lost the race tries the number after.
POLICY_VERSION_ATTEMPTS = 20


def _policy_values_clean(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values["required_criteria"]) - set(Criterion.values))
    if unknown:
        raise ValidationError(
            {"required_criteria": [_("Unknown criteria: %(names)s.") % {"names": ", ".join(unknown)}]}
        )
    return values


@transaction.atomic
def policy_create_version(
    *, actor: User, data: Mapping[str, Any], open_verticals: Any, based_on: CriteriaPolicy | None = None
) -> CriteriaPolicy:
    """A new, inactive version numbered after the newest; unset values are copied from the active policy."""
    ensure_staff(user=actor)
    base = based_on or policy_active()
    values = _policy_values_clean({name: data.get(name, getattr(base, name)) for name in POLICY_FIELDS})
    for _attempt in range(POLICY_VERSION_ATTEMPTS):
        # Each statement sees what committed before it, so a retry reads the number that won the race.
        newest = CriteriaPolicy.objects.aggregate(newest=Max("version"))["newest"] or 0
        policy = CriteriaPolicy(version=newest + 1, created_by=actor, **values)
        # The version's uniqueness is left to the database, which settles concurrent inserts.
        policy.full_clean(exclude=["open_verticals", "version"], validate_unique=False)
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError:
            if not CriteriaPolicy.objects.filter(version=policy.version).exists():
                raise
            continue
        policy.open_verticals.set(open_verticals if open_verticals is not None else base.open_verticals.all())
        return policy
    raise Conflict(_("Other versions are being created at the same time; try again."))


@transaction.atomic
def policy_update(
    *, actor: User, policy: CriteriaPolicy, data: Mapping[str, Any], open_verticals: Any = None
) -> CriteriaPolicy:
    """Edit a version that was never active; one that ever was explains past evaluations, so it is frozen."""
    ensure_staff(user=actor)
    unknown = set(data) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    policy = CriteriaPolicy.objects.select_for_update(of=("self",)).get(pk=policy.pk)
    if policy.is_frozen or policy.is_active:
        raise Conflict(
            _("Version %(version)d was active once and can no longer change; create a new version.")
            % {"version": policy.version},
            code="policy-frozen",
        )
    values = _policy_values_clean({name: data.get(name, getattr(policy, name)) for name in POLICY_FIELDS})
    changed = [name for name, value in values.items() if getattr(policy, name) != value]
    for name in changed:
        setattr(policy, name, values[name])
    policy.full_clean(exclude=["open_verticals"])
    if changed:
        policy.save(update_fields=changed)
    if open_verticals is not None:
        policy.open_verticals.set(open_verticals)
    return policy


@transaction.atomic
def policy_activate(*, actor: User, policy: CriteriaPolicy) -> CriteriaPolicy:
    """Make this version the one active policy; the previous one stays, frozen, for old evaluations."""
    ensure_staff(user=actor)
    policies = list(
        CriteriaPolicy.objects.select_for_update(of=("self",)).filter(Q(is_active=True) | Q(pk=policy.pk))
    )
    policy = next(p for p in policies if p.pk == policy.pk)
    if policy.is_active:
        return policy
    CriteriaPolicy.objects.filter(is_active=True).update(is_active=False)
    policy.is_active = True
    policy.activated_at = policy.activated_at or timezone.now()
    policy.save(update_fields=["is_active", "activated_at"])
    return policy


# Attachments

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_APPLICATION = 10


def attachment_original_name(name: str) -> str:
    """The name to keep and show: the last part of any path, printable characters only, at most 200
    characters (the end kept, with the extension), or "document" when nothing is left.

    Django's multipart parser cleans names the same way; this holds for every other caller too, so a
    name never carries a NUL (which PostgreSQL refuses) or a line break into a header.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(character for character in name if character.isprintable()).strip()
    if name in ("", ".", ".."):
        return "document"
    return name[-200:]


def _attachment_room_check(application: WhitelistApplication) -> None:
    if application.state not in EDITABLE_STATES:
        raise _illegal(application, _("add documents to"))
    if application.attachments.count() >= ATTACHMENTS_PER_APPLICATION:
        raise ValidationError(
            {
                "file": [
                    _("At most %(count)d documents per application.") % {"count": ATTACHMENTS_PER_APPLICATION}
                ]
            }
        )


def application_attachment_add(
    *, actor: User, application: WhitelistApplication, uploaded: UploadedFile
) -> ApplicationAttachment:
    """Attach a PDF, PNG or JPEG of at most 10 MB to a draft or an application under change request.

    The file is stored before any row is locked (a slow disk never holds the application's lock); the
    state and the count are checked again under the lock, and a refused file is removed.
    """
    ensure_applicant(user=actor, application_or_account=application)
    application.refresh_from_db(fields=["state"])
    _attachment_room_check(application)
    if uploaded.size is None or uploaded.size == 0:
        raise ValidationError({"file": [_("The file is empty.")]})
    if uploaded.size > ATTACHMENT_MAX_BYTES:
        raise ValidationError({"file": [_("The file is larger than 10 MB.")]})
    checked = upload_check(
        uploaded=uploaded,
        field="file",
        allowed=AttachmentContentType.values,
        refused=_("Only PDF, PNG and JPEG files are accepted (checked by content)."),
    )
    attachment = ApplicationAttachment(
        application=application,
        original_name=attachment_original_name(uploaded.name or ""),
        content_type=checked.content_type,
        size=uploaded.size,
        uploaded_by=actor,
    )
    attachment.file.save(attachment_path(attachment, uploaded.name or ""), uploaded, save=False)
    try:
        with transaction.atomic():
            _attachment_room_check(_locked(application))
            attachment.save()
    except BaseException:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def application_attachment_remove(*, actor: User, attachment: ApplicationAttachment) -> None:
    application = attachment.application
    ensure_applicant(user=actor, application_or_account=application)
    application = _locked(application)
    if application.state not in EDITABLE_STATES:
        raise _illegal(application, _("remove documents from"))
    stored_name = attachment.file.name
    storage = attachment.file.storage
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(stored_name))


# Policy preview

PREVIEW_LIST_LIMIT = 500
PREVIEW_BATCH_SIZE = 500


def _passes(recommendation: str) -> bool:
    """An application "passes" a policy when no required criterion fails (eligible or needs review)."""
    return recommendation != Recommendation.INELIGIBLE


@transaction.atomic
def policy_preview_request(*, actor: User, policy: CriteriaPolicy) -> PolicyPreview:
    """Ask for the impact of activating a policy version; a Celery task computes it after commit."""
    from .tasks import run_policy_preview

    ensure_staff(user=actor)
    active = policy_active()
    preview = PolicyPreview.objects.create(policy=policy, compared_with=active, requested_by=actor)
    transaction.on_commit(lambda: run_policy_preview.delay(preview_id=preview.pk), robust=True)
    return preview


def _preview_batches(queryset: QuerySet[Any], *, batch_size: int) -> Iterator[list[Any]]:
    last_pk = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_pk).order_by("pk")[:batch_size])
        if not batch:
            return
        yield batch
        last_pk = batch[-1].pk


def policy_preview_run(*, preview: PolicyPreview, batch_size: int = PREVIEW_BATCH_SIZE) -> PolicyPreview:
    """Evaluate every active entry's grant and every open application under both policies, in batches."""
    PolicyPreview.objects.filter(pk=preview.pk).update(status=PreviewStatus.RUNNING)
    current = rules_of(preview.compared_with)
    candidate = rules_of(preview.policy)
    now = timezone.now()
    entries = WhitelistEntry.objects.filter(state=EntryState.ACTIVE).select_related(
        "application__account__vertical"
    )
    applications = WhitelistApplication.objects.filter(state__in=OPEN_APPLICATION_STATES).select_related(
        "account__vertical"
    )
    total = entries.count() + applications.count()
    checked = lost = gained = 0
    changes: list[dict[str, Any]] = []
    PolicyPreview.objects.filter(pk=preview.pk).update(total=total)
    try:
        for kind, queryset in (("entry", entries), ("application", applications)):
            for batch in _preview_batches(queryset, batch_size=batch_size):
                granting = [row.application if kind == "entry" else row for row in batch]
                attachment_counts = dict(
                    ApplicationAttachment.objects.filter(application__in=granting)
                    .values("application_id")
                    .annotate(count=Count("id"))
                    .values_list("application_id", "count")
                )
                revoked = dict(
                    WhitelistEntry.objects.filter(
                        account_id__in=[a.account_id for a in granting]
                    ).values_list("account_id", "revoked_at")
                )
                for row, application in zip(batch, granting, strict=True):
                    facts = facts_of(
                        application,
                        now=now,
                        attachment_count=attachment_counts.get(application.pk, 0),
                        last_revoked_at=revoked.get(application.account_id),
                    )
                    before = evaluate(facts, current)[1]
                    after = evaluate(facts, candidate)[1]
                    if _passes(before) != _passes(after):
                        if _passes(before):
                            lost += 1
                        else:
                            gained += 1
                        if len(changes) < PREVIEW_LIST_LIMIT:
                            changes.append(
                                {
                                    "kind": kind,
                                    "id": row.pk,
                                    "account": application.account.screen_name,
                                    "platform_uid": application.account.platform_uid,
                                    "before": before,
                                    "after": after,
                                }
                            )
                checked += len(batch)
                PolicyPreview.objects.filter(pk=preview.pk).update(
                    checked=checked, became_ineligible=lost, became_eligible=gained
                )
    except Exception as exc:
        PolicyPreview.objects.filter(pk=preview.pk).update(
            status=PreviewStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    PolicyPreview.objects.filter(pk=preview.pk).update(
        status=PreviewStatus.DONE,
        checked=checked,
        became_ineligible=lost,
        became_eligible=gained,
        changes=changes,
        finished_at=timezone.now(),
    )
    preview.refresh_from_db()
    return preview
