"""The project's URLs plus views that fail, to test errors raised outside DRF."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


urlpatterns = [
    path("api/v1/test-crash/", crash),
    path("api/v1/test-forbidden/", forbidden),
    *portal_urlpatterns,
]
