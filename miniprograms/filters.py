"""Query parameters of the mini programs API's lists: filters and search."""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from portal.filters import IdFilter, InstantFilter

from .models import OPEN_LINK_STATES, MiniProgram, MiniProgramState, ProfileLink, ProfileLinkState, Share


class MiniProgramFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=MiniProgramState.choices)
    account = IdFilter(
        method="filter_account",
        help_text=_("An official account's id: the mini programs linked to it, pending review or live."),
    )
    organization = IdFilter(field_name="organization_id", help_text=_("An organization's id."))
    search = filters.CharFilter(
        method="filter_search", help_text=_("Part of the name (any case), or the exact app id.")
    )

    class Meta:
        model = MiniProgram
        fields = ["state", "account", "organization", "search"]

    def filter_account(self, queryset: QuerySet[MiniProgram], name: str, value: int) -> QuerySet[MiniProgram]:
        linked = ProfileLink.objects.filter(account_id=value, state__in=OPEN_LINK_STATES)
        return queryset.filter(pk__in=linked.values("miniprogram"))

    def filter_search(self, queryset: QuerySet[MiniProgram], name: str, value: str) -> QuerySet[MiniProgram]:
        return queryset.filter(Q(name__icontains=value) | Q(app_id=value))


class ProfileLinkFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ProfileLinkState.choices)
    account = IdFilter(field_name="account_id", help_text=_("An official account's id."))
    miniprogram = IdFilter(field_name="miniprogram_id", help_text=_("A mini program's id."))

    class Meta:
        model = ProfileLink
        fields = ["state", "account", "miniprogram"]


class ShareFilter(filters.FilterSet):
    account = IdFilter(field_name="account_id", help_text=_("An official account's id."))
    miniprogram = IdFilter(field_name="miniprogram_id", help_text=_("A mini program's id."))
    created_after = InstantFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text=_("Shares made at or after this time (ISO 8601, e.g. `2025-03-01T08:00:00Z`)."),
    )
    created_before = InstantFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text=_("Shares made before this time (ISO 8601)."),
    )

    class Meta:
        model = Share
        fields = ["account", "miniprogram", "created_after", "created_before"]
