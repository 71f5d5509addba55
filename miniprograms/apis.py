"""REST API of mini programs, their profile links, shares and the public profile section."""

from collections.abc import Callable

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
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
    organization_default_for,
    organization_list_for,
)
from integrations.authentication import ApiKeyAuthentication, request_api_key
from integrations.selectors import scoped_to_key
from portal.api_keys import IsAuthenticatedOrApiKey
from portal.errors import PROBLEM_CONTENT_TYPE
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.openapi import problems
from portal.pagination import IdCursorPagination
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from . import services
from .filters import MiniProgramFilter, ProfileLinkFilter, ShareFilter
from .models import MiniProgram, ProfileLink, Share
from .profile import profile_section
from .selectors import miniprogram_list_visible_to, profile_link_list_visible_to, share_list_visible_to
from .serializers import (
    IconInputSerializer,
    MiniProgramInputSerializer,
    MiniProgramOutputSerializer,
    OptionalReasonInputSerializer,
    ProfileLinkInputSerializer,
    ProfileLinkOutputSerializer,
    ProfileOutputSerializer,
    QuotaOutputSerializer,
    ReasonInputSerializer,
    ShareCreatedOutputSerializer,
    ShareInputSerializer,
    ShareOutputSerializer,
    quota_data,
)

# Statuses of every operation that reads a body: too large, or not of the media type it takes.
BODY_PROBLEMS = problems(413, 415)

MINIPROGRAM_EXAMPLE = {
    "id": 5,
    "organization": 7,
    "app_id": "2021000000000001",
    "name": "Burger Order",
    "description": "Order burgers ahead.",
    "category": "business",
    "capabilities": ["payment", "card"],
    "state": "active",
    "icon_url": None,
    "created_at": "2025-03-01T08:00:00Z",
    "updated_at": "2025-03-01T08:00:00Z",
}
MINIPROGRAM_REQUEST_EXAMPLE = {
    key: MINIPROGRAM_EXAMPLE[key] for key in ("app_id", "name", "description", "category", "capabilities")
}
LINK_EXAMPLE = {
    "id": 9,
    "miniprogram": 5,
    "account": 42,
    "state": "pending_review",
    "position": 1,
    "reason": "",
    "decided_at": None,
    "created_at": "2025-03-01T09:00:00Z",
    "updated_at": "2025-03-01T09:00:00Z",
}


def _miniprogram_example(summary: str, **changes: object) -> OpenApiExample:
    return OpenApiExample(summary, value={**MINIPROGRAM_EXAMPLE, **changes}, response_only=True)


def _link_example(summary: str, **changes: object) -> OpenApiExample:
    return OpenApiExample(summary, value={**LINK_EXAMPLE, **changes}, response_only=True)


