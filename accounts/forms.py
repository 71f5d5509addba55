"""Forms of the merchant web pages; the rules themselves live in the services."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .lockout import client_ip_address
from .models import (
    AccountKind,
    OfficialAccount,
    Organization,
    OrganizationKind,
    Platform,
    VerificationStatus,
)
from .selectors import vertical_list
from .services import ACCOUNT_EDITABLE_FIELDS, VERIFICATION_NOTE_MAX_LENGTH, password_reset_request
from .validators import time_zone_names


class OrganizationChoice(forms.Form):
    """The organization a new object goes to: no field when the user may choose only one, else a choice.

    A form with an `organization` field calls `organization_field_setup` from its `__init__`.
    """

    fixed_organization: Organization | None = None

    def organization_field_setup(self, organizations: QuerySet[Organization]) -> None:
        first_two = list(organizations[:2])
        if len(first_two) == 1:
            del self.fields["organization"]
            self.fixed_organization = first_two[0]
        else:
            self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]

    def chosen_organization(self) -> Organization:
        return self.fixed_organization or self.cleaned_data["organization"]


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's password reset form; the email is queued for the worker, within the reset rates."""

    def save(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        # Django's arguments (domain_override, use_https, ...) build links from the request: not used, the
        # link comes from PORTAL_BASE_URL.
        password_reset_request(
            email=self.cleaned_data["email"],
            ip_address=client_ip_address(request) if request is not None else None,
        )


class SignupForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and @ . + - _ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        help_text=_("Used to reset your password and to tell you about reviews."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirmation = forms.CharField(
        label=_("Password confirmation"),
        strip=False,
        help_text=_("Enter the same password again."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    organization_name = forms.CharField(
        label=_("Organization name"),
        max_length=200,
        help_text=_("The legal entity behind your official accounts, as on its licence."),
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    organization_kind = forms.ChoiceField(label=_("Organization kind"), choices=OrganizationKind.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = " ".join(password_validators_help_texts())

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        password = cleaned_data.get("password")
        confirmation = cleaned_data.get("password_confirmation")
        if password and confirmation and password != confirmation:
            self.add_error("password_confirmation", _("The two passwords do not match."))
        return cleaned_data


class AccountFilterForm(forms.Form):
    """The dashboard's search box and filters, read from the query string."""

    search = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Screen name or exact platform uid")}
        ),
    )
    verification_status = forms.ChoiceField(
        label=_("Verification"),
        required=False,
        choices=[("", _("Any status")), *VerificationStatus.choices],
    )
    vertical = forms.ModelChoiceField(
        label=_("Vertical"),
        required=False,
        queryset=vertical_list(),
        to_field_name="code",
        empty_label=_("Any vertical"),
    )

    def filters(self) -> dict[str, str]:
        """The selector arguments of the valid filters; an invalid one is left out."""
        self.is_valid()
        data = self.cleaned_data
        vertical = data.get("vertical")
        return {
            "search": (data.get("search") or "").strip(),
            "verification_status": data.get("verification_status") or "",
            "vertical": vertical.code if vertical else "",
        }


class OfficialAccountForm(OrganizationChoice):
    """Add or edit an official account; the organization is chosen only when adding."""

    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.none(), empty_label=None
    )
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices, initial=Platform.WEIBO)
    platform_uid = forms.CharField(
        label=_("Platform uid"),
        max_length=64,
        help_text=_("The account's numeric id on the platform, as shown in its profile link."),
    )
    screen_name = forms.CharField(label=_("Screen name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=AccountKind.choices)
    vertical = forms.ModelChoiceField(
        label=_("Vertical"), queryset=vertical_list(), to_field_name="code", empty_label=None
    )
    followers_count = forms.IntegerField(label=_("Followers"), min_value=0, initial=0)

    def __init__(
        self,
        *args: Any,
        organizations: QuerySet[Organization] | None = None,
        account: OfficialAccount | None = None,
        **kwargs: Any,
    ) -> None:
        self.account = account
        if account is not None:
            kwargs.setdefault(
                "initial", {field: getattr(account, field) for field in ACCOUNT_EDITABLE_FIELDS}
            )
        super().__init__(*args, **kwargs)
        if account is not None:
            # An account does not move between organizations.
            del self.fields["organization"]
            self.fixed_organization = account.organization
            return
        self.organization_field_setup(
            organizations if organizations is not None else Organization.objects.none()
        )

    def account_fields(self) -> dict[str, Any]:
        return {field: self.cleaned_data[field] for field in ACCOUNT_EDITABLE_FIELDS}

    def changed_account_fields(self) -> dict[str, Any]:
        changed = [field for field in self.changed_data if field in ACCOUNT_EDITABLE_FIELDS]
        return {field: self.cleaned_data[field] for field in changed}


# The zones the programme's merchants live in, offered first.
COMMON_TIME_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "UTC",
)
# Region/City names only: not aliases such as "Factory", "localtime", "PRC" or "Etc/GMT+8".
_REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


def _time_zone_label(name: str) -> str:
    return name.replace("_", " ")


def _time_zone_choices() -> list[tuple[Any, Any]]:
    known = time_zone_names()
    common = [(name, _time_zone_label(name)) for name in COMMON_TIME_ZONES if name in known]
    rest = [
        (name, _time_zone_label(name))
        for name in sorted(known)
        if name.split("/", 1)[0] in _REGIONS and "/" in name and name not in COMMON_TIME_ZONES
    ]
    return [(_("Common"), common), (_("All time zones"), rest)]


class VerificationRequestForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the staff (optional)"),
        required=False,
        max_length=VERIFICATION_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example where staff can check the account, or the reference of a document."),
    )


class PreferencesForm(forms.Form):
    """The language and time zone of the user's pages and emails."""

    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=_time_zone_choices,
        help_text=_("Times on these pages and in the portal's emails are shown in this time zone."),
    )
