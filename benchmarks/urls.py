"""The project's URLs, a trivial DRF endpoint and Django's stock admin: the references of `make bench`."""

from django.contrib.admin import AdminSite
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import OfficialAccount
from whitelist.models import WhitelistApplication


class TrivialApi(APIView):
    """The least a DRF endpoint does: the project's default authentication and throttles, a fixed body."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


# Django's stock changelist for the same models: a plain ModelAdmin counts every row of the table.
stock_admin = AdminSite(name="stock_admin")
stock_admin.register(OfficialAccount)
stock_admin.register(WhitelistApplication)

urlpatterns = [
    path("bench/trivial/", TrivialApi.as_view(), name="bench-trivial"),
    path("bench/stock-admin/", stock_admin.urls),
    path("", include("portal.urls")),
]
