"""REST API of the accounts app: sign-up, tokens, verticals and official accounts."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from portal.auth import authenticated_user
from portal.pagination import paginated_response

from .models import Vertical
from .selectors import (
    official_account_list_visible_to,
    organization_default_for,
    organization_list_managed_by,
    vertical_list,
)
from .serializers import (
    OfficialAccountInputSerializer,
    OfficialAccountOutputSerializer,
    OrganizationOutputSerializer,
    RegisterInputSerializer,
    UserOutputSerializer,
    VerticalOutputSerializer,
)
from .services import (
    official_account_create,
    official_account_update,
    official_account_verify,
    user_register,
)


class RegisterApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, organization = user_register(**serializer.validated_data)
        return Response(
            {
                "user": UserOutputSerializer(user).data,
                "organization": OrganizationOutputSerializer(organization).data,
            },
            status=status.HTTP_201_CREATED,
        )


class TokenApi(ObtainAuthToken):
    """POST {"username", "password"} → {"token"}."""

    authentication_classes: list[type] = []
    throttle_classes = [AnonRateThrottle]


class VerticalListApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = VerticalOutputSerializer

    def get_queryset(self) -> QuerySet[Vertical]:
        return vertical_list()


class OfficialAccountListApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        accounts = official_account_list_visible_to(
            user=authenticated_user(request),
            search=request.query_params.get("search", "").strip(),
            verification_status=request.query_params.get("verification_status", ""),
            vertical=request.query_params.get("vertical", ""),
        )
        return paginated_response(self, request, accounts, OfficialAccountOutputSerializer)

    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        serializer = OfficialAccountInputSerializer(
            data=request.data, organizations=organization_list_managed_by(user=user)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = data.pop("organization", None) or organization_default_for(user=user)
        if organization is None:
            message = _("This field is required when you do not manage exactly one organization.")
            raise ValidationError({"organization": [message]})
        account = official_account_create(actor=user, organization=organization, **data)
        return Response(OfficialAccountOutputSerializer(account).data, status=status.HTTP_201_CREATED)


class OfficialAccountDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        account = get_object_or_404(official_account_list_visible_to(user=authenticated_user(request)), pk=pk)
        return Response(OfficialAccountOutputSerializer(account).data)

    def patch(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
        serializer = OfficialAccountInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        if "organization" in data:
            raise ValidationError({"organization": [_("An account cannot move to another organization.")]})
        account = official_account_update(actor=user, account=account, data=data)
        return Response(OfficialAccountOutputSerializer(account).data)


class OfficialAccountVerifyApi(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
        account = official_account_verify(actor=user, account=account)
        return Response(OfficialAccountOutputSerializer(account).data)
