"""REST API of the whitelist: applications and their transitions, events, entries and the public lookup."""

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import authenticated_user
from accounts.models import OfficialAccount, Platform
from accounts.scopes import Scope
from accounts.selectors import official_account_list_visible_to
from integrations.authentication import ApiKeyAuthentication, request_api_key
from integrations.selectors import scoped_to_key
from portal.api_keys import IsAuthenticatedOrApiKey
from portal.errors import PROBLEM_CONTENT_TYPE
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.openapi import problems
from portal.pagination import IdCursorPagination, PagePagination
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from . import services
from .filters import ApplicationFilter, EntryFilter
from .models import (
    ApplicationAttachment,
    AttachmentContentType,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
)
from .selectors import (
    application_events_visible_to,
    application_list_visible_to,
    whitelist_entry_list_visible_to,
    with_latest_evaluation,
)
from .serializers import (
    ApplicationInputSerializer,
    ApplicationOutputSerializer,
    ApplicationUpdateSerializer,
    ApproveInputSerializer,
    AttachmentInputSerializer,
    AttachmentOutputSerializer,
    EntryOutputSerializer,
    EntryReasonInputSerializer,
    EntryUpdateSerializer,
    EvaluationOutputSerializer,
    RejectInputSerializer,
    RequestChangesInputSerializer,
    ReviewEventOutputSerializer,
    WhitelistLookupOutputSerializer,
)

# OpenAPI: tags, path parameters and examples

APPLICATIONS = ["applications"]
WHITELIST = ["whitelist"]

APPLICATION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The application's id.")
ATTACHMENT_ID = OpenApiParameter(
    "attachment_id", int, OpenApiParameter.PATH, description="The document's id within the application."
)
ENTRY_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The whitelist entry's id.")

EVIDENCE_VALUE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Our own team builds and runs the ordering mini program.",
}
EVALUATION_VALUE = {
    "recommendation": "eligible",
    "policy_version": 1,
    "trigger": "submission",
    "results": [
        {
            "criterion": "verified_account",
            "outcome": "pass",
            "reason": "The account is verified by platform staff.",
        },
        {
            "criterion": "audience",
            "outcome": "pass",
            "reason": "250000 followers; the policy asks for 100000.",
        },
    ],
    "facts": {
        "account_verified": True,
        "vertical_code": "food_beverage",
        "vertical_name": "Food and beverage",
        "followers_count": 250000,
        **{
            name: EVIDENCE_VALUE[name]
            for name in ("has_in_house_team", "dev_team_size", "self_developed_products", "services")
        },
        "support_channels": EVIDENCE_VALUE["support_channels"],
        "attachment_count": 0,
        "last_revoked_at": None,
        "now": "2026-03-02T09:30:00Z",
    },
    "created_at": "2026-03-02T09:30:00Z",
}


def _application_value(state: str, **changes: Any) -> dict[str, Any]:
    value = {
        "id": 42,
        "account": 7,
        "organization": 3,
        "state": state,
        **EVIDENCE_VALUE,
        "submitted_at": None,
        "decided_at": None,
        "created_at": "2026-03-01T08:00:00Z",
        "updated_at": "2026-03-01T08:00:00Z",
        "evaluation": None,
    }
    if state != "draft":
        value.update(submitted_at="2026-03-02T09:30:00Z", evaluation=EVALUATION_VALUE)
    value.update(changes)
    return value


