"""Writes of whitelist entries: the grant, staff moves, the share limit, expiry and its warning."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import ensure_staff
from accounts.profile_cache import profile_forget_accounts
from integrations.models import WebhookEvent
from integrations.services import webhook_endpoints_exist, webhook_event_emit
from portal.errors import InvalidInput
from portal.transitions import invalid_transition

from ..constants import NOTIFIED_ENTRY_ACTIONS
from ..models import EntryState, WhitelistApplication, WhitelistEntry, WhitelistEntryEvent
from ..selectors import policy_active


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
    from ..tasks import notify_entry_event

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


def whitelist_entry_grant(*, application: WhitelistApplication, actor: User) -> WhitelistEntry:
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
        raise InvalidInput({"reason": [_("Give the reason; the organization is told.")]})
    return reason


def _entry_move(
    *, actor: User, entry: WhitelistEntry, allowed_from: tuple[str, ...], to: str, action: str, reason: str
) -> WhitelistEntry:
    ensure_staff(user=actor)
    reason = _required_reason(reason)
    entry = WhitelistEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if entry.state not in allowed_from:
        raise invalid_transition(
            _("Cannot %(action)s an entry that is %(state)s.")
            % {"action": action, "state": EntryState(entry.state).label}
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
        raise invalid_transition(
            _("The entry's validity ended on %(date)s; the account needs a new application.")
            % {"date": timezone.localdate(locked.valid_until).isoformat()}
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
        raise InvalidInput({"share_limit_per_hour": [_("At least one share per hour.")]})
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
