"""Every write of the whitelist, one module an entity; the names are re-exported here for callers.

The row locks every service takes, and their order, are in ``locks.py``.
"""

from ..models import EDITABLE_APPLICATION_STATES
from ..permissions import (
    OVERRIDE_CRITERIA_PERMISSION,
    can_override_criteria,
    ensure_applicant,
    ensure_reviewer,
)
from .applications import (
    EVIDENCE_FIELDS,
    application_create,
    application_resubmit,
    application_submit,
    application_update,
    application_withdraw,
)
from .attachments import (
    ATTACHMENT_MAX_BYTES,
    ATTACHMENTS_PER_APPLICATION,
    application_attachment_add,
    application_attachment_remove,
    attachment_original_name,
)
from .entries import (
    ENTRY_WEBHOOK_EVENTS,
    EXPIRY_WARNING_DAYS,
    whitelist_entries_expire,
    whitelist_entries_warn_expiring,
    whitelist_entry_grant,
    whitelist_entry_reinstate,
    whitelist_entry_revoke,
    whitelist_entry_set_share_limit,
    whitelist_entry_suspend,
)
from .evaluations import application_evaluate, evaluation_create, facts_of, rules_of
from .policies import (
    POLICY_FIELDS,
    POLICY_VERSION_ATTEMPTS,
    policy_activate,
    policy_create_version,
    policy_update,
)
from .previews import (
    PREVIEW_BATCH_SIZE,
    PREVIEW_LIST_LIMIT,
    _preview_batches,
    policy_preview_request,
    policy_preview_run,
)
from .reviews import (
    CriteriaNotMet,
    application_approve,
    application_note,
    application_reject,
    application_request_changes,
)

# The name the views and callers used before the states moved to the models.
EDITABLE_STATES = EDITABLE_APPLICATION_STATES

__all__ = [
    "ATTACHMENTS_PER_APPLICATION",
    "ATTACHMENT_MAX_BYTES",
    "EDITABLE_STATES",
    "ENTRY_WEBHOOK_EVENTS",
    "EVIDENCE_FIELDS",
    "EXPIRY_WARNING_DAYS",
    "OVERRIDE_CRITERIA_PERMISSION",
    "POLICY_FIELDS",
    "POLICY_VERSION_ATTEMPTS",
    "PREVIEW_BATCH_SIZE",
    "PREVIEW_LIST_LIMIT",
    "CriteriaNotMet",
    "_preview_batches",
    "application_approve",
    "application_attachment_add",
    "application_attachment_remove",
    "application_create",
    "application_evaluate",
    "application_note",
    "application_reject",
    "application_request_changes",
    "application_resubmit",
    "application_submit",
    "application_update",
    "application_withdraw",
    "attachment_original_name",
    "can_override_criteria",
    "ensure_applicant",
    "ensure_reviewer",
    "evaluation_create",
    "facts_of",
    "policy_activate",
    "policy_create_version",
    "policy_preview_request",
    "policy_preview_run",
    "policy_update",
    "rules_of",
    "whitelist_entries_expire",
    "whitelist_entries_warn_expiring",
    "whitelist_entry_grant",
    "whitelist_entry_reinstate",
    "whitelist_entry_revoke",
    "whitelist_entry_set_share_limit",
    "whitelist_entry_suspend",
]