def _problem_example(status_code: int, title: str, detail: str, code: str) -> OpenApiExample:
    return OpenApiExample(
        detail,
        value={"type": f"urn:portal:problem:{code}", "title": title, "status": status_code, "detail": detail},
        response_only=True,
        status_codes=[str(status_code)],
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _conflict_example(detail: str) -> OpenApiExample:
    return _problem_example(409, "Conflict", detail, "invalid-transition")


APPLICATION_RESPONSE = OpenApiExample(
    "A submitted application", value=_application_value("submitted"), response_only=True
)
EVENT_RESPONSE = OpenApiExample(
    "A rejection",
    value={
        "id": 118,
        "actor": "Platform staff",
        "from_state": "submitted",
        "to_state": "rejected",
        "reason_code": "no_independent_development",
        "message": "We could not confirm the team.",
        "visible_to_applicant": True,
        "created_at": "2026-03-04T10:15:00Z",
    },
    response_only=True,
)
ENTRY_VALUE = {
    "id": 12,
    "account": 7,
    "state": "active",
    "share_limit_per_hour": 1,
    "valid_from": "2026-03-04T10:15:00Z",
    "valid_until": "2027-03-04T10:15:00Z",
}
ATTACHMENT_RESPONSE = OpenApiExample(
    "A licence scan",
    value={
        "id": 5,
        "original_name": "licence.pdf",
        "content_type": "application/pdf",
        "size": 183204,
        "created_at": "2026-03-01T08:05:00Z",
        "download_url": "/api/v1/applications/42/attachments/5/",
    },
    response_only=True,
)
REASON_REQUEST = OpenApiExample(
    "A reason", value={"reason": "Shares sent to users who did not ask for them."}, request_only=True
)
# PATCH of an entry takes its one field as required, which drf-spectacular's PATCH handling would drop.
ENTRY_UPDATE_REQUEST_SCHEMA = {
    "type": "object",
    "properties": {"share_limit_per_hour": {"type": "integer", "minimum": 1, "maximum": 10_000}},
    "required": ["share_limit_per_hour"],
}


def _application(request: Request, pk: int) -> WhitelistApplication:
    return get_object_or_404(application_list_visible_to(user=authenticated_user(request)), pk=pk)


@extend_schema_view(
    get=extend_schema(
        summary="List applications",
        tags=APPLICATIONS,
        examples=[APPLICATION_RESPONSE],
    ),
    post=extend_schema(
        summary="Start an application",
        tags=APPLICATIONS,
        request=ApplicationInputSerializer,
        responses={201: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample(
                "Evidence for an account", value={"account": 7, **EVIDENCE_VALUE}, request_only=True
            ),
            OpenApiExample(
                "The new draft", value=_application_value("draft"), response_only=True, status_codes=["201"]
            ),
            _problem_example(
                409,
                "Conflict",
                "This account already has an open application (#41, submitted).",
                "conflict",
            ),
        ],
    ),
)
class ApplicationListApi(ListAPIView[WhitelistApplication]):
    """Applications of the caller's organizations (all of them for staff), newest first by default."""

    permission_classes = [IsAuthenticated]
    queryset = WhitelistApplication.objects.none()  # the model, for the schema; get_queryset scopes the rows
    serializer_class = ApplicationOutputSerializer
    pagination_class = PagePagination
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = ApplicationFilter
    ordering_fields = ["id", "created_at", "updated_at", "submitted_at", "decided_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[WhitelistApplication]:
        return with_latest_evaluation(application_list_visible_to(user=authenticated_user(self.request)))

    def post(self, request: Request) -> Response:
        """Start a draft for an account of the caller's organization; one open application per account."""
        user = authenticated_user(request)
        serializer = ApplicationInputSerializer(
            data=request.data, accounts=official_account_list_visible_to(user=user)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        account: OfficialAccount = data.pop("account")
        application = services.application_create(actor=user, account=account, data=data)
        return Response(ApplicationOutputSerializer(application).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary="Read an application",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        responses={200: ApplicationOutputSerializer},
        examples=[APPLICATION_RESPONSE],
    ),
    patch=extend_schema(
        summary="Edit an application's evidence",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample("A bigger team", value={"dev_team_size": 12}, request_only=True),
            OpenApiExample(
                "The edited draft", value=_application_value("draft", dev_team_size=12), response_only=True
            ),
            _conflict_example("Cannot edit an application that is Submitted."),
        ],
    ),
)
class ApplicationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(ApplicationOutputSerializer(_application(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        """Change the fields sent; only a draft or an application under change request can change."""
        application = _application(request, pk)
        serializer = ApplicationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        application = services.application_update(
            actor=authenticated_user(request), application=application, data=data
        )
        return Response(ApplicationOutputSerializer(application).data)


def _applicant_transition_schema(summary: str, to_state: str, conflict: str) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=APPLICATIONS,
            parameters=[APPLICATION_ID],
            request=None,
            responses={200: ApplicationOutputSerializer, **problems(409)},
            examples=[
                OpenApiExample(f"Now {to_state}", value=_application_value(to_state), response_only=True),
                _conflict_example(conflict),
            ],
        )
    )


class _ApplicantTransitionApi(APIView):
    permission_classes = [IsAuthenticated]
    transition: Callable[..., WhitelistApplication]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        application = type(self).transition(actor=authenticated_user(request), application=application)
        return Response(ApplicationOutputSerializer(application).data)


@_applicant_transition_schema(
    "Submit a draft for review", "submitted", "Cannot submit an application that is Submitted."
)
class ApplicationSubmitApi(_ApplicantTransitionApi):
    """Send a draft to review; it is evaluated against the active policy. Owners and admins only."""

    transition = staticmethod(services.application_submit)


@_applicant_transition_schema(
    "Withdraw an application", "withdrawn", "Cannot withdraw an application that is Approved."
)
class ApplicationWithdrawApi(_ApplicantTransitionApi):
    """Withdraw a submitted application or one under change request. Owners and admins only."""

    transition = staticmethod(services.application_withdraw)


@_applicant_transition_schema(
    "Resubmit after changes", "submitted", "Cannot resubmit an application that is Draft."
)
class ApplicationResubmitApi(_ApplicantTransitionApi):
    """Send an application under change request back to review; it is evaluated again."""

    transition = staticmethod(services.application_resubmit)


def _decision_schema(
    summary: str,
    request: type[Any],
    request_example: OpenApiExample,
    response_example: OpenApiExample,
    conflict: str,
) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=APPLICATIONS,
            parameters=[APPLICATION_ID],
            request=request,
            responses={200: ApplicationOutputSerializer, **problems(409, 415)},
            examples=[
                request_example,
                response_example,
                _conflict_example(conflict),
            ],
        )
    )


