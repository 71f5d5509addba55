"""REST API of mini programs, their profile links, shares and the public profile section.

The OpenAPI description of each view, with its examples, is in api_schema.py.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import authenticated_user
from accounts.models import OfficialAccount, Platform
from accounts.scopes import Scope
from accounts.selectors import (
    official_account_list_visible_to,
    organization_for_new,
    organization_list_for,
)
from integrations.authentication import ApiKeyAuthentication, request_api_key
from integrations.selectors import scoped_to_key
from portal.api_keys import IsAuthenticatedOrApiKey
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.pagination import IdCursorPagination
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from . import api_schema, services
from .filters import MiniProgramFilter, ProfileLinkFilter, ShareFilter
from .models import MiniProgram, ProfileLink, Share
from .profile import profile_section
from .selectors import (
    miniprogram_list_visible_to,
    profile_link_list_visible_to,
    rate_limit_headers,
    share_list_visible_to,
    share_quota_state,
)
from .serializers import (
    IconInputSerializer,
    MiniProgramInputSerializer,
    MiniProgramOutputSerializer,
    OptionalReasonInputSerializer,
    ProfileLinkInputSerializer,
    ProfileLinkOutputSerializer,
    ReasonInputSerializer,
    ShareInputSerializer,
    ShareOutputSerializer,
    quota_data,
)


def _miniprogram(request: Request, pk: int) -> MiniProgram:
    return get_object_or_404(miniprogram_list_visible_to(user=authenticated_user(request)), pk=pk)


def _accounts_for(request: Request) -> QuerySet[OfficialAccount]:
    """The accounts a user, or a key, may act for."""
    key = request_api_key(request)
    if key is not None:
        return scoped_to_key(OfficialAccount.objects.select_related("organization"), key=key)
    return official_account_list_visible_to(user=authenticated_user(request))


def _miniprogram_for_share(request: Request, pk: int) -> MiniProgram:
    key = request_api_key(request)
    if key is not None:
        return get_object_or_404(scoped_to_key(MiniProgram.objects.all(), key=key), pk=pk)
    return _miniprogram(request, pk)


def _link(request: Request, pk: int) -> ProfileLink:
    return get_object_or_404(profile_link_list_visible_to(user=authenticated_user(request)), pk=pk)


class _VisibleListApi(ListAPIView):
    """A list of what the caller may see, filtered strictly, newest first."""

    permission_classes = [IsAuthenticated]
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    ordering = ["-id"]
    model: type[Model]
    visible_to: Callable[..., QuerySet[Any]]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.model._default_manager.none()
        return type(self).visible_to(user=authenticated_user(self.request))


@api_schema.miniprogram_list_schema
class MiniProgramListApi(_VisibleListApi):
    """The mini programs of the caller's organizations (all of them for staff), newest first.

    An invalid filter value is a 400 naming the parameter.
    """

    serializer_class = MiniProgramOutputSerializer
    filterset_class = MiniProgramFilter
    ordering_fields = ["id", "name", "app_id", "created_at", "updated_at"]
    model = MiniProgram
    visible_to = staticmethod(miniprogram_list_visible_to)

    def post(self, request: Request) -> Response:
        """Owners and admins of the organization (or staff) register its mini programs.

        `organization` may be left out by a user who manages exactly one. A duplicate app id is a 400
        on `app_id`.
        """
        user = authenticated_user(request)
        # Any organization of the user's is accepted here, so a plain member gets the service's 403.
        serializer = MiniProgramInputSerializer(
            data=request.data, organizations=organization_list_for(user=user)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = organization_for_new(user=user, chosen=data.pop("organization", None))
        miniprogram = services.miniprogram_create(actor=user, organization=organization, **data)
        return Response(MiniProgramOutputSerializer(miniprogram).data, status=status.HTTP_201_CREATED)


@api_schema.miniprogram_detail_schema
class MiniProgramDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        """One mini program of the caller's organizations (any, for staff)."""
        return Response(MiniProgramOutputSerializer(_miniprogram(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        """Change the name, description, category or capabilities of an active mini program.

        The app id and the organization cannot change; a delisted mini program is a 409.
        """
        miniprogram = _miniprogram(request, pk)
        serializer = MiniProgramInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        miniprogram = services.miniprogram_update(
            actor=authenticated_user(request), miniprogram=miniprogram, data=data
        )
        return Response(MiniProgramOutputSerializer(miniprogram).data)


@api_schema.miniprogram_icon_schema
class MiniProgramIconApi(APIView):
    """PUT a multipart form with one file, `icon`: a PNG or JPEG (checked by content) of at most 512 KB.

    A larger or other file is a 400 on `icon`; a delisted mini program is a 409.
    """

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    def put(self, request: Request, pk: int) -> Response:
        miniprogram = _miniprogram(request, pk)
        serializer = IconInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        miniprogram = services.miniprogram_set_icon(
            actor=authenticated_user(request),
            miniprogram=miniprogram,
            uploaded=serializer.validated_data["icon"],
        )
        return Response(MiniProgramOutputSerializer(miniprogram).data)


@api_schema.miniprogram_delist_schema
class MiniProgramDelistApi(APIView):
    """Take an active mini program out of the programme; its live and pending links are unlinked with it.

    Delisting a delisted mini program is a 409.
    """

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        miniprogram = _miniprogram(request, pk)
        serializer = OptionalReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        miniprogram = services.miniprogram_delist(
            actor=authenticated_user(request), miniprogram=miniprogram, **serializer.validated_data
        )
        return Response(MiniProgramOutputSerializer(miniprogram).data)


@api_schema.profile_link_list_schema
class ProfileLinkListApi(_VisibleListApi):
    """The profile links of the caller's organizations' accounts (all of them for staff), newest first.

    An invalid filter value is a 400 naming the parameter.
    """

    serializer_class = ProfileLinkOutputSerializer
    filterset_class = ProfileLinkFilter
    ordering_fields = ["id", "position", "created_at", "updated_at"]
    model = ProfileLink
    visible_to = staticmethod(profile_link_list_visible_to)

    def post(self, request: Request) -> Response:
        """Ask staff to put an active mini program on a whitelisted account of the same organization.

        An account that is not whitelisted, or a link that is already open, is a 409.
        """
        user = authenticated_user(request)
        serializer = ProfileLinkInputSerializer(
            data=request.data,
            miniprograms=miniprogram_list_visible_to(user=user),
            accounts=official_account_list_visible_to(user=user),
        )
        serializer.is_valid(raise_exception=True)
        link = services.profile_link_request(actor=user, **serializer.validated_data)
        return Response(ProfileLinkOutputSerializer(link).data, status=status.HTTP_201_CREATED)


@api_schema.profile_link_detail_schema
class ProfileLinkDetailApi(APIView):
    """One profile link of the caller's organizations' accounts (any, for staff)."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(ProfileLinkOutputSerializer(_link(request, pk)).data)


class _ProfileLinkTransitionApi(APIView):
    input_serializer: type[OptionalReasonInputSerializer] | type[ReasonInputSerializer]
    transition: Callable[..., ProfileLink]

    def post(self, request: Request, pk: int) -> Response:
        link = _link(request, pk)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = type(self).transition(
            actor=authenticated_user(request), link=link, **serializer.validated_data
        )
        return Response(ProfileLinkOutputSerializer(link).data)


@api_schema.profile_link_approve_schema
class ProfileLinkApproveApi(_ProfileLinkTransitionApi):
    """Staff put a pending link live, within the active policy's limit of live links per account.

    A link that is not pending, or an account at its limit, is a 409.
    """

    permission_classes = [IsAdminUser]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_approve)


@api_schema.profile_link_reject_schema
class ProfileLinkRejectApi(_ProfileLinkTransitionApi):
    """Staff reject a pending link, saying why; a link that is not pending is a 409."""

    permission_classes = [IsAdminUser]
    input_serializer = ReasonInputSerializer
    transition = staticmethod(services.profile_link_reject)


@api_schema.profile_link_unlink_schema
class ProfileLinkUnlinkApi(_ProfileLinkTransitionApi):
    """Take a live link off the profile, or withdraw a pending one: the organization's owners and admins,
    or staff. A link that is neither live nor pending is a 409."""

    permission_classes = [IsAuthenticated]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_unlink)


@api_schema.share_create_schema
class ShareCreateApi(APIView):
    """Share a live mini program for an account: 201 within the hourly quota, 429 beyond it.

    The 201 carries the quota after the share; the 429 carries `Retry-After` and the `RateLimit`
    fields. A retry with the same `Idempotency-Key` within 24 hours answers with the first share
    (`Idempotent-Replayed: true`) and uses no quota; the same key for a different request is a 422.
    A link that is not live, or an account that is not whitelisted, is a 409.
    """

    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"POST": Scope.SHARES_WRITE}

    def post(self, request: Request, pk: int) -> Response:
        key = request_api_key(request)
        user = None if key is not None else authenticated_user(request)
        miniprogram = _miniprogram_for_share(request, pk)
        serializer = ShareInputSerializer(data=request.data, accounts=_accounts_for(request))
        serializer.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if len(idempotency_key) > 255:
            raise ValidationError({"Idempotency-Key": [_("At most 255 characters.")]})
        share, state, replayed = services.share_record(
            actor=user,
            api_key=key,
            miniprogram=miniprogram,
            account=serializer.validated_data["account"],
            idempotency_key=idempotency_key,
        )
        quota = quota_data(state)
        body = {
            "id": share.pk,
            "account": share.account_id,
            "miniprogram": share.miniprogram_id,
            "created_at": share.created_at,
            "quota": {key: quota[key] for key in ("limit", "used", "remaining", "resets_at")},
        }
        headers = rate_limit_headers(share_quota_state(account=share.account) if replayed else state)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


@api_schema.share_list_schema
class ShareListApi(_VisibleListApi):
    """The shares made for the accounts of the caller's organizations (all of them for staff), newest first.

    A cursor page at a time: follow `next` until it is null. An invalid filter value is a 400 naming
    the parameter; an invalid cursor is a 404.
    """

    serializer_class = ShareOutputSerializer
    pagination_class = IdCursorPagination
    filterset_class = ShareFilter
    # Only (nearly) unique columns: a cursor cannot page through more than a thousand tied rows.
    ordering_fields = ["id", "created_at"]
    model = Share
    visible_to = staticmethod(share_list_visible_to)


@api_schema.account_quota_schema
class AccountQuotaApi(APIView):
    """The shares an account has made in the current hour and how many remain, as the `RateLimit` fields say.

    An account that is not whitelisted has a limit of 0.
    """

    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"GET": Scope.SHARES_WRITE}

    def get(self, request: Request, pk: int) -> Response:
        account = get_object_or_404(_accounts_for(request), pk=pk)
        state = share_quota_state(account=account)
        return Response(quota_data(state), headers=rate_limit_headers(state))


class ProfileThrottle(PrincipalScopedRateThrottle):
    scope = "profile"


@api_schema.profile_schema
class ProfileApi(APIView):
    """Public: the mini programs an official account's profile shows, in order; cached, no query on a hit.

    An account that is not whitelisted shows none; an account the portal does not know is a 404.
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [ProfileThrottle, IpRateThrottle]
    api_key_scopes = {"GET": Scope.PROFILES_READ}

    def get(self, request: Request, platform: str, platform_uid: str) -> Response:
        # No account has an unknown platform: answer without a cache key built from arbitrary text.
        body = (
            profile_section(platform=platform, platform_uid=platform_uid)
            if platform in Platform.values
            else None
        )
        if body is None:
            raise NotFound(_("The portal does not know this account."))
        return Response(body)
