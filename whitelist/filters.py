"""Query filters and ordering of the whitelist API's lists."""

import django_filters
from django.db.models import Q, QuerySet

from portal.filters import IdFilter, InstantFilter

from .models import ApplicationState, EntryState, WhitelistApplication, WhitelistEntry


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ApplicationState.choices, help_text="Only this state.")
    account = IdFilter(field_name="account_id", help_text="Only this official account's applications.")
    organization = IdFilter(field_name="organization_id", help_text="Only this organization's applications.")
    submitted_after = InstantFilter(
        field_name="submitted_at", lookup_expr="gte", help_text="Last submitted at or after (ISO 8601)."
    )
    submitted_before = InstantFilter(
        field_name="submitted_at", lookup_expr="lt", help_text="Last submitted before (ISO 8601)."
    )
    search = django_filters.CharFilter(
        method="search_account",
        help_text="Part of the account's screen name or platform uid, any case.",
    )

    class Meta:
        model = WhitelistApplication
        fields: list[str] = []

    def search_account(
        self, queryset: QuerySet[WhitelistApplication], name: str, value: str
    ) -> QuerySet[WhitelistApplication]:
        return queryset.filter(
            Q(account__screen_name__icontains=value) | Q(account__platform_uid__icontains=value)
        )


class EntryFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=EntryState.choices, help_text="Only this state.")
    account = IdFilter(field_name="account_id", help_text="Only this official account's entry.")
    valid_until_after = InstantFilter(
        field_name="valid_until", lookup_expr="gte", help_text="Valid until at or after (ISO 8601)."
    )
    valid_until_before = InstantFilter(
        field_name="valid_until", lookup_expr="lt", help_text="Valid until before (ISO 8601)."
    )

    class Meta:
        model = WhitelistEntry
        fields: list[str] = []