def _conflict_example(summary: str, detail: str, code: str = "conflict") -> OpenApiExample:
    return OpenApiExample(
        summary,
        value={"type": f"urn:portal:problem:{code}", "title": "Conflict", "status": 409, "detail": detail},
        response_only=True,
        status_codes=["409"],
        media_type=PROBLEM_CONTENT_TYPE,
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


@extend_schema_view(
    get=extend_schema(
        summary="List mini programs",
        examples=[_miniprogram_example("A mini program")],
    ),
    post=extend_schema(
        summary="Register a mini program",
        request=MiniProgramInputSerializer,
        responses={201: MiniProgramOutputSerializer, **BODY_PROBLEMS},
        examples=[
            OpenApiExample("A new mini program", value=MINIPROGRAM_REQUEST_EXAMPLE, request_only=True),
            _miniprogram_example("Registered"),
        ],
    ),
)
@extend_schema(tags=["miniprograms"])
class MiniProgramListApi(ListAPIView):
    """The mini programs of the caller's organizations (all of them for staff), newest first.

    An invalid filter value is a 400 naming the parameter.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = MiniProgramOutputSerializer
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = MiniProgramFilter
    ordering_fields = ["id", "name", "app_id", "created_at", "updated_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[MiniProgram]:
        if getattr(self, "swagger_fake_view", False):
            return MiniProgram.objects.none()
        return miniprogram_list_visible_to(user=authenticated_user(self.request))

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
        organization = data.pop("organization", None) or organization_default_for(user=user)
        if organization is None:
            message = _("This field is required when you do not manage exactly one organization.")
            raise ValidationError({"organization": [message]})
        miniprogram = services.miniprogram_create(actor=user, organization=organization, **data)
        return Response(MiniProgramOutputSerializer(miniprogram).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary="Get a mini program",
        responses={200: MiniProgramOutputSerializer},
        examples=[_miniprogram_example("A mini program")],
    ),
    patch=extend_schema(
        summary="Edit a mini program",
        request=MiniProgramInputSerializer,
        responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
        examples=[
            OpenApiExample(
                "A new name", value={"name": "Burger Order 2", "capabilities": ["search"]}, request_only=True
            ),
            _miniprogram_example("Edited", name="Burger Order 2", capabilities=["search"]),
            _conflict_example(
                "Delisted", "Cannot change a mini program that is Delisted.", code="invalid-transition"
            ),
        ],
    ),
)
@extend_schema(tags=["miniprograms"])
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


@extend_schema(
    summary="Upload a mini program's icon",
    tags=["miniprograms"],
    request={"multipart/form-data": IconInputSerializer},
    responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
    examples=[
        _miniprogram_example("With its icon", icon_url="/media/miniprograms/icons/5/0f3c9a.png"),
        _conflict_example(
            "Delisted", "Cannot change a mini program that is Delisted.", code="invalid-transition"
        ),
    ],
)
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


@extend_schema(
    summary="Delist a mini program",
    tags=["miniprograms"],
    request=OptionalReasonInputSerializer,
    responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
    examples=[
        OpenApiExample("With a reason", value={"reason": "The shop closed."}, request_only=True),
        _miniprogram_example("Delisted", state="delisted"),
        _conflict_example(
            "Already delisted", "Cannot delist a mini program that is Delisted.", code="invalid-transition"
        ),
    ],
)
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


@extend_schema_view(
    get=extend_schema(
        summary="List profile links",
        examples=[_link_example("A pending link")],
    ),
    post=extend_schema(
        summary="Ask for a profile link",
        request=ProfileLinkInputSerializer,
        responses={201: ProfileLinkOutputSerializer, **problems(409), **BODY_PROBLEMS},
        examples=[
            OpenApiExample("A link", value={"miniprogram": 5, "account": 42}, request_only=True),
            _link_example("Requested"),
            _conflict_example(
                "Not whitelisted",
                "Alice Foods is not whitelisted; apply for the whitelist first.",
                code="not-whitelisted",
            ),
        ],
    ),
)
@extend_schema(tags=["profiles"])
class ProfileLinkListApi(ListAPIView):
    """The profile links of the caller's organizations' accounts (all of them for staff), newest first.

    An invalid filter value is a 400 naming the parameter.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = ProfileLinkOutputSerializer
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = ProfileLinkFilter
    ordering_fields = ["id", "position", "created_at", "updated_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[ProfileLink]:
        if getattr(self, "swagger_fake_view", False):
            return ProfileLink.objects.none()
        return profile_link_list_visible_to(user=authenticated_user(self.request))

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


@extend_schema(
    summary="Get a profile link",
    tags=["profiles"],
    responses={200: ProfileLinkOutputSerializer},
    examples=[_link_example("A live link", state="live", decided_at="2025-03-02T10:00:00Z")],
)
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


def _transition_schema(
    *, summary: str, request: type, reason: str, result: OpenApiExample
) -> Callable[[type], type]:
    return extend_schema(
        summary=summary,
        tags=["profiles"],
        request=request,
        responses={200: ProfileLinkOutputSerializer, **problems(409), **BODY_PROBLEMS},
        examples=[
            OpenApiExample("With a reason", value={"reason": reason}, request_only=True),
            result,
            _conflict_example(
                "No longer possible", "Cannot approve a link that is Rejected.", code="invalid-transition"
            ),
        ],
    )


@_transition_schema(
    summary="Approve a profile link",
    request=OptionalReasonInputSerializer,
    reason="Checked the mini program.",
    result=_link_example(
        "Live", state="live", reason="Checked the mini program.", decided_at="2025-03-02T10:00:00Z"
    ),
)
class ProfileLinkApproveApi(_ProfileLinkTransitionApi):
    """Staff put a pending link live, within the active policy's limit of live links per account.

    A link that is not pending, or an account at its limit, is a 409.
    """

    permission_classes = [IsAdminUser]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_approve)


@_transition_schema(
    summary="Reject a profile link",
    request=ReasonInputSerializer,
    reason="The mini program does not match the account.",
    result=_link_example(
        "Rejected",
        state="rejected",
        reason="The mini program does not match the account.",
        decided_at="2025-03-02T10:00:00Z",
    ),
)
class ProfileLinkRejectApi(_ProfileLinkTransitionApi):
    """Staff reject a pending link, saying why; a link that is not pending is a 409."""

    permission_classes = [IsAdminUser]
    input_serializer = ReasonInputSerializer
    transition = staticmethod(services.profile_link_reject)


@_transition_schema(
    summary="Unlink a profile link",
    request=OptionalReasonInputSerializer,
    reason="Seasonal menu ended.",
    result=_link_example("Unlinked", state="unlinked"),
)
class ProfileLinkUnlinkApi(_ProfileLinkTransitionApi):
    """Take a live link off the profile, or withdraw a pending one: the organization's owners and admins,
    or staff. A link that is neither live nor pending is a 409."""

    permission_classes = [IsAuthenticated]
    input_serializer = OptionalReasonInputSerializer
    transition = staticmethod(services.profile_link_unlink)


QUOTA_EXCEEDED_EXAMPLE = OpenApiExample(
    "Quota used up",
    value={
        "type": "urn:portal:problem:share-quota-exceeded",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "This account has used its 5 share(s) for this hour; the next is possible at 10:00 UTC.",
    },
    response_only=True,
    status_codes=["429"],
    media_type=PROBLEM_CONTENT_TYPE,
)


@extend_schema(
    summary="Share a mini program",
    tags=["shares"],
    request=ShareInputSerializer,
    parameters=[
        OpenApiParameter(
            "Idempotency-Key",
            {"type": "string", "maxLength": 255},
            OpenApiParameter.HEADER,
            description="Any unique string of at most 255 characters, e.g. a UUID, to make retries safe.",
        ),
        OpenApiParameter(
            "Idempotent-Replayed",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=[201],
            enum=["true"],
            description="Present when the answer repeats an earlier request with the same Idempotency-Key.",
        ),
    ],
    responses={201: ShareCreatedOutputSerializer, **problems(409, 422), **BODY_PROBLEMS},
    examples=[
        OpenApiExample("For an account", value={"account": 42}, request_only=True),
        OpenApiExample(
            "Shared",
            value={
                "id": 1001,
                "account": 42,
                "miniprogram": 5,
                "created_at": "2025-03-01T09:15:00Z",
                "quota": {"limit": 5, "used": 1, "remaining": 4, "resets_at": "2025-03-01T10:00:00Z"},
            },
            response_only=True,
            status_codes=["201"],
        ),
        _conflict_example(
            "Not live",
            "Burger Order is not live on the profile of Alice Foods.",
            code="link-not-live",
        ),
        OpenApiExample(
            "Key reused",
            value={
                "type": "urn:portal:problem:idempotency-key-reused",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "This Idempotency-Key was already used for a different request.",
                "errors": {"Idempotency-Key": ["Use a new key for a new request."]},
            },
            response_only=True,
            status_codes=["422"],
            media_type=PROBLEM_CONTENT_TYPE,
        ),
        QUOTA_EXCEEDED_EXAMPLE,
    ],
)
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
        current = services.share_quota_state(account=share.account) if replayed else state
        headers = services.rate_limit_headers(current)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


@extend_schema_view(
    get=extend_schema(
        summary="List shares",
        tags=["shares"],
        examples=[
            OpenApiExample(
                "A share",
                value={
                    "id": 1001,
                    "account": 42,
                    "miniprogram": 5,
                    "slot": 1,
                    "limit": 5,
                    "window_start": "2025-03-01T09:00:00Z",
                    "created_at": "2025-03-01T09:15:00Z",
                },
                response_only=True,
            )
        ],
    )
)
class ShareListApi(ListAPIView):
    """The shares made for the accounts of the caller's organizations (all of them for staff), newest first.

    A cursor page at a time: follow `next` until it is null. An invalid filter value is a 400 naming
    the parameter; an invalid cursor is a 404.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = ShareOutputSerializer
    pagination_class = IdCursorPagination
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = ShareFilter
    # Only (nearly) unique columns: a cursor cannot page through more than a thousand tied rows.
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[Share]:
        if getattr(self, "swagger_fake_view", False):
            return Share.objects.none()
        return share_list_visible_to(user=authenticated_user(self.request))


@extend_schema(
    summary="Get an account's share quota",
    tags=["shares"],
    responses={200: QuotaOutputSerializer},
    examples=[
        OpenApiExample(
            "Two shares made",
            value={
                "limit": 5,
                "used": 2,
                "remaining": 3,
                "window_start": "2025-03-01T09:00:00Z",
                "resets_at": "2025-03-01T10:00:00Z",
            },
            response_only=True,
        )
    ],
)
class AccountQuotaApi(APIView):
    """The shares an account has made in the current hour and how many remain, as the `RateLimit` fields say.

    An account that is not whitelisted has a limit of 0.
    """

    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"GET": Scope.SHARES_WRITE}

    def get(self, request: Request, pk: int) -> Response:
        account = get_object_or_404(_accounts_for(request), pk=pk)
        state = services.share_quota_state(account=account)
        return Response(quota_data(state), headers=services.rate_limit_headers(state))


class ProfileThrottle(PrincipalScopedRateThrottle):
    scope = "profile"


@extend_schema(
    summary="Get an account's profile section",
    tags=["profiles"],
    parameters=[
        OpenApiParameter(
            "platform",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            description="The platform: `weibo`. Any other is a 404.",
        ),
        OpenApiParameter(
            "platform_uid", OpenApiTypes.STR, OpenApiParameter.PATH, description="The account's uid there."
        ),
    ],
    responses={200: ProfileOutputSerializer},
    examples=[
        OpenApiExample(
            "A whitelisted account",
            value={
                "whitelisted": True,
                "miniprograms": [
                    {
                        "app_id": "2021000000000001",
                        "name": "Burger Order",
                        "description": "Order burgers ahead.",
                        "category": "business",
                        "capabilities": ["payment", "card"],
                        "icon_url": None,
                    }
                ],
            },
            response_only=True,
        ),
        OpenApiExample(
            "Not whitelisted", value={"whitelisted": False, "miniprograms": []}, response_only=True
        ),
    ],
)
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
