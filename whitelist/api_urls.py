"""API routes of the whitelist, under /api/v1/."""

from django.urls import path

from portal.converters import PLATFORM_UID

from . import apis

urlpatterns = [
    path("applications/", apis.ApplicationListApi.as_view(), name="api-applications"),
    path("applications/<int:pk>/", apis.ApplicationDetailApi.as_view(), name="api-application-detail"),
    path("applications/<int:pk>/submit/", apis.ApplicationSubmitApi.as_view(), name="api-application-submit"),
    path(
        "applications/<int:pk>/withdraw/",
        apis.ApplicationWithdrawApi.as_view(),
        name="api-application-withdraw",
    ),
    path(
        "applications/<int:pk>/resubmit/",
        apis.ApplicationResubmitApi.as_view(),
        name="api-application-resubmit",
    ),
    path(
        "applications/<int:pk>/approve/", apis.ApplicationApproveApi.as_view(), name="api-application-approve"
    ),
    path("applications/<int:pk>/reject/", apis.ApplicationRejectApi.as_view(), name="api-application-reject"),
    path(
        "applications/<int:pk>/request-changes/",
        apis.ApplicationRequestChangesApi.as_view(),
        name="api-application-request-changes",
    ),
    path("applications/<int:pk>/events/", apis.ApplicationEventsApi.as_view(), name="api-application-events"),
    path(
        "applications/<int:pk>/evaluate/",
        apis.ApplicationEvaluateApi.as_view(),
        name="api-application-evaluate",
    ),
    path(
        "applications/<int:pk>/attachments/",
        apis.AttachmentListApi.as_view(),
        name="api-application-attachments",
    ),
    path(
        "applications/<int:pk>/attachments/<int:attachment_id>/",
        apis.AttachmentDetailApi.as_view(),
        name="api-application-attachment",
    ),
    path("whitelist-entries/", apis.EntryListApi.as_view(), name="api-entries"),
    path("whitelist-entries/<int:pk>/", apis.EntryDetailApi.as_view(), name="api-entry-detail"),
    path("whitelist-entries/<int:pk>/suspend/", apis.EntrySuspendApi.as_view(), name="api-entry-suspend"),
    path(
        "whitelist-entries/<int:pk>/reinstate/", apis.EntryReinstateApi.as_view(), name="api-entry-reinstate"
    ),
    path("whitelist-entries/<int:pk>/revoke/", apis.EntryRevokeApi.as_view(), name="api-entry-revoke"),
    path(
        f"whitelist/<str:platform>/<{PLATFORM_UID}:platform_uid>/",
        apis.WhitelistLookupApi.as_view(),
        name="api-whitelist-lookup",
    ),
]
