"""REST API of applications: the list, the evidence, transitions, decisions, events and the check."""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts.auth import authenticated_user
from accounts.models import OfficialAccount
from accounts.selectors import official_account_list_visible_to
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.pagination import IdCursorPagination, PagePagination

from .. import services
from ..api_schema.applications import (
    application_approve_schema,
    application_detail_schema,
    application_evaluate_schema,
    application_events_schema,
    application_list_schema,
    application_reject_schema,
    application_request_changes_schema,
    application_resubmit_schema,
    application_submit_schema,
    application_withdraw_schema,
)
from ..filters import ApplicationFilter
from ..models import ReviewEvent, WhitelistApplication
from ..selectors import application_events_visible_to, application_list_visible_to, with_latest_evaluation
from ..serializers import (
    ApplicationInputSerializer,
    ApplicationOutputSerializer,
    ApplicationUpdateSerializer,
    ApproveInputSerializer,
    EvaluationOutputSerializer,
    RejectInputSerializer,
    RequestChangesInputSerializer,
    ReviewEventOutputSerializer,
)


def application_visible_or_404(request: Request, pk: int) -> WhitelistApplication:
    return get_object_or_404(application_list_visible_to(user=authenticated_user(request)), pk=pk)


@application_list_schema
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


@application_detail_schema
class ApplicationDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        return Response(ApplicationOutputSerializer(application_visible_or_404(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        """Change the fields sent; only a draft or an application under change request can change."""
        application = application_visible_or_404(request, pk)
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
        application = application_visible_or_404(request, pk)
        application = type(self).transition(actor=authenticated_user(request), application=application)
        return Response(ApplicationOutputSerializer(application).data)


@application_submit_schema
class ApplicationSubmitApi(_ApplicantTransitionApi):
    """Send a draft to review; it is evaluated against the active policy. Owners and admins only."""

    transition = staticmethod(services.application_submit)


@application_withdraw_schema
class ApplicationWithdrawApi(_ApplicantTransitionApi):
    """Withdraw a submitted application or one under change request. Owners and admins only."""

    transition = staticmethod(services.application_withdraw)


@application_resubmit_schema
class ApplicationResubmitApi(_ApplicantTransitionApi):
    """Send an application under change request back to review; it is evaluated again."""

    transition = staticmethod(services.application_resubmit)


class _DecisionApi(APIView):
    """Staff: validate the decision's input, then call the service that decides."""

    permission_classes = [IsAdminUser]
    input_serializer_class: type[Serializer[Any]]
    decision: Callable[..., WhitelistApplication]

    def post(self, request: Request, pk: int) -> Response:
        application = application_visible_or_404(request, pk)
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = type(self).decision(
            actor=authenticated_user(request), application=application, **serializer.validated_data
        )
        return Response(ApplicationOutputSerializer(application).data)


@application_approve_schema
class ApplicationApproveApi(_DecisionApi):
    """Staff: approve a submitted application and grant or renew the account's whitelist entry.

    The criteria run again on the account as it is now; a required criterion that fails answers 409
    `urn:portal:problem:criteria-not-met`, naming each in `errors`. Staff with the "override criteria"
    permission may approve anyway with `override: true` and a `message` saying why, kept for staff in the
    timeline (403 without the permission). A reviewer who belongs to the applicant organization cannot
    decide (403).
    """

    input_serializer_class = ApproveInputSerializer
    decision = staticmethod(services.application_approve)


@application_reject_schema
class ApplicationRejectApi(_DecisionApi):
    """Staff: reject a submitted application with a reason code; the message defaults to its text."""

    input_serializer_class = RejectInputSerializer
    decision = staticmethod(services.application_reject)


@application_request_changes_schema
class ApplicationRequestChangesApi(_DecisionApi):
    """Staff: send a submitted application back to the applicant with what to change."""

    input_serializer_class = RequestChangesInputSerializer
    decision = staticmethod(services.application_request_changes)


@application_events_schema
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
        application = application_visible_or_404(self.request, self.kwargs["pk"])
        return application_events_visible_to(user=authenticated_user(self.request), application=application)

    def get_serializer_context(self) -> dict[str, Any]:
        return {
            **super().get_serializer_context(),
            "show_staff_names": authenticated_user(self.request).is_staff,
        }


@application_evaluate_schema
class ApplicationEvaluateApi(APIView):
    """Run the criteria of the active policy on the application as it is; its state does not change.

    Owners and admins of the organization check a draft or an application under change request (409
    otherwise); the check does not stand for the application once it is sent. Staff re-evaluate an
    application in any state: the result becomes the evaluation shown with it, and the timeline records
    who ran it.
    """

    permission_classes = [IsAuthenticated]

    def post(self, request: Request, pk: int) -> Response:
        application = application_visible_or_404(request, pk)
        evaluation = services.application_evaluate(actor=authenticated_user(request), application=application)
        return Response(EvaluationOutputSerializer(evaluation).data)
