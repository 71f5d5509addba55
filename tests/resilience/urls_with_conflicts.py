"""The project's URLs plus views that let a real IntegrityError escape, as a race a service missed would."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User, Vertical
from portal.urls import urlpatterns as portal_urlpatterns


@transaction.atomic
def duplicate_vertical() -> None:
    Vertical.objects.create(code="duplicate", name="First")
    Vertical.objects.create(code="duplicate", name="Second")


class DuplicateVerticalApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        duplicate_vertical()
        return Response(status=201)


class DuplicateEmailApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        with transaction.atomic():
            User.objects.create(username="first", email="Same@example.com")
            User.objects.create(username="second", email="same@EXAMPLE.com")
        return Response(status=201)


def duplicate_vertical_view(request: HttpRequest) -> HttpResponse:
    duplicate_vertical()
    return HttpResponse("created", status=201)


urlpatterns = [
    path("api/v1/test-duplicate-vertical/", DuplicateVerticalApi.as_view()),
    path("api/v1/test-duplicate-email/", DuplicateEmailApi.as_view()),
    path("api/v1/test-duplicate-vertical-plain/", duplicate_vertical_view),
    path("test-duplicate-vertical/", duplicate_vertical_view),
    *portal_urlpatterns,
]
