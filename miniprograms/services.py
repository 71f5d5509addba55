"""Every write of mini programs and their profile links, with the links' transitions and history.

Lock order. A service that locks several rows takes them in this order, and each with
`select_for_update(of=("self",))` where it joins others, so two services never wait on each other
in a cycle:

    organization -> mini program -> official account -> whitelist application -> whitelist entry
    -> profile link -> share quota

(accounts/services.py locks the organization and the account; whitelist/services.py takes the
account, then the application, then the entry.) No file or network I/O happens while rows are
locked: an icon is written to storage before its mini program is locked.
"""

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, IntegerField, Max, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Membership, OfficialAccount, Organization, User
from accounts.permissions import ensure_can_manage_organization, ensure_staff
from accounts.profile_cache import profile_forget_accounts
from integrations.models import ApiKey, WebhookEvent
from integrations.services import webhook_endpoints_exist, webhook_event_emit
from portal.cache import redis_failed, redis_skipped
from portal.errors import ApplicationError, Conflict, Forbidden
from portal.uploads import upload_check
from whitelist.models import AttachmentContentType, EntryState, WhitelistEntry
from whitelist.selectors import policy_active

from .models import (
    OPEN_LINK_STATES,
    Capability,
    MiniProgram,
    MiniProgramState,
    ProfileLink,
    ProfileLinkEvent,
    ProfileLinkState,
    QuotaResetRun,
    Share,
    ShareQuota,
    ShareWindowUsage,
    icon_path,
)
from .quota import (
    WINDOW,
    DatabaseQuota,
    QuotaState,
    RedisQuota,
    quota_backend,
    recorded_shares,
    window_start,
)

logger = logging.getLogger(__name__)

MINIPROGRAM_EDITABLE_FIELDS = ("name", "description", "category", "capabilities")
ICON_MAX_BYTES = 512 * 1024
ICON_CONTENT_TYPES = (AttachmentContentType.PNG, AttachmentContentType.JPEG)


# Mini programs


def _duplicate_app_id_error() -> ValidationError:
    return ValidationError(
        {"app_id": [_("A mini program with this app id is already registered.")]}, code="unique"
    )


