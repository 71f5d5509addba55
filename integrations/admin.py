"""Staff screens of the partner API: issue and revoke keys, webhook endpoints, the delivery log."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import action_with_form
from accounts.auth import authenticated_user
from accounts.scopes import Scope
from portal.admin_pagination import LargeTableAdmin
from portal.errors import ApplicationError

from . import services
from .models import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class ConfirmForm(forms.Form):
    """An intermediate page that only asks to confirm."""


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "organization", "scopes", "expiry_date"]

    def clean_expiry_date(self) -> Any:
        expiry_date = self.cleaned_data.get("expiry_date")
        if expiry_date is not None and expiry_date <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return expiry_date


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "organization",
        "scope_list",
        "created",
        "expiry_date",
        "last_used_at",
        "usable",
    ]
    list_filter = ["revoked", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "organization__name"]
    list_select_related = ["organization"]
    raw_id_fields = ["organization"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "prefix",
        "organization",
        "scopes",
        "expiry_date",
        "created",
        "created_by",
        "last_used_at",
        "revoked",
        "revoked_at",
    ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None:
            return tuple(self.readonly_fields)
        return ("name", "organization", "scopes", "expiry_date")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # a key cannot be edited; revoke it and issue another
        key, secret = services.api_key_issue(
            actor=authenticated_user(request),
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            organization=form.cleaned_data["organization"],
            expiry_date=form.cleaned_data["expiry_date"],
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            format_html(
                "The key of “{}” is <code>{}</code>. Copy it now: "
                "it is stored hashed and will not be shown again.",
                key.name,
                secret,
            ),
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the log of who used which key keeps its key

    @admin.display(description=_("scopes"))
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    @admin.display(description=_("usable"), boolean=True)
    def usable(self, key: ApiKey) -> bool:
        return key.is_usable

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="revoke",
            title=str(_("Revoke these keys? Clients using them are refused at once; this cannot be undone.")),
            form_class=ConfirmForm,
            apply=lambda actor, key, data: services.api_key_revoke(actor=actor, key=key),
        )


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "events", "description", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "organization", "event_list", "is_active", "created_at"]
    list_filter = ["is_active", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["url", "organization__name", "description"]
    list_select_related = ["organization"]
    raw_id_fields = ["organization"]
    readonly_fields = ["secret_hint", "created_by", "created_at"]
    actions = ["rotate_secret"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        actor = authenticated_user(request)
        data = form.cleaned_data
        try:
            if change:
                services.webhook_endpoint_update(actor=actor, endpoint=obj, data=data)
            else:
                endpoint = services.webhook_endpoint_create(
                    actor=actor,
                    organization=data["organization"],
                    url=data["url"],
                    events=data["events"],
                    description=data["description"],
                )
                obj.pk = endpoint.pk
                obj.refresh_from_db()
                self.message_user(
                    request,
                    format_html("The signing secret is <code>{}</code>.", endpoint.secret),
                    messages.WARNING,
                )
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)

    @admin.display(description=_("events"))
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description=_("signing secret"))
    def secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return f"{endpoint.secret[:10]}…" if endpoint.secret else "—"

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="rotate_secret",
            title=str(_("Rotate the signing secret? Receivers must switch to the new one.")),
            form_class=ConfirmForm,
            apply=lambda actor, endpoint, data: services.webhook_endpoint_rotate_secret(
                actor=actor, endpoint=endpoint
            ),
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "number",
        "requested_at",
        "duration_ms",
        "response_status",
        "error",
        "response_body",
        "manual",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdmin):
    list_display = ["event", "endpoint", "state", "attempts", "created_at", "next_attempt_at", "delivered_at"]
    # Not date_hierarchy: it lists the dates found, a scan of the whole table on every load.
    list_filter = ["state", "event", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["endpoint__url", "event_id"]
    list_select_related = ["endpoint"]
    inlines = [WebhookAttemptInline]
    actions = ["resend"]
    readonly_fields = [
        "endpoint",
        "event",
        "event_id",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "delivered_at",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Re-send selected deliveries"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset.select_related("endpoint__organization"),
            action="resend",
            title=str(_("Re-send these deliveries now?")),
            form_class=ConfirmForm,
            apply=lambda actor, delivery, data: services.webhook_delivery_resend(
                actor=actor, delivery=delivery
            ),
        )
