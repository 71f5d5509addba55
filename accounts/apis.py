"""REST API of the accounts app: sign-up, tokens, verticals and official accounts."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import authenticated_user
from accounts.scopes import Scope
from portal.api_keys import api_key_authentication, request_api_key
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.pagination import IdCursorPagination
from portal.parsers import JSONParser
from portal.throttling import IpRateThrottle, PrincipalRateThrottle

from .api_schema import (
    account_bulk_upsert_schema,
    official_account_detail_schema,
    official_account_list_schema,
    official_account_request_verification_schema,
    official_account_verify_schema,
    register_schema,
    token_schema,
    vertical_list_schema,
)
from .directory import KNOWN_COLUMNS, official_accounts_upsert
from .filters import OfficialAccountFilter
from .lockout import LoginLockedOut, request_is_locked_out, request_refusal
from .models import OfficialAccount, Platform, Vertical
from .selectors import (
    official_account_list_visible_to,
    organization_for_new,
    organization_list_for,
    vertical_list,
)
from .serializers import (
    BulkUpsertInputSerializer,
    OfficialAccountInputSerializer,
    OfficialAccountOutputSerializer,
    OrganizationOutputSerializer,
    RegisterInputSerializer,
    UserOutputSerializer,
    VerificationRequestInputSerializer,
    VerticalOutputSerializer,
)
from .services import (
    official_account_create,
    official_account_request_verification,
    official_account_update,
    official_account_verify,
    user_register,
    user_token_obtain,
)


@register_schema
class RegisterApi(APIView):
    """Create a user, its organization and the owner membership; a welcome email with the link that
    confirms the address follows (until confirmed, the portal mails that address nothing else)."""

    # Only to refuse API keys with 403; sign-up is anonymous.
    authentication_classes = api_key_authentication()
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The emails to the new user are in the language the request asked for (Accept-Language).
        user, organization = user_register(**serializer.validated_data, language=get_language())
        return Response(
            {
                "user": UserOutputSerializer(user).data,
                "organization": OrganizationOutputSerializer(organization).data,
            },
            status=status.HTTP_201_CREATED,
        )


@token_schema
class TokenApi(ObtainAuthToken):
    """Trade a username and password for the token to send as `Authorization: Token <token>`.

    Wrong credentials are a 400 with `non_field_errors`. After 5 failures (`LOGIN_FAILURE_LIMIT`) for one
    username from one address, or 50 (`LOGIN_ADDRESS_FAILURE_LIMIT`) from one address over any usernames,
    attempts from there are a 429 `login-locked-out` problem with `Retry-After`, even with the right
    password, for 15 minutes (`LOGIN_LOCKOUT_MINUTES`) after the failure that locked them. A username that
    failed 5 times over many addresses is slowed instead: an address that failed for it waits a growing
    delay (429, `Retry-After`) before its next try. The web and admin log-ins count and refuse alike.

    The token is accepted for 90 days (`API_TOKEN_DAYS`) after it was issued, then answers 401; this
    endpoint then issues a new one. Changing or resetting the password deletes the user's tokens.
    """

    authentication_classes = api_key_authentication()
    # ObtainAuthToken's own list, with the depth-limited JSON parser.
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    throttle_classes = [PrincipalRateThrottle, IpRateThrottle]

    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        # The serializer's authenticate() gets this request, so django-axes counts the failure and marks
        # the request when it refused or locked out the attempt; the web login's middleware never sees it.
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            if request_is_locked_out(request):
                raise LoginLockedOut(request_refusal(request)) from None
            raise
        token = user_token_obtain(user=serializer.validated_data["user"])
        return Response({"token": token.key})


@vertical_list_schema
class VerticalListApi(ListAPIView):
    """The categories of accounts, by code; an account names its vertical by code."""

    permission_classes = [IsAuthenticated]
    serializer_class = VerticalOutputSerializer
    filter_backends = [StrictOrderingFilter]
    ordering_fields = ["code", "name"]
    ordering = ["code"]

    def get_queryset(self) -> QuerySet[Vertical]:
        return vertical_list()


@official_account_list_schema
class OfficialAccountListApi(ListAPIView):
    """The accounts of the caller's organizations (all of them for staff), newest first.

    A cursor page at a time: follow `next` until it is null. An invalid filter value is a 400 naming
    the parameter; an invalid cursor is a 404.
    """

    permission_classes = [IsAuthenticated]
    serializer_class = OfficialAccountOutputSerializer
    # The directory holds millions of accounts: a cursor costs one indexed query at any depth.
    pagination_class = IdCursorPagination
    filter_backends = [StrictFilterBackend, StrictOrderingFilter]
    filterset_class = OfficialAccountFilter
    # Only (nearly) unique columns: a cursor cannot page through more than a thousand tied rows.
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[OfficialAccount]:
        if getattr(self, "swagger_fake_view", False):
            return OfficialAccount.objects.none()
        return official_account_list_visible_to(user=authenticated_user(self.request))

    def post(self, request: Request) -> Response:
        """Register an account for one of the organizations the caller manages; it starts unverified.

        `organization` may be left out by a user who manages exactly one.
        """
        user = authenticated_user(request)
        serializer = OfficialAccountInputSerializer(
            # Any organization of the caller's, so that a plain member is refused (403) by the service
            # rather than told the organization does not exist.
            data=request.data,
            organizations=organization_list_for(user=user),
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = organization_for_new(user=user, chosen=data.pop("organization", None))
        account = official_account_create(actor=user, organization=organization, **data)
        return Response(OfficialAccountOutputSerializer(account).data, status=status.HTTP_201_CREATED)


@official_account_detail_schema
class OfficialAccountDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, pk: int) -> Response:
        """One account of the caller's organizations (any, for staff)."""
        account = get_object_or_404(official_account_list_visible_to(user=authenticated_user(request)), pk=pk)
        return Response(OfficialAccountOutputSerializer(account).data)

    def patch(self, request: Request, pk: int) -> Response:
        """Change the fields sent; the organization cannot change.

        A merchant's change of the platform, uid or kind sends a verified account back to unverified.
        """
        user = authenticated_user(request)
        account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
        serializer = OfficialAccountInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        if "organization" in data:
            raise ValidationError({"organization": [_("An account cannot move to another organization.")]})
        account = official_account_update(actor=user, account=account, data=data)
        return Response(OfficialAccountOutputSerializer(account).data)


