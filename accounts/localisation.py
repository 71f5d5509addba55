"""The language and time zone a user reads in, for what is rendered outside a request (emails)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone, translation

from .models import User


@contextmanager
def user_locale(user: User) -> Iterator[None]:
    """Render inside this for the user: texts in the user's language, times in the user's time zone."""
    with translation.override(user.language), timezone.override(user.time_zone):
        yield
