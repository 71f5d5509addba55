"""Merchant pages in the signed-in user's language and time zone."""

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from portal.middleware import is_merchant_path

from .models import User


class MerchantLocaleMiddleware:
    """On merchant pages: a signed-in user's stored language (which the language switch and the
    Preferences page change), and times in the user's time zone; visitors get the language of the
    switch's cookie or of the browser (LocaleMiddleware) and MERCHANT_TIME_ZONE.

    After AuthenticationMiddleware. The zone is given back after each request, so that a thread's next
    request (an API call, an admin page) is in UTC again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_merchant_path(request.path_info):
            return self.get_response(request)
        user = getattr(request, "user", None)
        time_zone_name = settings.MERCHANT_TIME_ZONE
        if isinstance(user, User) and user.is_authenticated:
            time_zone_name = user.time_zone
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            time_zone = zoneinfo.ZoneInfo(time_zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # A zone that this system's tz database no longer knows: the default rather than a 500.
            time_zone = zoneinfo.ZoneInfo(settings.MERCHANT_TIME_ZONE)
        timezone.activate(time_zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
