"""Emails to users: rendered in each recipient's language and time zone."""

from collections.abc import Mapping, Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string

from .localisation import user_locale
from .models import User


def email_users(recipients: Sequence[User], template: str, context: Mapping[str, object]) -> None:
    """The email `emails/<template>` once for each language and time zone among the recipients."""
    groups: dict[tuple[str, str], list[User]] = {}
    for user in recipients:
        groups.setdefault((user.language, user.time_zone), []).append(user)
    messages = []
    for users in groups.values():
        with user_locale(users[0]):
            subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
            body = render_to_string(f"emails/{template}.txt", context)
        messages.append(
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email for user in users])
        )
    get_connection().send_messages(messages)
