"""Merchant web pages: sign-up, log in and out, preferences and the language switch, and the official
account forms. (The home page, which reads every app, is home.views.)"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from accounts.auth import authenticated_user
from portal.errors import ApplicationError, InvalidInput
from portal.forms import form_add_service_errors
from portal.middleware import language_from_cookie

from .forms import OfficialAccountForm, PreferencesForm, SignupForm, VerificationRequestForm
from .links import email_confirmation_user
from .models import User, VerificationStatus
from .permissions import can_manage_organization
from .selectors import official_account_list_visible_to, organization_list_managed_by
from .services import (
    email_confirmation_resend,
    official_account_create,
    official_account_request_verification,
    official_account_update,
    user_email_confirm,
    user_preferences_update,
    user_register,
)


def _remember_language(response: HttpResponse, language: str) -> None:
    """The language cookie, as Django's set_language view sets it (the admin and visitors' pages read it)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class LoginView(auth_views.LoginView):
    """Django's log in; a language chosen with the switch just before becomes the user's."""

    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        chosen = language_from_cookie(self.request)
        user = form.get_user()
        if chosen and isinstance(user, User) and chosen != user.language:
            user_preferences_update(user=user, data={"language": chosen})
        return response


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie, then back to `next`); a signed-in user's language is stored
    too, so that the pages in every browser and the emails follow it."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if isinstance(user, User) and user.is_authenticated and language in dict(settings.LANGUAGES):
        user_preferences_update(user=user, data={"language": language})
    return response


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    initial = {"language": user.language, "time_zone": user.time_zone}
    form = PreferencesForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_preferences_update(user=user, data=form.cleaned_data)
        except InvalidInput as error:
            form_add_service_errors(form, error)
        else:
            # Told in the language just chosen, as the next page will be.
            with translation.override(user.language):
                messages.success(request, _("Your preferences are saved."))
            response = redirect("accounts:preferences")
            _remember_language(response, user.language)
            return response
    return render(request, "accounts/preferences.html", {"form": form})


class LogoutView(auth_views.LogoutView):
    """Django's POST-only log out, telling the user it worked."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have logged out."))
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home:dashboard")
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user, organization = user_register(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                organization_name=form.cleaned_data["organization_name"],
                organization_kind=form.cleaned_data["organization_kind"],
                # The language the sign-up page is in: the switch's choice, else the browser's.
                language=translation.get_language(),
            )
        except InvalidInput as error:
            form_add_service_errors(form, error)
        else:
            # Named, since there are two backends (django-axes' and this one) and no authenticate() ran.
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome, %(username)s! %(organization)s is registered; add its official accounts next.")
                % {"username": user.username, "organization": organization.name},
            )
            return redirect("home:dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation email's link: a page with a button, so a mail scanner's GET confirms nothing."""
    user = email_confirmation_user(token)
    if user is not None and request.method == "POST":
        user_email_confirm(user=user)
        messages.success(request, _("Your email address is confirmed."))
        return redirect("home:dashboard" if request.user.is_authenticated else "login")
    return render(request, "accounts/email_confirm.html", {"confirm_user": user})


@login_required
@require_POST
def email_confirmation_resend_view(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    if email_confirmation_resend(user=user):
        messages.info(
            request, _("A new confirmation link is on its way to %(email)s.") % {"email": user.email}
        )
    elif user.email_confirmed_at is None:
        messages.warning(request, _("Several links were sent already; wait a while before asking again."))
    return redirect("home:dashboard")


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
        except ApplicationError as error:
            form_add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("%(account)s was added. Platform staff will verify it before it can apply.")
                % {"account": account.screen_name},
            )
            return redirect("home:dashboard")
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
            return redirect("home:dashboard")
        was_unverified = account.verification_status == VerificationStatus.UNVERIFIED
        try:
            updated = official_account_update(
                actor=authenticated_user(request), account=account, data=changes
            )
        except ApplicationError as error:
            form_add_service_errors(form, error)
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
            return redirect("home:dashboard")
    context = {"form": form, "account": account, "verification_form": VerificationRequestForm()}
    return render(request, "accounts/account_form.html", context)


@login_required
@require_POST
def account_request_verification(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask staff to verify the account (from its page); the answer comes by email and on the page."""
    user = authenticated_user(request)
    account = get_object_or_404(official_account_list_visible_to(user=user), pk=pk)
    form = VerificationRequestForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("accounts:account-edit", pk=account.pk)
    try:
        official_account_request_verification(actor=user, account=account, note=form.cleaned_data["note"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Verification of %(account)s was requested. Staff answer by email.")
            % {"account": account.screen_name},
        )
    return redirect("accounts:account-edit", pk=account.pk)
