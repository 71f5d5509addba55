"""Query parameters of the accounts API's lists: filters, search, a stable ordering and checked cursors."""

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from portal.filters import IdFilter

from .models import AccountKind, OfficialAccount, VerificationStatus
from .selectors import official_account_search


class OfficialAccountFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the screen name (any case), or the exact platform uid."),
    )
    verification_status = filters.ChoiceFilter(choices=VerificationStatus.choices)
    vertical = filters.CharFilter(
        field_name="vertical__code", help_text=_("A vertical code, e.g. `commerce`.")
    )
    kind = filters.ChoiceFilter(choices=AccountKind.choices)
    organization = IdFilter(field_name="organization_id", help_text=_("An organization's id."))

    class Meta:
        model = OfficialAccount
        fields = ["search", "verification_status", "vertical", "kind", "organization"]

    def filter_search(
        self, queryset: QuerySet[OfficialAccount], name: str, value: str
    ) -> QuerySet[OfficialAccount]:
        return queryset.filter(official_account_search(value))
