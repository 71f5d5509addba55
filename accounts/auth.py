"""The signed-in user of a request, typed as the project's user model."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request

from .models import User


def authenticated_user(request: HttpRequest | Request) -> User:
    """The request's user; views that call it require a log-in, so an anonymous user is refused."""
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise PermissionDenied
    return user
