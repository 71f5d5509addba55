"""REST API of whitelist entries, for staff, members and keys, and the public lookup."""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import authenticated_user
from accounts.models import OfficialAccount, Platform
from accounts.scopes import Scope
from integrations.authentication import ApiKeyAuthentication, request_api_key
from integrations.selectors import scoped_to_key
from portal.api_keys import IsAuthenticatedOrApiKey
from portal.filters import StrictFilterBackend, StrictOrderingFilter
from portal.pagination import PagePagination
from portal.throttling import IpRateThrottle, PrincipalScopedRateThrottle

from .. import services
from ..api_schema.entries import (
    entry_detail_schema,
    entry_list_schema,
    entry_reinstate_schema,
    entry_revoke_schema,
    entry_suspend_schema,
    whitelist_lookup_schema,
)
from ..filters import EntryFilter
from ..models import WhitelistEntry
from ..selectors import whitelist_entry_list_visible_to
from ..serializers import EntryOutputSerializer, EntryReasonInputSerializer, EntryUpdateSerializer


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


@entry_list_schema
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


@entry_detail_schema
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


@entry_suspend_schema
class EntrySuspendApi(_EntryTransitionApi):
    """Staff: take an active account off the whitelist for now, with the reason the organization is told."""

    transition = staticmethod(services.whitelist_entry_suspend)


@entry_reinstate_schema
class EntryReinstateApi(_EntryTransitionApi):
    """Staff: put a suspended entry back, while its validity has not ended."""

    transition = staticmethod(services.whitelist_entry_reinstate)


@entry_revoke_schema
class EntryRevokeApi(_EntryTransitionApi):
    """Staff: end an active or suspended entry for good; the account needs a new application."""

    transition = staticmethod(services.whitelist_entry_revoke)


class WhitelistLookupThrottle(PrincipalScopedRateThrottle):
    scope = "whitelist_lookup"


@whitelist_lookup_schema
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
