"""Merchant web pages: sign-up, dashboard and official account forms."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.auth import authenticated_user
from portal.errors import ApplicationError
from whitelist.models import WhitelistApplication

from .forms import AccountFilterForm, OfficialAccountForm, SignupForm, form_add_service_errors
from .models import VerificationStatus
from .permissions import can_manage_organization
from .selectors import official_account_list_visible_to, organization_list_for, organization_list_managed_by
from .services import official_account_create, official_account_update, user_register

ACCOUNTS_PER_PAGE = 25


class LogoutView(auth_views.LogoutView):
    """Django's POST-only log out, telling the user it worked."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have logged out."))
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user, organization = user_register(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                organization_name=form.cleaned_data["organization_name"],
                organization_kind=form.cleaned_data["organization_kind"],
            )
        except ValidationError as error:
            form_add_service_errors(form, error)
        else:
            # Named, since there are two backends (django-axes' and this one) and no authenticate() ran.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome, %(username)s! %(organization)s is registered; add its official accounts next.")
                % {"username": user.username, "organization": organization.name},
            )
            return redirect("accounts:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


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
    }
    return render(request, "accounts/dashboard.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    if authenticated_user(request).is_staff:
        # Staff pick among every organization; the admin's searchable form scales to that, a select does not.
        return redirect("admin:accounts_officialaccount_add")
    organizations = organization_list_managed_by(user=authenticated_user(request))
    if not organizations.exists():
        raise PermissionDenied(
            _("Only the owners and admins of an organization can add its official accounts.")
        )
    data = request.POST if request.method == "POST" else None
    form = OfficialAccountForm(data, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        try:
            account = official_account_create(
                actor=authenticated_user(request),
                organization=form.chosen_organization(),
                **form.account_fields(),
            )
        except ValidationError as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(account)s was added. Platform staff will verify it before it can apply.")
                % {"account": account.screen_name},
            )
            return redirect("accounts:dashboard")
    return render(request, "accounts/account_form.html", {"form": form, "account": None})


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(official_account_list_visible_to(user=authenticated_user(request)), pk=pk)
    if not can_manage_organization(user=authenticated_user(request), organization=account.organization):
        raise PermissionDenied(
            _("Only the owners and admins of %(organization)s can change its official accounts.")
            % {"organization": account.organization.name}
        )
    data = request.POST if request.method == "POST" else None
    form = OfficialAccountForm(data, account=account)
    if request.method == "POST" and form.is_valid():
        changes = form.changed_account_fields()
        if not changes:
            messages.info(request, _("Nothing changed."))
            return redirect("accounts:dashboard")
        was_unverified = account.verification_status == VerificationStatus.UNVERIFIED
        try:
            updated = official_account_update(
                actor=authenticated_user(request), account=account, data=changes
            )
        except ValidationError as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            if not was_unverified and updated.verification_status == VerificationStatus.UNVERIFIED:
                messages.warning(
                    request,
                    _(
                        "%(account)s was saved. Its platform, uid or kind changed, so it is unverified "
                        "until platform staff verify it again."
                    )
                    % {"account": updated.screen_name},
                )
            else:
                messages.success(request, _("%(account)s was saved.") % {"account": updated.screen_name})
            return redirect("accounts:dashboard")
    return render(request, "accounts/account_form.html", {"form": form, "account": account})