def _clean_capabilities(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError({"capabilities": [_("Give a list of capabilities.")]})
    unknown = sorted(set(value) - set(Capability.values))
    if unknown:
        raise ValidationError(
            {"capabilities": [_("Unknown capabilities: %(names)s.") % {"names": ", ".join(unknown)}]}
        )
    if len(set(value)) != len(value):
        raise ValidationError({"capabilities": [_("Each capability may be given only once.")]})
    return list(value)


def _save_miniprogram(miniprogram: MiniProgram, *, update_fields: list[str] | None = None) -> None:
    miniprogram.capabilities = _clean_capabilities(miniprogram.capabilities)
    miniprogram.full_clean(exclude=["icon"], validate_unique=False, validate_constraints=False)
    duplicates = MiniProgram.objects.filter(app_id=miniprogram.app_id)
    if miniprogram.pk:
        duplicates = duplicates.exclude(pk=miniprogram.pk)
    if duplicates.exists():
        raise _duplicate_app_id_error()
    try:
        with transaction.atomic():
            miniprogram.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Another request registered the same app id between the check and the insert.
        raise _duplicate_app_id_error() from exc


@transaction.atomic
def miniprogram_create(
    *,
    actor: User,
    organization: Organization,
    app_id: str,
    name: str,
    category: str,
    description: str = "",
    capabilities: Sequence[str] = (),
) -> MiniProgram:
    """Register an organization's mini program; the owners and admins of the organization (or staff) may."""
    ensure_can_manage_organization(user=actor, organization=organization)
    miniprogram = MiniProgram(
        organization=organization,
        app_id=app_id,
        name=name,
        description=description,
        category=category,
        capabilities=list(capabilities),
        state=MiniProgramState.ACTIVE,
        created_by=actor,
    )
    _save_miniprogram(miniprogram)
    return miniprogram


def _ensure_active(miniprogram: MiniProgram, action: str) -> None:
    if miniprogram.state != MiniProgramState.ACTIVE:
        raise Conflict(
            _("Cannot %(action)s a mini program that is %(state)s.")
            % {"action": action, "state": MiniProgramState(miniprogram.state).label},
            code="invalid-transition",
        )


@transaction.atomic
def miniprogram_update(*, actor: User, miniprogram: MiniProgram, data: Mapping[str, Any]) -> MiniProgram:
    """Edit the name, description, category or capabilities; the app id is the mini program's identity."""
    ensure_can_manage_organization(user=actor, organization=miniprogram.organization)
    unknown = set(data) - set(MINIPROGRAM_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    _ensure_active(miniprogram, _("change"))
    changed = [field for field, value in data.items() if getattr(miniprogram, field) != value]
    if not changed:
        return miniprogram
    for field in changed:
        setattr(miniprogram, field, data[field])
    _save_miniprogram(miniprogram, update_fields=[*changed, "updated_at"])
    _forget_profiles_showing(miniprogram)
    return miniprogram


def _forget_profiles_showing(miniprogram: MiniProgram) -> None:
    profile_forget_accounts(
        ProfileLink.objects.filter(miniprogram=miniprogram, state__in=OPEN_LINK_STATES).values_list(
            "account_id", flat=True
        )
    )


def miniprogram_set_icon(*, actor: User, miniprogram: MiniProgram, uploaded: UploadedFile) -> MiniProgram:
    """Replace the icon with a PNG or JPEG (checked by content) of at most 512 KB.

    The file is written before the mini program's row is locked (no I/O under a lock), and removed
    again if the row cannot take it.
    """
    ensure_can_manage_organization(user=actor, organization=miniprogram.organization)
    _ensure_active(miniprogram, _("change"))
    if not uploaded.size:
        raise ValidationError({"icon": [_("The file is empty.")]})
    if uploaded.size > ICON_MAX_BYTES:
        raise ValidationError({"icon": [_("The icon is larger than 512 KB.")]})
    checked = upload_check(
        uploaded=uploaded,
        field="icon",
        allowed=ICON_CONTENT_TYPES,
        refused=_("Only PNG and JPEG icons are accepted (checked by content)."),
    )
    storage = miniprogram.icon.storage
    # Written before any row is locked (no file I/O under a lock), under the extension of its real type:
    # /media/ serves the content type from it.
    stored = storage.save(icon_path(miniprogram, f"icon{checked.extension}"), uploaded)
    try:
        with transaction.atomic():
            miniprogram = MiniProgram.objects.select_for_update(of=("self",)).get(pk=miniprogram.pk)
            _ensure_active(miniprogram, _("change"))
            previous = miniprogram.icon.name
            miniprogram.icon.name = stored
            miniprogram.save(update_fields=["icon", "updated_at"])
            _forget_profiles_showing(miniprogram)
            if previous:
                # The old file goes only once the new name is committed, so a rollback keeps a working icon.
                transaction.on_commit(lambda: storage.delete(previous))
    except BaseException:
        storage.delete(stored)
        raise
    return miniprogram


@transaction.atomic
def miniprogram_delist(*, actor: User, miniprogram: MiniProgram, reason: str = "") -> MiniProgram:
    """Take a mini program out of the programme; its live and pending links are unlinked with it."""
    ensure_can_manage_organization(user=actor, organization=miniprogram.organization)
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    _ensure_active(miniprogram, _("delist"))
    _forget_profiles_showing(miniprogram)
    miniprogram.state = MiniProgramState.DELISTED
    miniprogram.save(update_fields=["state", "updated_at"])
    reason = (reason or "").strip() or _("The mini program was delisted.")
    open_links = list(
        ProfileLink.objects.select_for_update()
        .filter(miniprogram=miniprogram, state__in=OPEN_LINK_STATES)
        .values_list("pk", "state")
    )
    if open_links:
        ProfileLink.objects.filter(pk__in=[pk for pk, _state in open_links]).update(
            state=ProfileLinkState.UNLINKED, updated_at=timezone.now()
        )
        ProfileLinkEvent.objects.bulk_create(
            ProfileLinkEvent(
                link_id=pk, actor=actor, from_state=state, to_state=ProfileLinkState.UNLINKED, reason=reason
            )
            for pk, state in open_links
        )
        _link_webhooks([(pk, state, ProfileLinkState.UNLINKED) for pk, state in open_links], reason=reason)
    return miniprogram


# Profile links


def _ensure_whitelisted(
    account: OfficialAccount, *, entries: QuerySet[WhitelistEntry] | None = None
) -> WhitelistEntry:
    """The account's whitelist entry, which must be in force; else say why not.

    `entries` is the queryset to read it from, for a caller that needs more in the same query.
    """
    entries = WhitelistEntry.objects.all() if entries is None else entries
    entry = entries.filter(account=account).first()
    if entry is None:
        raise Conflict(
            _("%(account)s is not whitelisted; apply for the whitelist first.")
            % {"account": account.screen_name},
            code="not-whitelisted",
        )
    if entry.is_in_force():
        return entry
    if entry.state != EntryState.ACTIVE:
        raise Conflict(
            _("The whitelist entry of %(account)s is %(state)s.")
            % {"account": account.screen_name, "state": EntryState(entry.state).label},
            code="not-whitelisted",
        )
    raise Conflict(
        _("The whitelist entry of %(account)s expired on %(date)s.")
        % {"account": account.screen_name, "date": timezone.localdate(entry.valid_until).isoformat()},
        code="not-whitelisted",
    )


def _record(link: ProfileLink, *, actor: User | None, from_state: str, reason: str = "") -> ProfileLinkEvent:
    event = ProfileLinkEvent.objects.create(
        link=link, actor=actor, from_state=from_state, to_state=link.state, reason=reason
    )
    _link_webhooks([(link.pk, from_state, link.state)], reason=reason)
    return event


def _link_webhooks(changes: Sequence[tuple[int, str, str]], *, reason: str = "") -> None:
    """Tell webhooks when links go live or leave a profile: (link id, from state, to state)."""
    live, removed = ProfileLinkState.LIVE, WebhookEvent.LINK_REMOVED
    relevant = [change for change in changes if (change[1] == live) != (change[2] == live)]
    if not relevant or not webhook_endpoints_exist():
        return
    links = ProfileLink.objects.select_related("account", "miniprogram").in_bulk([pk for pk, *_ in relevant])
    for pk, from_state, to_state in relevant:
        link = links[pk]
        webhook_event_emit(
            event=WebhookEvent.LINK_LIVE if to_state == live else removed,
            organization_id=link.account.organization_id,
            data={
                "profile_link": {"id": link.pk, "state": to_state, "previous_state": from_state},
                "account": {
                    "id": link.account_id,
                    "platform": link.account.platform,
                    "platform_uid": link.account.platform_uid,
                },
                "miniprogram": {"id": link.miniprogram_id, "app_id": link.miniprogram.app_id},
                "reason": reason,
            },
        )


@transaction.atomic
def profile_link_request(*, actor: User, miniprogram: MiniProgram, account: OfficialAccount) -> ProfileLink:
    """Ask staff to put an active mini program on a whitelisted account of the same organization."""
    ensure_can_manage_organization(user=actor, organization=miniprogram.organization)
    if account.organization_id != miniprogram.organization_id:
        raise ValidationError({"account": [_("The account must belong to the mini program's organization.")]})
    # In the lock order (top of the module): the mini program, then the account.
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    _ensure_active(miniprogram, _("link"))
    account = OfficialAccount.objects.select_for_update().get(pk=account.pk)
    _ensure_whitelisted(account)
    open_link = ProfileLink.objects.filter(
        miniprogram=miniprogram, account=account, state__in=OPEN_LINK_STATES
    ).first()
    if open_link is not None:
        raise Conflict(
            _("This mini program already has a link to this account (#%(id)d, %(state)s).")
            % {"id": open_link.pk, "state": ProfileLinkState(open_link.state).label}
        )
    last = ProfileLink.objects.filter(account=account, state__in=OPEN_LINK_STATES).aggregate(
        last=Max("position")
    )["last"]
    link = ProfileLink(
        miniprogram=miniprogram,
        account=account,
        state=ProfileLinkState.PENDING_REVIEW,
        position=(last or 0) + 1,
        requested_by=actor,
    )
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError as exc:
        raise Conflict(_("This mini program already has a link to this account.")) from exc
    _record(link, actor=actor, from_state="")
    return link


def _illegal(link: ProfileLink, action: str) -> Conflict:
    return Conflict(
        _("Cannot %(action)s a link that is %(state)s.")
        % {"action": action, "state": ProfileLinkState(link.state).label},
        code="invalid-transition",
    )


def _transition(
    link: ProfileLink,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    action: str,
    reason: str = "",
    decision: bool = False,
) -> ProfileLink:
    """Move the locked link and record the event.

    The conditional UPDATE keeps the move safe where SELECT ... FOR UPDATE does nothing (SQLite):
    of two concurrent deciders, only one finds the row still in the state it read.
    """
    from_state = link.state
    if from_state not in allowed_from:
        raise _illegal(link, action)
    now = timezone.now()
    changes: dict[str, Any] = {"state": to, "updated_at": now}
    if decision:
        changes.update(reason=reason, decided_by=actor, decided_at=now)
    moved = ProfileLink.objects.filter(pk=link.pk, state=from_state).update(**changes)
    if not moved:
        link.refresh_from_db(fields=["state"])
        raise _illegal(link, action)
    for name, value in changes.items():
        setattr(link, name, value)
    _record(link, actor=actor, from_state=from_state, reason=reason)
    profile_forget_accounts([link.account_id])
    return link


@transaction.atomic
def profile_link_approve(*, actor: User, link: ProfileLink, reason: str = "") -> ProfileLink:
    """Staff put a pending link live, within the active policy's limit of live links per account."""
    ensure_staff(user=actor)
    # In the lock order: the mini program (as delisting takes it), then the account, whose lock makes
    # approvals on one account take turns so the limit holds, then the link alone.
    miniprogram = MiniProgram.objects.select_for_update().get(pk=link.miniprogram_id)
    account = OfficialAccount.objects.select_for_update().get(pk=link.account_id)
    link = ProfileLink.objects.select_for_update(of=("self",)).get(pk=link.pk)
    if link.state != ProfileLinkState.PENDING_REVIEW:
        raise _illegal(link, _("approve"))
    _ensure_active(miniprogram, _("link"))
    _ensure_whitelisted(account)
    limit = policy_active().max_live_links_per_account
    live = ProfileLink.objects.filter(account=account, state=ProfileLinkState.LIVE).count()
    if live >= limit:
        raise Conflict(
            _("%(account)s already shows %(count)d mini programs, the most allowed.")
            % {"account": account.screen_name, "count": live},
            code="live-links-limit",
        )
    return _transition(
        link,
        allowed_from=(ProfileLinkState.PENDING_REVIEW,),
        to=ProfileLinkState.LIVE,
        actor=actor,
        action=_("approve"),
        reason=(reason or "").strip(),
        decision=True,
    )


@transaction.atomic
def profile_link_reject(*, actor: User, link: ProfileLink, reason: str) -> ProfileLink:
    """Staff refuse a pending link; the reason is kept and shown to the organization."""
    ensure_staff(user=actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason; the organization is told.")]})
    link = ProfileLink.objects.select_for_update().get(pk=link.pk)
    return _transition(
        link,
        allowed_from=(ProfileLinkState.PENDING_REVIEW,),
        to=ProfileLinkState.REJECTED,
        actor=actor,
        action=_("reject"),
        reason=reason,
        decision=True,
    )


@transaction.atomic
def profile_link_unlink(*, actor: User, link: ProfileLink, reason: str = "") -> ProfileLink:
    """Take a live link off the profile, or withdraw a pending one: the organization's owners and admins,
    or staff."""
    ensure_can_manage_organization(user=actor, organization=link.account.organization)
    link = ProfileLink.objects.select_for_update().get(pk=link.pk)
    return _transition(
        link,
        allowed_from=OPEN_LINK_STATES,
        to=ProfileLinkState.UNLINKED,
        actor=actor,
        action=_("unlink"),
        reason=(reason or "").strip(),
    )


# Shares


class ShareQuotaExceeded(ApplicationError):
    """The account used its shares for this hour; the headers say when the next one is possible."""

    status_code = 429
    code = "share-quota-exceeded"

    def __init__(self, state: QuotaState) -> None:
        self.state = state
        wait = state.seconds_until_reset()
        # In the current time zone: UTC in the API, the merchant's on the pages (portal.middleware).
        super().__init__(
            ngettext(
                "This account has used its %(limit)d share for this hour; "
                "the next is possible at %(time)s %(zone)s.",
                "This account has used its %(limit)d shares for this hour; "
                "the next is possible at %(time)s %(zone)s.",
                state.limit,
            )
            % {
                "limit": state.limit,
                "time": timezone.localtime(state.resets_at).strftime("%H:%M"),
                "zone": timezone.get_current_timezone_name(),
            },
            headers={"Retry-After": str(wait), **rate_limit_headers(state)},
        )


def rate_limit_headers(state: QuotaState) -> dict[str, str]:
    """The IETF RateLimit-Policy and RateLimit fields for a share quota state."""
    return {
        "RateLimit-Policy": f'"share";q={state.limit};w={int(WINDOW.total_seconds())}',
        "RateLimit": f'"share";r={state.remaining};t={state.seconds_until_reset()}',
    }


def _live_link(miniprogram: MiniProgram, account: OfficialAccount) -> ProfileLink:
    link = ProfileLink.objects.filter(
        miniprogram=miniprogram, account=account, state=ProfileLinkState.LIVE
    ).first()
    if link is None:
        raise Conflict(
            _("%(miniprogram)s is not live on the profile of %(account)s.")
            % {"miniprogram": miniprogram.name, "account": account.screen_name},
            code="link-not-live",
        )
    return link


def _consume(*, account_id: int, limit: int, window: datetime, recorded: int = 0) -> tuple[QuotaState, bool]:
    """Take a slot; also says whether Redis took it (a slot on Redis outlives a rollback unless given back).

    `recorded` is the shares recorded in the window, read with the whitelist entry.
    """
    backend = quota_backend()
    on_redis = backend.name == RedisQuota.name
    if not (on_redis and redis_skipped(settings.REDIS_URL)):
        try:
            if isinstance(backend, RedisQuota):
                state = backend.consume(
                    account_id=account_id, limit=limit, window=window, floor=recorded, floor_is_recorded=True
                )
                return state, True
            return backend.consume(account_id=account_id, limit=limit, window=window), False
        except redis.RedisError as exc:
            if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                # A hung Redis costs one socket timeout, then the database decides at once for a while
                # (as the caches do: portal/cache.py), instead of a timeout on every share.
                redis_failed(settings.REDIS_URL)
            logger.warning("Share quota on Redis failed (%s); deciding on the database", exc)
    # Redis is an accelerator, not the record: the database decides while it is away, counting the
    # shares recorded in the window (Redis may have granted some the database's counter has not seen).
    state = DatabaseQuota().consume(account_id=account_id, limit=limit, window=window, floor=recorded)
    return state, False


@dataclass
class _RedisSlot:
    """A slot taken on Redis for one attempt, to give back unless its share is committed."""

    account_id: int = 0
    window: datetime | None = None
    recorded: bool = False

    def give_back(self) -> None:
        if self.window is None or self.recorded:
            return
        window, self.window = self.window, None
        backend = quota_backend()
        if not isinstance(backend, RedisQuota):
            return
        try:
            backend.release(account_id=self.account_id, window=window)
        except redis.RedisError as exc:
            # The slot comes back by itself once it is older than GRANT_SETTLE_SECONDS.
            logger.warning("Could not give back a share slot on Redis (%s)", exc)


IDEMPOTENCY_WINDOW = timedelta(hours=24)


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency-key-reused"


def share_fingerprint(*, miniprogram_id: int, account_id: int) -> str:
    return hashlib.sha256(f"share:{miniprogram_id}:{account_id}".encode()).hexdigest()


def _take_turns_on_key(*, account_id: int, key: str) -> None:
    """Requests with one Idempotency-Key for one account take turns, until the transaction ends.

    A transaction-scoped advisory lock on PostgreSQL: a retry waits for the first request to commit
    (or fail), then its replay check sees the first share. Without it a retry that arrives while the
    first is in flight passes the check, and at the limit is refused (issue: 201 eight times, 429
    twice). One round trip, for requests with a key only.
    """
    if not key or connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"share:{account_id}:{key}".encode("utf-8", "surrogatepass"), digest_size=8)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest.digest(), "big", signed=True)]
        )