@official_account_verify_schema
class OfficialAccountVerifyApi(APIView):
    """Staff only: mark the account verified; verifying a verified account changes nothing."""

    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
        account = official_account_verify(actor=user, account=account)
        return Response(OfficialAccountOutputSerializer(account).data)


@official_account_request_verification_schema
class OfficialAccountRequestVerificationApi(APIView):
    """The account's owners and admins ask staff to verify it (again, after a rejection).

    200 with `{"verification_status": "pending"}`, also when a request is pending already; 409
    `already-verified` for a verified account; 403 for a member who may not manage the organization.
    Staff verify or reject it in the admin, with a reason, and the organization is emailed.
    """

    def post(self, request: Request, pk: int) -> Response:
        user = authenticated_user(request)
        account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
        serializer = VerificationRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = official_account_request_verification(
            actor=user, account=account, note=serializer.validated_data.get("note", "")
        )
        return Response({"verification_status": account.verification_status})


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


@account_bulk_upsert_schema
class AccountBulkUpsertApi(APIView):
    """Create or update up to 1,000 official accounts keyed by (platform, platform_uid).

    Staff, or a platform-wide API key. Each row of `accounts` is an object with the import's columns:
    `platform_uid`, `screen_name`, `kind`, `vertical` and `followers_count`, and optionally `platform`,
    `verification_status`, `organization_name`, `organization_kind` and `organization_credit_code`
    (strings or whole numbers).

    The answer has one result per row, in order: created, updated, or rejected with the row's
    errors. A bad row does not stop the others; each row is applied whole or not at all.

    A new account joins the organization of its `organization_credit_code`, or without a code a
    directory-owned or identity-verified organization of its `organization_name` (a new one if
    none): never one a merchant signed up with. A row that names another owner than the one
    holding an existing account is rejected as an ownership conflict and changes nothing.
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
