"""REST API of the whitelist, one module an entity; the views are re-exported here for the routes."""

from .applications import (
    ApplicationApproveApi,
    ApplicationDetailApi,
    ApplicationEvaluateApi,
    ApplicationEventsApi,
    ApplicationListApi,
    ApplicationRejectApi,
    ApplicationRequestChangesApi,
    ApplicationResubmitApi,
    ApplicationSubmitApi,
    ApplicationWithdrawApi,
)
from .attachments import AttachmentDetailApi, AttachmentListApi, FirstRendererNegotiation
from .entries import (
    EntryDetailApi,
    EntryListApi,
    EntryReinstateApi,
    EntryRevokeApi,
    EntrySuspendApi,
    WhitelistLookupApi,
    WhitelistLookupThrottle,
)

__all__ = [
    "ApplicationApproveApi",
    "ApplicationDetailApi",
    "ApplicationEvaluateApi",
    "ApplicationEventsApi",
    "ApplicationListApi",
    "ApplicationRejectApi",
    "ApplicationRequestChangesApi",
    "ApplicationResubmitApi",
    "ApplicationSubmitApi",
    "ApplicationWithdrawApi",
    "AttachmentDetailApi",
    "AttachmentListApi",
    "EntryDetailApi",
    "EntryListApi",
    "EntryReinstateApi",
    "EntryRevokeApi",
    "EntrySuspendApi",
    "FirstRendererNegotiation",
    "WhitelistLookupApi",
    "WhitelistLookupThrottle",
]