def _replay(*, account: OfficialAccount, key: str, fingerprint: str) -> Share | None:
    """The share an earlier request with this key recorded in the last 24 hours, if any."""
    if not key:
        return None
    earlier = Share.objects.filter(
        account=account, idempotency_key=key, created_at__gte=timezone.now() - IDEMPOTENCY_WINDOW
    ).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            _("This Idempotency-Key was already used for a different request."),
            errors={"Idempotency-Key": [_("Use a new key for a new request.")]},
        )
    return earlier


def share_state_when_granted(share: Share) -> QuotaState:
    return QuotaState(
        granted=True, limit=share.limit, used=share.slot, window_start=share.window_start, slot=share.slot
    )


def share_record(
    *,
    actor: User | None,
    miniprogram: MiniProgram,
    account: OfficialAccount,
    now: datetime | None = None,
    idempotency_key: str = "",
    api_key: ApiKey | None = None,
) -> tuple[Share, QuotaState, bool]:
    """Record one share of a live mini program by a whitelisted account, within its hourly limit.

    The actor is a member of the account's organization, or, with no actor, an API key of that
    organization or a platform-wide one (the view has checked its shares:write scope).
    Returns the share, the quota state and whether it is a replay of an earlier request with the
    same Idempotency-Key (which uses no quota).

    A slot taken on Redis by an attempt that fails, or whose transaction rolls back or never
    commits (a lost database connection), is given back, so a fault never costs the account its
    hour. (An enclosing transaction that rolls back later is not seen here: that slot comes back
    once GRANT_SETTLE_SECONDS have passed, when the recorded shares are the count again.)
    """
    slot = _RedisSlot()
    try:
        result = _share_record(
            actor=actor,
            miniprogram=miniprogram,
            account=account,
            now=now,
            idempotency_key=idempotency_key,
            api_key=api_key,
            slot=slot,
        )
    except BaseException:
        slot.recorded = False
        slot.give_back()
        raise
    slot.give_back()
    return result


