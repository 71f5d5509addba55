"""API routes of the accounts app, under /api/v1/."""

from django.urls import path

from . import apis

urlpatterns = [
    path("auth/register/", apis.RegisterApi.as_view(), name="api-register"),
    path("auth/token/", apis.TokenApi.as_view(), name="api-token"),
    path("verticals/", apis.VerticalListApi.as_view(), name="api-verticals"),
    path("accounts/", apis.OfficialAccountListApi.as_view(), name="api-accounts"),
    path("accounts/bulk-upsert/", apis.AccountBulkUpsertApi.as_view(), name="api-accounts-bulk-upsert"),
    path("accounts/<int:pk>/", apis.OfficialAccountDetailApi.as_view(), name="api-account-detail"),
    path("accounts/<int:pk>/verify/", apis.OfficialAccountVerifyApi.as_view(), name="api-account-verify"),
    path(
        "accounts/<int:pk>/request-verification/",
        apis.OfficialAccountRequestVerificationApi.as_view(),
        name="api-account-request-verification",
    ),
]
