"""Forms of the merchant's whitelist pages; the rules between fields live in the services."""

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount

from .constants import UserService
from .models import ApplicationState, WhitelistApplication

PRODUCT_ROWS = 5
SUPPORT_CHANNELS_MAX = 10
SUPPORT_CHANNEL_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 5000


class ApplicationFilterForm(forms.Form):
    """The application list's state filter, read from the query string."""

    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Any state")), *ApplicationState.choices]
    )

    def chosen_state(self) -> str:
        """The valid state asked for, or "" for all; an invalid one is ignored."""
        return (self.cleaned_data.get("state") or "") if self.is_valid() else ""


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return (
            f"{obj.screen_name} ({obj.get_platform_display()} {obj.platform_uid}) · {obj.organization.name}"
        )


class ApplicationForm(forms.Form):
    """The evidence of an application, in the sections the page shows; the account only when creating."""

    account = AccountChoiceField(
        label=_("Official account"),
        queryset=OfficialAccount.objects.none(),
        empty_label=_("Choose an account"),
        help_text=_("Accounts of the organizations you manage that have no open application."),
    )

    # (a) Development capability
    has_in_house_team = forms.BooleanField(
        label=_("We have an in-house development team"),
        required=False,
        help_text=_("Staff employed by your organization who build and run your apps or mini programs."),
    )
    dev_team_size = forms.IntegerField(
        label=_("In-house team size"),
        required=False,
        min_value=0,
        max_value=100_000,
        initial=0,
        help_text=_("Developers on the in-house team; leave 0 without a team."),
    )

    # (b) User services
    services = forms.MultipleChoiceField(
        label=_("User-facing services"),
        required=False,
        choices=UserService.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What users can do through your mini programs; advertising alone is not a service."),
    )
    support_channels = forms.CharField(
        label=_("Support channels"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: a hotline, an online service desk, an email address (at most 10)."),
    )
    after_sales_policy = forms.CharField(
        label=_("After-sales policy"),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Anything else a reviewer should know, including the evidence you can show."),
    )

    def __init__(
        self,
        *args: Any,
        accounts: QuerySet[OfficialAccount] | None = None,
        application: WhitelistApplication | None = None,
        **kwargs: Any,
    ) -> None:
        if application is not None:
            kwargs.setdefault("initial", self.initial_of(application))
        # Room for every product already listed (the API takes more than the page offers), so none is lost.
        existing = len(application.self_developed_products or []) if application is not None else 0
        self.product_count = max(PRODUCT_ROWS, existing)
        super().__init__(*args, **kwargs)
        for row in self.product_rows():
            self.fields[f"product_name_{row}"] = forms.CharField(
                label=_("Product %(number)d name") % {"number": row}, required=False, max_length=100
            )
            self.fields[f"product_url_{row}"] = forms.URLField(
                label=_("Product %(number)d link") % {"number": row},
                required=False,
                max_length=500,
                assume_scheme="https",
            )
        if application is not None:
            # An application does not move between accounts.
            del self.fields["account"]
        else:
            self.fields["account"].queryset = (  # type: ignore[attr-defined]
                accounts if accounts is not None else OfficialAccount.objects.none()
            )

    def product_rows(self) -> range:
        return range(1, self.product_count + 1)

    @staticmethod
    def initial_of(application: WhitelistApplication) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "has_in_house_team": application.has_in_house_team,
            "dev_team_size": application.dev_team_size,
            "services": list(application.services or []),
            "support_channels": "\n".join(application.support_channels or []),
            "after_sales_policy": application.after_sales_policy,
            "description": application.description,
        }
        products = list(application.self_developed_products or [])
        for row, product in enumerate(products, start=1):
            initial[f"product_name_{row}"] = product.get("name", "")
            initial[f"product_url_{row}"] = product.get("url", "")
        return initial

    @property
    def product_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """The (name, link) pairs, for the template to lay out as rows."""
        return [(self[f"product_name_{row}"], self[f"product_url_{row}"]) for row in self.product_rows()]

    def clean_dev_team_size(self) -> int:
        return self.cleaned_data.get("dev_team_size") or 0

    def clean_support_channels(self) -> list[str]:
        lines = [line.strip() for line in (self.cleaned_data.get("support_channels") or "").splitlines()]
        channels = [line for line in lines if line]
        if len(channels) > SUPPORT_CHANNELS_MAX:
            raise forms.ValidationError(
                _("List at most %(maximum)d support channels."), params={"maximum": SUPPORT_CHANNELS_MAX}
            )
        too_long = [channel for channel in channels if len(channel) > SUPPORT_CHANNEL_MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("Keep each support channel to %(maximum)d characters."),
                params={"maximum": SUPPORT_CHANNEL_MAX_LENGTH},
            )
        return channels

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        products: list[dict[str, str]] = []
        for row in self.product_rows():
            name_field, url_field = f"product_name_{row}", f"product_url_{row}"
            if name_field in self.errors or url_field in self.errors:
                continue
            name = (cleaned_data.get(name_field) or "").strip()
            url = cleaned_data.get(url_field) or ""
            if name and not url:
                self.add_error(url_field, _("Give the product's link too."))
            elif url and not name:
                self.add_error(name_field, _("Name the product too."))
            elif name and url:
                products.append({"name": name, "url": url})
        cleaned_data["self_developed_products"] = products
        return cleaned_data

    def chosen_account(self) -> OfficialAccount:
        return self.cleaned_data["account"]

    def evidence(self) -> dict[str, Any]:
        """The evidence, in the shape the services take."""
        data = self.cleaned_data
        return {
            "has_in_house_team": data["has_in_house_team"],
            "dev_team_size": data["dev_team_size"],
            "self_developed_products": data["self_developed_products"],
            "services": list(data["services"]),
            "support_channels": data["support_channels"],
            "after_sales_policy": data["after_sales_policy"].strip(),
            "description": data["description"].strip(),
        }