def _shares_in_window(window: datetime) -> RawSQL:
    """The shares recorded in the window for the entry's account, as a column of the entry's query.

    Raw SQL: the ORM's Subquery took about 1.5 ms of CPU to compile, on every share.
    """
    share, entry = Share._meta.db_table, WhitelistEntry._meta.db_table
    return RawSQL(  # noqa: S611 - table names only; the window is a parameter
        f'SELECT COUNT(*) FROM "{share}" AS recorded_share '  # noqa: S608 - table names only
        f'WHERE recorded_share.account_id = "{entry}".account_id AND recorded_share.window_start = %s',
        [window],
        output_field=IntegerField(),
    )


def _create_share(fields: dict[str, Any], slot: int) -> Share | None:
    """The share in this slot, or None if the slot (or the idempotency key) is taken."""
    try:
        with transaction.atomic():
            return Share.objects.create(slot=slot, **fields)
    except IntegrityError:
        return None


@transaction.atomic
def _share_record(
    *,
    actor: User | None,
    miniprogram: MiniProgram,
    account: OfficialAccount,
    now: datetime | None,
    idempotency_key: str,
    api_key: ApiKey | None,
    slot: _RedisSlot,
) -> tuple[Share, QuotaState, bool]:
    if actor is not None:
        if not Membership.objects.filter(user=actor, organization_id=account.organization_id).exists():
            raise Forbidden(_("Only members of the account's organization can share for it."))
    elif api_key is None or not api_key.may_act_for(account.organization_id):
        raise Forbidden(_("This API key cannot share for accounts of this organization."))
    if miniprogram.organization_id != account.organization_id:
        raise Conflict(_("The mini program and the account belong to different organizations."))
    fingerprint = share_fingerprint(miniprogram_id=miniprogram.pk, account_id=account.pk)
    # Serialise the requests of one (account, key), then check for a replay, then consume.
    _take_turns_on_key(account_id=account.pk, key=idempotency_key)
    earlier = _replay(account=account, key=idempotency_key, fingerprint=fingerprint)
    if earlier is not None:
        return earlier, share_state_when_granted(earlier), True
    link = _live_link(miniprogram, account)
    window = window_start(now)
    # The shares recorded in the window come with the entry, in the same query.
    entry = _ensure_whitelisted(
        account, entries=WhitelistEntry.objects.annotate(recorded=_shares_in_window(window))
    )
    limit = entry.share_limit_per_hour
    recorded: int = entry.recorded  # type: ignore[attr-defined]
    if recorded >= limit:
        # Used up by recorded shares: no counter can say otherwise, so neither is asked.
        raise ShareQuotaExceeded(QuotaState(granted=False, limit=limit, used=recorded, window_start=window))
    state, on_redis = _consume(account_id=account.pk, limit=limit, window=window, recorded=recorded)
    if not state.granted or state.slot is None:
        raise ShareQuotaExceeded(state)
    if on_redis:
        slot.account_id, slot.window = account.pk, window
    fields: dict[str, Any] = {
        "account": account,
        "miniprogram": miniprogram,
        "link": link,
        "created_by": actor,
        "api_key": api_key,
        "window_start": window,
        "limit": limit,
        "idempotency_key": idempotency_key,
        "request_fingerprint": fingerprint if idempotency_key else "",
    }
    share = _create_share(fields, state.slot)
    if share is None:
        earlier = _replay(account=account, key=idempotency_key, fingerprint=fingerprint)
        if earlier is not None:
            # A concurrent retry with the same key won (where no advisory lock serialises them).
            return earlier, share_state_when_granted(earlier), True
        # The slot is taken although a slot was granted: the counter's numbering has a gap (a slot
        # given back below another) or lost grants. Take the first slot no recorded share holds;
        # the unique (account, window, slot) key still decides between concurrent attempts.
        taken = set(Share.objects.filter(account=account, window_start=window).values_list("slot", flat=True))
        for free in range(1, limit + 1):
            if free not in taken and state.slot != free:
                share = _create_share(fields, free)
                if share is not None:
                    break
    if share is None:
        raise ShareQuotaExceeded(
            QuotaState(
                granted=False,
                limit=limit,
                used=recorded_shares(account_id=account.pk, window=window),
                window_start=window,
            )
        )
    slot.recorded = True
    return share, replace(state, slot=share.slot), False


