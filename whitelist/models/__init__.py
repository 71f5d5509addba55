"""Criteria policies, whitelist applications with their evaluations and review events, and entries.

One module an entity; every model and name is re-exported here, where migrations and callers find them.
"""

from .applications import (
    EDITABLE_APPLICATION_STATES,
    OPEN_APPLICATION_STATES,
    ApplicationState,
    WhitelistApplication,
)
from .attachments import ApplicationAttachment, AttachmentContentType, attachment_path, private_storage
from .entries import EntryState, WhitelistEntry, WhitelistEntryEvent, WhitelistEntryQuerySet
from .policies import CriteriaPolicy, PolicyPreview, PreviewStatus, ReasonCode, default_required_criteria
from .reviews import EVALUATION_TRIGGERS_OF_RECORD, Evaluation, EvaluationTrigger, ReviewEvent

__all__ = [
    "EDITABLE_APPLICATION_STATES",
    "EVALUATION_TRIGGERS_OF_RECORD",
    "OPEN_APPLICATION_STATES",
    "ApplicationAttachment",
    "ApplicationState",
    "AttachmentContentType",
    "CriteriaPolicy",
    "EntryState",
    "Evaluation",
    "EvaluationTrigger",
    "PolicyPreview",
    "PreviewStatus",
    "ReasonCode",
    "ReviewEvent",
    "WhitelistApplication",
    "WhitelistEntry",
    "WhitelistEntryEvent",
    "WhitelistEntryQuerySet",
    "attachment_path",
    "default_required_criteria",
    "private_storage",
]
