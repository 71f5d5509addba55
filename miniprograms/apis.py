"""REST API of mini programs and their profile links."""

from collections.abc import Callable

from django.db.models import QuerySet, TextChoices
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import OfficialAccount
from accounts.selectors import (
    official_account_list_visible_to,
    organization_default_for,
    organization_list_for,
)
from integrations.authentication import ApiKeyAuthentication, IsAuthenticatedOrApiKey, request_api_key
from integrations.scopes import Scope
from integrations.selectors import scoped_to_key
from portal.auth import authenticated_user
from portal.pagination import paginated_response
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from . import services
from .models import MiniProgram, MiniProgramState, ProfileLink, ProfileLinkState
from .profile import profile_section
from .selectors import miniprogram_list_visible_to, profile_link_list_visible_to
from .serializers import (
    IconInputSerializer,
    MiniProgramInputSerializer,
    MiniProgramOutputSerializer,
    OptionalReasonInputSerializer,
    ProfileLinkInputSerializer,
    ProfileLinkOutputSerializer,
    ReasonInputSerializer,
    ShareInputSerializer,
    quota_data,
)


def _choice_param(request: Request, name: str, choices: type[TextChoices]) -> str:
    value = request.query_params.get(name, "")
    if value and value not in choices.values:
        raise ValidationError(
            {name: [_("Choose one of: %(values)s.") % {"values": ", ".join(choices.values)}]}
        )
    return value


def _id_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    if value and not value.isdigit():
        raise ValidationError({name: [_("A valid integer is required.")]})
    return int(value) if value else None


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


class MiniProgramListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        miniprograms = miniprogram_list_visible_to(
            user=authenticated_user(request),
            state=_choice_param(request, "state", MiniProgramState),
            account_id=_id_param(request, "account"),
        )
        return paginated_response(self, request, miniprograms, MiniProgramOutputSerializer)

    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        # Any organization of the user's is accepted here, so a plain member gets the service's 403.
        serializer = MiniProgramInputSerializer(
            data=request.data, organizations=organization_list_for(user=user)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = data.pop("organization", None) or organization_default_for(user=user)
        if organization is None:
            message = _("This field is required when you do not manage exactly one organization.")
            raise ValidationError({"organization": [message]})
        miniprogram = services.miniprogram_create(actor=user, organization=organization, **data)
        return Response(MiniProgramOutputSerializer(miniprogram).data, status=status.HTTP_201_CREATED)


class MiniProgramDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(MiniProgramOutputSerializer(_miniprogram(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        miniprogram = _miniprogram(request, pk)
        serializer = MiniProgramInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        miniprogram = services.miniprogram_update(
            actor=authenticated_user(request), miniprogram=miniprogram, data=data
        )
        return Response(MiniProgramOutputSerializer(miniprogram).data)


class MiniProgramIconApi(APIView):
    """PUT a multipart "icon": a PNG or JPEG of at most 512 KB."""

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


class MiniProgramDelistApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        miniprogram = _miniprogram(request, pk)
        serializer = OptionalReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        miniprogram = services.miniprogram_delist(
            actor=authenticated_user(request), miniprogram=miniprogram, **serializer.validated_data
        )
        return Response(MiniProgramOutputSerializer(miniprogram).data)


class ProfileLinkListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        links = profile_link_list_visible_to(
            user=authenticated_user(request),
            state=_choice_param(request, "state", ProfileLinkState),
            account_id=_id_param(request, "account"),
            miniprogram_id=_id_param(request, "miniprogram"),
        )
        return paginated_response(self, request, links, ProfileLinkOutputSerializer)

    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        serializer = ProfileLinkInputSerializer(
            data=request.data,
            miniprograms=miniprogram_list_visible_to(user=user),
            accounts=official_account_list_visible_to(user=user),
        )
        serializer.is_valid(raise_exception=True)
        link = services.profile_link_request(actor=user, **serializer.validated_data)
        return Response(ProfileLinkOutputSerializer(link).data, status=status.HTTP_201_CREATED)


class ProfileLinkDetailApi(APIView):
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


class ProfileLinkApproveApi(_ProfileLinkTransitionApi):
    permission_classes = [IsAdminUser]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_approve)


class ProfileLinkRejectApi(_ProfileLinkTransitionApi):
    permission_classes = [IsAdminUser]
    input_serializer = ReasonInputSerializer
    transition = staticmethod(services.profile_link_reject)


class ProfileLinkUnlinkApi(_ProfileLinkTransitionApi):
    permission_classes = [IsAuthenticated]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_unlink)


class ShareCreateApi(APIView):
    """Share a live mini program for an account: 201 within the hourly quota, 429 beyond it."""

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
        current = services.share_quota_state(account=share.account) if replayed else state
        headers = services.rate_limit_headers(current)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


class AccountQuotaApi(APIView):
    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"GET": Scope.SHARES_WRITE}

    def get(self, request: Request, pk: int) -> Response:
        account = get_object_or_404(_accounts_for(request), pk=pk)
        state = services.share_quota_state(account=account)
        return Response(quota_data(state), headers=services.rate_limit_headers(state))


class ProfileThrottle(PrincipalScopedRateThrottle):
    scope = "profile"


class ProfileApi(APIView):
    """Public: the mini programs an official account's profile shows; cached, no query on a hit."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [ProfileThrottle, IpRateThrottle]
    api_key_scopes = {"GET": Scope.PROFILES_READ}

    def get(self, request: Request, platform: str, platform_uid: str) -> Response:
        body = profile_section(platform=platform, platform_uid=platform_uid)
        if body is None:
            raise NotFound(_("The portal does not know this account."))
        return Response(body)