CRITERIA_NOT_MET_EXAMPLE = OpenApiExample(
    "A required criterion fails now",
    value={
        "type": "urn:portal:problem:criteria-not-met",
        "title": "Conflict",
        "status": 409,
        "detail": "The required criteria are not met: Verified account.",
        "errors": {
            "verified_account": ["The account is not verified yet; platform staff must verify it first."]
        },
    },
    response_only=True,
    status_codes=["409"],
    media_type=PROBLEM_CONTENT_TYPE,
)


@extend_schema_view(
    post=extend_schema(
        summary="Approve an application",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=ApproveInputSerializer,
        responses={200: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample("A welcome", value={"message": "Welcome to the programme."}, request_only=True),
            OpenApiExample(
                "An override",
                value={"override": True, "message": "Verification is pending with the directory."},
                request_only=True,
            ),
            OpenApiExample(
                "Approved",
                value=_application_value("approved", decided_at="2026-03-04T10:15:00Z"),
                response_only=True,
            ),
            _conflict_example("Cannot approve an application that is Withdrawn."),
            CRITERIA_NOT_MET_EXAMPLE,
        ],
    )
)
class ApplicationApproveApi(APIView):
    """Staff: approve a submitted application and grant or renew the account's whitelist entry.

    The criteria run again on the account as it is now; a required criterion that fails answers 409
    `urn:portal:problem:criteria-not-met`, naming each in `errors`. Staff with the "override criteria"
    permission may approve anyway with `override: true` and a `message` saying why, kept for staff in the
    timeline (403 without the permission). A reviewer who belongs to the applicant organization cannot
    decide (403).
    """

    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = ApproveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_approve(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


@_decision_schema(
    "Reject an application",
    RejectInputSerializer,
    OpenApiExample(
        "A reason code and a message",
        value={"reason_code": "no_independent_development", "message": "We could not confirm the team."},
        request_only=True,
    ),
    OpenApiExample(
        "Rejected",
        value=_application_value("rejected", decided_at="2026-03-04T10:15:00Z"),
        response_only=True,
    ),
    "Cannot reject an application that is Approved.",
)
class ApplicationRejectApi(APIView):
    """Staff: reject a submitted application with a reason code; the message defaults to its text."""

    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = RejectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_reject(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


@_decision_schema(
    "Request changes to an application",
    RequestChangesInputSerializer,
    OpenApiExample(
        "What to change",
        value={"message": "Add the team's employment contracts.", "reason_code": "evidence_insufficient"},
        request_only=True,
    ),
    OpenApiExample("Changes requested", value=_application_value("changes_requested"), response_only=True),
    "Cannot request changes on an application that is Draft.",
)
class ApplicationRequestChangesApi(APIView):
    """Staff: send a submitted application back to the applicant with what to change."""

    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = RequestChangesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_request_changes(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


@extend_schema_view(
    get=extend_schema(
        summary="List an application's events",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        examples=[EVENT_RESPONSE],
    )
)
class ApplicationEventsApi(ListAPIView[ReviewEvent]):
    """The application's timeline, newest first by default, by cursor.

    Applicants see the events meant for them, with reviewers shown as `Platform staff`; staff see all.
    Follow `next` until it is null; a cursor stays valid while events are added.
    """

    permission_classes = [IsAuthenticated]
    queryset = ReviewEvent.objects.none()  # the model, for the schema; get_queryset scopes the rows
    serializer_class = ReviewEventOutputSerializer
    pagination_class = IdCursorPagination
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[ReviewEvent]:
        application = _application(self.request, self.kwargs["pk"])
        return application_events_visible_to(user=authenticated_user(self.request), application=application)

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "show_staff_names": authenticated_user(self.request).is_staff,
        }


@extend_schema_view(
    post=extend_schema(
        summary="Evaluate an application now",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=None,
        responses={200: EvaluationOutputSerializer, **problems(409)},
        examples=[
            OpenApiExample("Eligible", value=EVALUATION_VALUE, response_only=True),
            _conflict_example(
                "This application is submitted; eligibility is checked while it can still be edited."
            ),
        ],
    )
)
class ApplicationEvaluateApi(APIView):
    """Run the criteria of the active policy on the application as it is; its state does not change.

    Owners and admins of the organization check a draft or an application under change request (409
    otherwise); the check does not stand for the application once it is sent. Staff re-evaluate an
    application in any state: the result becomes the evaluation shown with it, and the timeline records
    who ran it.
    """

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        evaluation = services.application_evaluate(actor=authenticated_user(request), application=application)
        return Response(EvaluationOutputSerializer(evaluation).data)


def _entries(request: Request, *, account_id: int | None = None) -> QuerySet[WhitelistEntry]:
    """The entries a user, or a key with whitelist:read, may read."""
    key = request_api_key(request)
    if key is None:
        return whitelist_entry_list_visible_to(user=authenticated_user(request), account_id=account_id)
    entries = scoped_to_key(
        WhitelistEntry.objects.select_related("account", "account__organization").order_by("-id"),
        key=key,
        organization_path="account__organization",
    )
    return entries if account_id is None else entries.filter(account_id=account_id)


def _entry(request: Request, pk: int) -> WhitelistEntry:
    return get_object_or_404(_entries(request), pk=pk)


@extend_schema_view(
    get=extend_schema(
        summary="List whitelist entries",
        tags=WHITELIST,
        examples=[OpenApiExample("An active entry", value=ENTRY_VALUE, response_only=True)],
    )
)
class EntryListApi(ListAPIView[WhitelistEntry]):
    """Entries of the caller's organizations (all for staff; the key's organization for a key)."""

    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"GET": Scope.WHITELIST_READ}
    queryset = WhitelistEntry.objects.none()  # the model, for the schema; get_queryset scopes the rows
    serializer_class = EntryOutputSerializer
    pagination_class = PagePagination
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = EntryFilter
    ordering_fields = ["id", "valid_from", "valid_until"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[WhitelistEntry]:
        return _entries(self.request)


@extend_schema_view(
    get=extend_schema(
        summary="Read a whitelist entry",
        tags=WHITELIST,
        parameters=[ENTRY_ID],
        responses={200: EntryOutputSerializer},
        examples=[OpenApiExample("An active entry", value=ENTRY_VALUE, response_only=True)],
    ),
    patch=extend_schema(
        summary="Change an entry's hourly share limit",
        tags=WHITELIST,
        parameters=[ENTRY_ID],
        request={"application/json": ENTRY_UPDATE_REQUEST_SCHEMA},
        responses={200: EntryOutputSerializer, **problems(415)},
        examples=[
            OpenApiExample("Three per hour", value={"share_limit_per_hour": 3}, request_only=True),
            OpenApiExample("The entry", value={**ENTRY_VALUE, "share_limit_per_hour": 3}, response_only=True),
        ],
    ),
)
class EntryDetailApi(APIView):
    api_key_scopes = {"GET": Scope.WHITELIST_READ}

    def get_permissions(self) -> list[Any]:
        return [IsAdminUser()] if self.request.method == "PATCH" else [IsAuthenticatedOrApiKey()]

    def get(self, request: Request, pk: int) -> Response:
        return Response(EntryOutputSerializer(_entry(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        """Staff only; the organization is told."""
        entry = _entry(request, pk)
        serializer = EntryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.whitelist_entry_set_share_limit(
            actor=authenticated_user(request), entry=entry, **serializer.validated_data
        )
        return Response(EntryOutputSerializer(entry).data)


def _entry_transition_schema(summary: str, to_state: str, conflict: str) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=WHITELIST,
            parameters=[ENTRY_ID],
            request=EntryReasonInputSerializer,
            responses={200: EntryOutputSerializer, **problems(409, 415)},
            examples=[
                REASON_REQUEST,
                OpenApiExample(
                    f"Now {to_state}", value={**ENTRY_VALUE, "state": to_state}, response_only=True
                ),
                _conflict_example(conflict),
            ],
        )
    )


class _EntryTransitionApi(APIView):
    permission_classes = [IsAdminUser]
    transition: Callable[..., WhitelistEntry]

    def post(self, request: Request, pk: int) -> Response:
        entry = _entry(request, pk)
        serializer = EntryReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = type(self).transition(
            actor=authenticated_user(request), entry=entry, **serializer.validated_data
        )
        return Response(EntryOutputSerializer(entry).data)


@_entry_transition_schema("Suspend an entry", "suspended", "Cannot suspend an entry that is Suspended.")
class EntrySuspendApi(_EntryTransitionApi):
    """Staff: take an active account off the whitelist for now, with the reason the organization is told."""

    transition = staticmethod(services.whitelist_entry_suspend)


@_entry_transition_schema("Reinstate an entry", "active", "Cannot reinstate an entry that is Active.")
class EntryReinstateApi(_EntryTransitionApi):
    """Staff: put a suspended entry back, while its validity has not ended."""

    transition = staticmethod(services.whitelist_entry_reinstate)


@_entry_transition_schema("Revoke an entry", "revoked", "Cannot revoke an entry that is Revoked.")
class EntryRevokeApi(_EntryTransitionApi):
    """Staff: end an active or suspended entry for good; the account needs a new application."""

    transition = staticmethod(services.whitelist_entry_revoke)


class WhitelistLookupThrottle(PrincipalScopedRateThrottle):
    scope = "whitelist_lookup"


@extend_schema_view(
    get=extend_schema(
        summary="Is this account whitelisted?",
        tags=WHITELIST,
        parameters=[
            OpenApiParameter(
                "platform", str, OpenApiParameter.PATH, description="The platform, e.g. `weibo`."
            ),
            OpenApiParameter(
                "platform_uid", str, OpenApiParameter.PATH, description="The account's id on the platform."
            ),
        ],
        responses={200: WhitelistLookupOutputSerializer},
        examples=[
            OpenApiExample(
                "Whitelisted",
                value={
                    "platform": "weibo",
                    "platform_uid": "3100000001",
                    "whitelisted": True,
                    "state": "active",
                    "share_limit_per_hour": 1,
                    "valid_until": "2027-03-04T10:15:00Z",
                },
                response_only=True,
            ),
            OpenApiExample(
                "Known, never whitelisted",
                value={
                    "platform": "weibo",
                    "platform_uid": "3100000002",
                    "whitelisted": False,
                    "state": None,
                    "share_limit_per_hour": None,
                    "valid_until": None,
                },
                response_only=True,
            ),
        ],
    )
)
class WhitelistLookupApi(APIView):
    """Public: is this account whitelisted? 404 for an account the portal does not know."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WhitelistLookupThrottle, IpRateThrottle]
    api_key_scopes = {"GET": Scope.WHITELIST_READ}

    def get(self, request: Request, platform: str, platform_uid: str) -> Response:
        if platform not in Platform.values:
            raise Http404
        account = get_object_or_404(
            OfficialAccount.objects.select_related("whitelist_entry"),
            platform=platform,
            platform_uid=platform_uid,
        )
        entry = getattr(account, "whitelist_entry", None)
        whitelisted = bool(entry and entry.is_in_force())
        return Response(
            {
                "platform": account.platform,
                "platform_uid": account.platform_uid,
                "whitelisted": whitelisted,
                "state": entry.state if entry else None,
                "share_limit_per_hour": entry.share_limit_per_hour if entry else None,
                "valid_until": entry.valid_until if entry else None,
            }
        )


@extend_schema_view(
    get=extend_schema(
        summary="List an application's documents",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        examples=[ATTACHMENT_RESPONSE],
    ),
    post=extend_schema(
        summary="Upload a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: AttachmentOutputSerializer, **problems(409, 413, 415)},
        examples=[
            OpenApiExample(
                "A PDF", value={"file": "licence.pdf"}, request_only=True, media_type="multipart/form-data"
            ),
            OpenApiExample(
                "Stored", value=ATTACHMENT_RESPONSE.value, response_only=True, status_codes=["201"]
            ),
            _conflict_example("Cannot add documents to an application that is Submitted."),
        ],
    ),
)
class AttachmentListApi(ListAPIView[ApplicationAttachment]):
    """Evidence documents of an application, oldest first; not paginated (at most 10)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]
    queryset = ApplicationAttachment.objects.none()  # the model, for the schema; get_queryset scopes the rows
    serializer_class = AttachmentOutputSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ApplicationAttachment]:
        return _application(self.request, self.kwargs["pk"]).attachments.all()

    def post(self, request: Request, pk: int) -> Response:
        """A PDF, PNG or JPEG of at most 10 MB, typed by its content, to a draft or an application under
        change request; at most 10 per application. Owners and admins only."""
        application = _application(request, pk)
        serializer = AttachmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.application_attachment_add(
            actor=authenticated_user(request),
            application=application,
            uploaded=serializer.validated_data["file"],
        )
        return Response(AttachmentOutputSerializer(attachment).data, status=status.HTTP_201_CREATED)


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Ignores Accept: a download answers with the file's own type, an error with problem JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


DOWNLOAD_HEADERS = [
    OpenApiParameter(
        "Content-Disposition",
        str,
        OpenApiParameter.HEADER,
        response=[200],
        description='`attachment; filename="<original name>"`.',
    ),
    OpenApiParameter(
        "X-Content-Type-Options", str, OpenApiParameter.HEADER, response=[200], description="`nosniff`."
    ),
    OpenApiParameter(
        "Cache-Control", str, OpenApiParameter.HEADER, response=[200], description="`private, no-store`."
    ),
]


def _download_response(label: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.BINARY, description=f"The document's bytes ({label}).")


@extend_schema_view(
    get=extend_schema(
        summary="Download a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID, ATTACHMENT_ID, *DOWNLOAD_HEADERS],
        responses={
            (200, AttachmentContentType.PDF.value): _download_response("PDF"),
            (200, AttachmentContentType.PNG.value): _download_response("PNG"),
            (200, AttachmentContentType.JPEG.value): _download_response("JPEG"),
        },
        examples=[
            OpenApiExample(
                "A PDF",
                value="%PDF-1.7 ...",
                response_only=True,
                media_type=AttachmentContentType.PDF.value,
            ),
            OpenApiExample(
                "Not visible to the caller",
                value={"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not found."},
                response_only=True,
                status_codes=["404"],
                media_type=PROBLEM_CONTENT_TYPE,
            ),
        ],
    ),
    delete=extend_schema(
        summary="Remove a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID, ATTACHMENT_ID],
        responses={204: None, **problems(409)},
        examples=[_conflict_example("Cannot remove documents from an application that is Submitted.")],
    ),
)
class AttachmentDetailApi(APIView):
    """Download (members of the organization and staff only) or remove a document."""

    permission_classes = [IsAuthenticated]
    content_negotiation_class = FirstRendererNegotiation

    def _attachment(self, request: Request, pk: int, attachment_id: int) -> ApplicationAttachment:
        return get_object_or_404(_application(request, pk).attachments.all(), pk=attachment_id)

    def get(self, request: Request, pk: int, attachment_id: int) -> FileResponse:
        """The file as stored, with its checked content type, as an attachment to save."""
        attachment = self._attachment(request, pk, attachment_id)
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    def delete(self, request: Request, pk: int, attachment_id: int) -> Response:
        """Owners and admins, while the application can change."""
        attachment = self._attachment(request, pk, attachment_id)
        services.application_attachment_remove(actor=authenticated_user(request), attachment=attachment)
        return Response(status=status.HTTP_204_NO_CONTENT)
