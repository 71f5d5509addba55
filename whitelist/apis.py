"""REST API of the whitelist: applications and their transitions, events, entries and the public lookup."""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import OfficialAccount
from accounts.permissions import can_manage_organization
from accounts.selectors import official_account_list_visible_to
from integrations.authentication import ApiKeyAuthentication, IsAuthenticatedOrApiKey, request_api_key
from integrations.scopes import Scope
from integrations.selectors import scoped_to_key
from portal.auth import authenticated_user
from portal.errors import Forbidden
from portal.pagination import paginated_response
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from . import services
from .models import ApplicationAttachment, EntryState, WhitelistApplication, WhitelistEntry
from .selectors import (
    application_events_visible_to,
    application_list_visible_to,
    whitelist_entry_list_visible_to,
)
from .serializers import (
    ApplicationInputSerializer,
    ApplicationOutputSerializer,
    ApplicationUpdateSerializer,
    AttachmentInputSerializer,
    AttachmentOutputSerializer,
    EntryOutputSerializer,
    EntryUpdateSerializer,
    EvaluationOutputSerializer,
    EventOutputSerializer,
    MessageInputSerializer,
    ReasonInputSerializer,
    RejectInputSerializer,
    RequestChangesInputSerializer,
)


def _application(request: Request, pk: int) -> WhitelistApplication:
    return get_object_or_404(application_list_visible_to(user=authenticated_user(request)), pk=pk)


class ApplicationListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        applications = application_list_visible_to(
            user=authenticated_user(request), state=request.query_params.get("state", "")
        )
        return paginated_response(self, request, applications, ApplicationOutputSerializer)

    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        serializer = ApplicationInputSerializer(
            data=request.data, accounts=official_account_list_visible_to(user=user)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        account: OfficialAccount = data.pop("account")
        application = services.application_create(actor=user, account=account, data=data)
        return Response(ApplicationOutputSerializer(application).data, status=status.HTTP_201_CREATED)


class ApplicationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(ApplicationOutputSerializer(_application(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = ApplicationUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        application = services.application_update(
            actor=authenticated_user(request), application=application, data=data
        )
        return Response(ApplicationOutputSerializer(application).data)


class _ApplicantTransitionApi(APIView):
    permission_classes = [IsAuthenticated]
    transition: Callable[..., WhitelistApplication]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        application = type(self).transition(actor=authenticated_user(request), application=application)
        return Response(ApplicationOutputSerializer(application).data)


class ApplicationSubmitApi(_ApplicantTransitionApi):
    transition = staticmethod(services.application_submit)


class ApplicationWithdrawApi(_ApplicantTransitionApi):
    transition = staticmethod(services.application_withdraw)


class ApplicationResubmitApi(_ApplicantTransitionApi):
    transition = staticmethod(services.application_resubmit)


class ApplicationApproveApi(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = MessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_approve(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


class ApplicationRejectApi(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = RejectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_reject(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


class ApplicationRequestChangesApi(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = RequestChangesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = services.application_request_changes(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


class ApplicationEventsApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        application = _application(request, pk)
        events = application_events_visible_to(user=user, application=application)
        return paginated_response(
            self, request, events, EventOutputSerializer, context={"show_staff_names": user.is_staff}
        )


class ApplicationEvaluateApi(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        application = _application(request, pk)
        if not (user.is_staff or can_manage_organization(user=user, organization=application.organization)):
            raise Forbidden("Only the owners and admins of the organization, or staff, can evaluate it.")
        evaluation = services.application_evaluate(application=application)
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


class EntryListApi(APIView):
    permission_classes = [IsAuthenticatedOrApiKey]
    api_key_scopes = {"GET": Scope.WHITELIST_READ}

    def get(self, request: Request) -> Response:
        account = request.query_params.get("account", "")
        if account and not account.isdigit():
            raise ValidationError({"account": ["A valid integer is required."]})
        entries = _entries(request, account_id=int(account) if account else None)
        return paginated_response(self, request, entries, EntryOutputSerializer)


class EntryDetailApi(APIView):
    api_key_scopes = {"GET": Scope.WHITELIST_READ}

    def get_permissions(self) -> list[Any]:
        return [IsAdminUser()] if self.request.method == "PATCH" else [IsAuthenticatedOrApiKey()]

    def get(self, request: Request, pk: int) -> Response:
        return Response(EntryOutputSerializer(_entry(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        entry = _entry(request, pk)
        serializer = EntryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.whitelist_entry_set_share_limit(
            actor=authenticated_user(request), entry=entry, **serializer.validated_data
        )
        return Response(EntryOutputSerializer(entry).data)


class _EntryTransitionApi(APIView):
    permission_classes = [IsAdminUser]
    transition: Callable[..., WhitelistEntry]

    def post(self, request: Request, pk: int) -> Response:
        entry = _entry(request, pk)
        serializer = ReasonInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = type(self).transition(
            actor=authenticated_user(request), entry=entry, **serializer.validated_data
        )
        return Response(EntryOutputSerializer(entry).data)


class EntrySuspendApi(_EntryTransitionApi):
    transition = staticmethod(services.whitelist_entry_suspend)


class EntryReinstateApi(_EntryTransitionApi):
    transition = staticmethod(services.whitelist_entry_reinstate)


class EntryRevokeApi(_EntryTransitionApi):
    transition = staticmethod(services.whitelist_entry_revoke)


class WhitelistLookupThrottle(PrincipalScopedRateThrottle):
    scope = "whitelist_lookup"


class WhitelistLookupApi(APIView):
    """Public: is this account whitelisted? 404 for an account the portal does not know."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WhitelistLookupThrottle, IpRateThrottle]
    api_key_scopes = {"GET": Scope.WHITELIST_READ}

    def get(self, request: Request, platform: str, platform_uid: str) -> Response:
        account = get_object_or_404(
            OfficialAccount.objects.select_related("whitelist_entry"),
            platform=platform,
            platform_uid=platform_uid,
        )
        entry = getattr(account, "whitelist_entry", None)
        whitelisted = bool(entry and entry.state == EntryState.ACTIVE and entry.valid_until > timezone.now())
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


class AttachmentListApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    def get(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        return Response(AttachmentOutputSerializer(application.attachments.all(), many=True).data)

    def post(self, request: Request, pk: int) -> Response:
        application = _application(request, pk)
        serializer = AttachmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.application_attachment_add(
            actor=authenticated_user(request),
            application=application,
            uploaded=serializer.validated_data["file"],
        )
        return Response(AttachmentOutputSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDetailApi(APIView):
    """Download (members of the organization and staff only) or remove a document."""

    permission_classes = [IsAuthenticated]

    def _attachment(self, request: Request, pk: int, attachment_id: int) -> ApplicationAttachment:
        return get_object_or_404(_application(request, pk).attachments.all(), pk=attachment_id)

    def get(self, request: Request, pk: int, attachment_id: int) -> FileResponse:
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
        attachment = self._attachment(request, pk, attachment_id)
        services.application_attachment_remove(actor=authenticated_user(request), attachment=attachment)
        return Response(status=status.HTTP_204_NO_CONTENT)
