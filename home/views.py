"""The merchant's home page: the checklist of what to do next, what needs the merchant now, and the
accounts of the user's organizations with their whitelist state.

It reads every domain app, so it sits above them all (README, "Layers").
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.auth import authenticated_user
from accounts.forms import AccountFilterForm
from accounts.permissions import can_manage_organization
from accounts.selectors import (
    official_account_list_visible_to,
    organization_list_for,
    organization_list_managed_by,
)
from whitelist.models import WhitelistApplication
from whitelist.selectors import policy_active

from .progress import merchant_attention, merchant_progress

ACCOUNTS_PER_PAGE = 25


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    filter_form = AccountFilterForm(request.GET)
    filters = filter_form.filters()
    # The whitelist column: the entry joined, the latest application prefetched; no query per row.
    accounts = (
        official_account_list_visible_to(user=user, **filters)
        .select_related("whitelist_entry")
        .prefetch_related(
            Prefetch(
                "applications",
                queryset=WhitelistApplication.objects.only("id", "account", "state").order_by("-id")[:1],
                to_attr="latest_applications",
            )
        )
    )
    page = Paginator(accounts, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))

    # One permission check per organization on the page, not per row.
    manageable: dict[int, bool] = {}
    for account in page:
        if account.organization_id not in manageable:
            manageable[account.organization_id] = can_manage_organization(
                user=user, organization=account.organization
            )
    rows = [(account, manageable[account.organization_id]) for account in page]

    is_filtered = any(filters.values())
    has_any_account = bool(rows) or (is_filtered and official_account_list_visible_to(user=user).exists())
    context = {
        "filter_form": filter_form,
        "is_filtered": is_filtered,
        "has_any_account": has_any_account,
        "page_obj": page,
        "rows": rows,
        # Staff see every organization; listing them all here would not help anyone.
        "organizations": [] if user.is_staff else organization_list_for(user=user),
        "can_add_account": organization_list_managed_by(user=user).exists(),
        # Staff review every organization's work; the checklist and the cards are a merchant's.
        "progress": None if user.is_staff else merchant_progress(user=user),
        "attention": None if user.is_staff else merchant_attention(user=user),
        # The programme's criteria, for the explanation shown before the first account.
        "policy": None if has_any_account else policy_active(),
    }
    return render(request, "home/dashboard.html", context)
