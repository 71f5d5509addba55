"""Writes of shares: one share within the account's hourly quota, and the hourly reset of the quotas.

The quota is taken on Redis when it is configured and answering, else on the database
(miniprograms/quota.py); the recorded shares are the truth either way.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import OfficialAccount, User
from integrations.models import ApiKey
from portal.cache import redis_failed, redis_skipped
from portal.errors import ApplicationError, Conflict
from whitelist.models import WhitelistEntry

from ..models import (
    MiniProgram,
    ProfileLink,
    ProfileLinkState,
    QuotaResetRun,
    Share,
    ShareQuota,
    ShareWindowUsage,
)
from ..permissions import ensure_can_share
from ..quota import (
    WINDOW,
    DatabaseQuota,
    QuotaState,
    RedisQuota,
    quota_backend,
    recorded_shares,
    window_start,
)
from ..selectors import rate_limit_headers
from .preconditions import ensure_account_whitelisted

logger = logging.getLogger(__name__)


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
    ensure_can_share(actor=actor, api_key=api_key, organization_id=account.organization_id)
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
    entry = ensure_account_whitelisted(
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
