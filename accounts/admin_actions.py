"""Admin helpers shared by the apps: actions that ask for a reason before calling a service."""

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from portal.errors import ApplicationError, InvalidInput

from .auth import authenticated_user
from .models import User


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000, required=False
    )


def service_error_text(error: ApplicationError | ValidationError) -> str:
    """A refusal as the admin's message; a field's refusal without the field name the API adds."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, InvalidInput):
        return " ".join(message for messages in error.errors.values() for message in messages)
    return error.message


def action_with_form(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    form_class: type[forms.Form],
    apply: Callable[[User, Any, Mapping[str, Any]], object],
) -> HttpResponse | None:
    """Ask for a reason (or other fields) on an intermediate page, then apply a service to each row.

    A row the service refuses is reported by name and does not stop the others.
    """
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        actor = authenticated_user(request)
        done = 0
        obj: Model
        for obj in queryset:
            try:
                apply(actor, obj, form.cleaned_data)
                done += 1
            except (ApplicationError, ValidationError) as error:
                model_admin.message_user(request, f"{obj}: {service_error_text(error)}", messages.WARNING)
        model_admin.message_user(request, _("%(count)d done.") % {"count": done}, messages.SUCCESS)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "opts": model_admin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_form.html", context)


class ServiceSavingAdmin(admin.ModelAdmin):
    """A change form whose save a service may still refuse (a race after the form's checks).

    The refusal rolls the whole save back (inlines included) and is shown on the form page again.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ApplicationError, ValidationError) as error:
            self.message_user(request, service_error_text(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
