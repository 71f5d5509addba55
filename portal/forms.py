"""What every app's web forms share: a service's refusal shown on the form that asked for it."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from .errors import NON_FIELD_KEY, ApplicationError


def form_add_service_errors(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's error on the form: each message next to its field, or above the form."""
    if not error.errors:
        form.add_error(None, error.message)
        return
    for field, messages in error.errors.items():
        named = field in form.fields and field not in (NON_FIELD_KEY, NON_FIELD_ERRORS)
        form.add_error(field if named else None, messages)
