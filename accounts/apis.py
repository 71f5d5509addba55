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
from rest_framework.views import APIView

from integrations.authentication import ApiKeyAuthentication, request_api_key
from integrations.scopes import Scope
from portal.auth import authenticated_user
from portal.pagination import paginated_response
from portal.throttling import IpRateThrottle, PrincipalRateThrottle

from .directory import KNOWN_COLUMNS, official_accounts_upsert
from .models import Platform, Vertical
from .selectors import (
    official_account_list_visible_to,
    organization_default_for,
    organization_list_managed_by,
    vertical_list,
)
from .serializers import (
    BulkUpsertInputSerializer,
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
    # Only to refuse API keys with 403; sign-up is anonymous.
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [AllowAny]

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

    authentication_classes = [ApiKeyAuthentication]
    throttle_classes = [PrincipalRateThrottle, IpRateThrottle]


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


def _directory_row(value: object) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A JSON object of the upsert as the import's column → text mapping, or the row's errors."""
    if not isinstance(value, dict):
        return {}, {"non_field_errors": [_("Each account must be a JSON object.")]}
    errors: dict[str, list[str]] = {}
    row: dict[str, str] = {}
    for name, item in value.items():
        if name not in KNOWN_COLUMNS:
            errors[str(name)] = [_("Unknown field.")]
        elif item is None:
            row[name] = ""
        elif isinstance(item, bool) or not isinstance(item, (str, int)):
            errors[name] = [_("Must be a string or a whole number.")]
        else:
            row[name] = str(item)
    return row, errors


class IsStaffOrPlatformKey(IsAdminUser):
    """Staff users, or a platform-wide key (its accounts:write scope is checked on authentication)."""

    message = _("The directory upsert needs a staff user or a platform-wide API key.")

    def has_permission(self, request: Request, view: object) -> bool:
        key = request_api_key(request)
        if key is not None:
            return key.is_platform_wide
        return super().has_permission(request, view)  # type: ignore[arg-type]


class AccountBulkUpsertApi(APIView):
    """Create or update up to 1,000 official accounts keyed by (platform, platform_uid).

    The answer has one result per row, in order: created, updated, or rejected with the row's
    errors. A bad row does not stop the others; each row is applied whole or not at all.
    """

    permission_classes = [IsStaffOrPlatformKey]
    api_key_scopes = {"POST": Scope.ACCOUNTS_WRITE}

    def post(self, request: Request) -> Response:
        serializer = BulkUpsertInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data["accounts"]
        converted = [_directory_row(value) for value in values]
        valid_indexes = [index for index, (_row, errors) in enumerate(converted) if not errors]
        upserted = {
            result.line: result
            for result in official_accounts_upsert(
                rows=[converted[index][0] for index in valid_indexes], lines=valid_indexes
            )
        }
        counts = {"created": 0, "updated": 0, "rejected": 0}
        results = []
        for index, (row, errors) in enumerate(converted):
            result = upserted.get(index)
            outcome = result.outcome if result is not None else "rejected"
            counts[outcome] += 1
            row_errors = (
                errors
                if result is None
                else {
                    ("non_field_errors" if name == "__all__" else name): messages
                    for name, messages in result.errors.items()
                }
            )
            results.append(
                {
                    "index": index,
                    "platform": row.get("platform", "") or (Platform.WEIBO.value if row else ""),
                    "platform_uid": row.get("platform_uid", ""),
                    "outcome": outcome,
                    "account": result.account_id if result is not None else None,
                    "errors": row_errors,
                }
            )
        return Response({**counts, "results": results})
