"""Every write of mini programs, their profile links and shares: one module an entity, re-exported here.

Lock order. A service that locks several rows takes them in this order, and each with
`select_for_update(of=("self",))` where it joins others, so two services never wait on each other
in a cycle:

    organization -> mini program -> official account -> whitelist application -> whitelist entry
    -> profile link -> share quota

(accounts/services.py locks the organization and the account; whitelist/services/locks.py takes the
account, then the application, then the entry.) No file or network I/O happens while rows are
locked: an icon is written to storage before its mini program is locked.
"""

# The quota's window, and its consumption, as tests/resilience reaches them through this package.
from ..quota import WINDOW, window_start
from .links import profile_link_approve, profile_link_reject, profile_link_request, profile_link_unlink
from .miniprograms import (
    ICON_CONTENT_TYPES,
    ICON_MAX_BYTES,
    MINIPROGRAM_EDITABLE_FIELDS,
    miniprogram_create,
    miniprogram_delist,
    miniprogram_set_icon,
    miniprogram_update,
)
from .shares import (
    IDEMPOTENCY_WINDOW,
    IdempotencyKeyReused,
    ShareQuotaExceeded,
    _consume,
    share_fingerprint,
    share_quotas_reset,
    share_record,
    share_state_when_granted,
)

__all__ = [
    "ICON_CONTENT_TYPES",
    "ICON_MAX_BYTES",
    "IDEMPOTENCY_WINDOW",
    "MINIPROGRAM_EDITABLE_FIELDS",
    "WINDOW",
    "IdempotencyKeyReused",
    "ShareQuotaExceeded",
    "_consume",
    "miniprogram_create",
    "miniprogram_delist",
    "miniprogram_set_icon",
    "miniprogram_update",
    "profile_link_approve",
    "profile_link_reject",
    "profile_link_request",
    "profile_link_unlink",
    "share_fingerprint",
    "share_quotas_reset",
    "share_record",
    "share_state_when_granted",
    "window_start",
]
