"""API routes of mini programs, profile links and shares, under /api/v1/."""

from django.urls import path

from portal.converters import PLATFORM_UID

from . import apis

urlpatterns = [
    path("miniprograms/", apis.MiniProgramListApi.as_view(), name="api-miniprograms"),
    path("miniprograms/<int:pk>/", apis.MiniProgramDetailApi.as_view(), name="api-miniprogram-detail"),
    path("miniprograms/<int:pk>/icon/", apis.MiniProgramIconApi.as_view(), name="api-miniprogram-icon"),
    path("miniprograms/<int:pk>/delist/", apis.MiniProgramDelistApi.as_view(), name="api-miniprogram-delist"),
    path("miniprograms/<int:pk>/shares/", apis.ShareCreateApi.as_view(), name="api-miniprogram-shares"),
    path("shares/", apis.ShareListApi.as_view(), name="api-shares"),
    path("accounts/<int:pk>/quota/", apis.AccountQuotaApi.as_view(), name="api-account-quota"),
    path(
        f"profiles/<str:platform>/<{PLATFORM_UID}:platform_uid>/miniprograms/",
        apis.ProfileApi.as_view(),
        name="api-profile-miniprograms",
    ),
    path("profile-links/", apis.ProfileLinkListApi.as_view(), name="api-profile-links"),
    path("profile-links/<int:pk>/", apis.ProfileLinkDetailApi.as_view(), name="api-profile-link-detail"),
    path(
        "profile-links/<int:pk>/approve/",
        apis.ProfileLinkApproveApi.as_view(),
        name="api-profile-link-approve",
    ),
    path(
        "profile-links/<int:pk>/reject/", apis.ProfileLinkRejectApi.as_view(), name="api-profile-link-reject"
    ),
    path(
        "profile-links/<int:pk>/unlink/", apis.ProfileLinkUnlinkApi.as_view(), name="api-profile-link-unlink"
    ),
]
