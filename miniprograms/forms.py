"""Forms of the merchant's mini program pages; the rules themselves live in the services."""

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.forms import OrganizationChoice
from accounts.models import OfficialAccount, Organization

from .models import NAME_MAX_LENGTH, Capability, Category

APP_ID_LENGTH = 16


class MiniProgramForm(OrganizationChoice):
    """Register a mini program; the organization is chosen only when the user manages several."""

    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.none(), empty_label=None
    )
    app_id = forms.CharField(
        label=_("App id"),
        # The service checks the format; the form only keeps absurd input out.
        max_length=APP_ID_LENGTH * 4,
        help_text=_("The payment platform's app id: 16 digits. It cannot be changed later."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX_LENGTH,
        help_text=_("As users see it on the profile; at most 40 characters."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    capabilities = forms.MultipleChoiceField(
        label=_("Capabilities"),
        required=False,
        choices=Capability.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the mini program offers its users."),
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization_field_setup(organizations)

    def miniprogram_fields(self) -> dict[str, Any]:
        return {
            "app_id": self.cleaned_data["app_id"],
            "name": self.cleaned_data["name"],
            "description": self.cleaned_data["description"],
            "category": self.cleaned_data["category"],
            "capabilities": list(self.cleaned_data["capabilities"]),
        }


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.screen_name} ({obj.get_platform_display()} {obj.platform_uid})"


class ProfileLinkRequestForm(forms.Form):
    """Ask for the mini program to be shown on one of the organization's accounts."""

    account = AccountChoiceField(
        label=_("Official account"),
        queryset=OfficialAccount.objects.none(),
        empty_label=_("Choose an account"),
        help_text=_("Only a whitelisted account can show mini programs; platform staff review each link."),
    )

    def __init__(self, *args: Any, accounts: QuerySet[OfficialAccount], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts  # type: ignore[attr-defined]