def share_quota_state(*, account: OfficialAccount, now: datetime | None = None) -> QuotaState:
    """The account's quota now; the recorded shares are the truth whatever the backend.

    An account whose whitelist entry is not in force (none, suspended, revoked, expired) has a limit of 0.
    """
    return share_quota_states(account_ids=[account.pk], now=now)[account.pk]


def share_quota_states(*, account_ids: Sequence[int], now: datetime | None = None) -> dict[int, QuotaState]:
    """The quotas of several accounts in two queries, whatever their number (the mini program page)."""
    now = now or timezone.now()
    window = window_start(now)
    ids = list(account_ids)
    limits = dict(
        WhitelistEntry.objects.in_force(now)
        .filter(account_id__in=ids)
        .values_list("account_id", "share_limit_per_hour")
    )
    used = dict(
        Share.objects.filter(account_id__in=ids, window_start=window)
        .order_by()
        .values("account_id")
        .annotate(count=Count("pk"))
        .values_list("account_id", "count")
    )
    states = {}
    for account_id in ids:
        limit, count = limits.get(account_id, 0), used.get(account_id, 0)
        states[account_id] = QuotaState(granted=count < limit, limit=limit, used=count, window_start=window)
    return states


def share_quotas_reset(*, now: datetime | None = None) -> QuotaResetRun:
    """Hourly: record each closed window's usage, and zero the quotas used in earlier windows.

    Set-based: its cost grows with the accounts that shared, not with all accounts. Idempotent:
    a second run finds nothing to reset and records nothing twice. The limit never depends on it.
    """
    started = timezone.now()
    window = window_start(now or started)
    clock = time.monotonic()
    last = QuotaResetRun.objects.order_by("-window_start").values_list("window_start", flat=True).first()
    since = last - WINDOW if last else None
    share_table = connection.ops.quote_name(Share._meta.db_table)
    usage_table = connection.ops.quote_name(ShareWindowUsage._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {usage_table} (account_id, window_start, used) "  # noqa: S608 - table names only
                f"SELECT account_id, window_start, COUNT(*) FROM {share_table} "
                "WHERE window_start < %s AND (%s IS NULL OR window_start >= %s) "
                "GROUP BY account_id, window_start "
                "ON CONFLICT (account_id, window_start) DO NOTHING",
                [window, since, since],
            )
            recorded = max(cursor.rowcount, 0)
        reset = ShareQuota.objects.filter(window_start__lt=window, used__gt=0).update(
            used=0, window_start=window
        )
        run = QuotaResetRun.objects.create(
            window_start=window,
            started_at=started,
            duration_ms=int((time.monotonic() - clock) * 1000),
            quotas_reset=reset,
            windows_recorded=recorded,
        )
    logger.info(
        "Share quota reset for %s: %d quotas reset, %d window usages recorded", window, reset, recorded
    )
    return run
