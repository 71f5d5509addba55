"""Root URL configuration: merchant pages, the admin, the API and the health check."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView

from . import views
from .api_docs import RedocView, SwaggerUiView

admin.site.site_header = _("Mini program portal — staff")
admin.site.site_title = _("Mini program portal")
admin.site.index_title = _("Programme administration")

# A lost database is a 503 wherever it happens (portal/views.py); the API's 500s stay problem details.
handler500 = "portal.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("whitelist.api_urls")),
    path("api/v1/", include("miniprograms.api_urls")),
    path("api/v1/", include("integrations.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerUiView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("accounts.auth_urls")),
    path("", include("whitelist.urls")),
    path("", include("miniprograms.urls")),
    path("", include("accounts.urls")),
    path("", include("home.urls")),
]
