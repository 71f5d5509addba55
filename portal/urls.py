"""Root URL configuration: merchant pages, the admin, the API and the health check."""

from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "Mini program portal — staff"
admin.site.site_title = "Mini program portal"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("accounts.api_urls")),
    path("", include("accounts.auth_urls")),
    path("", include("accounts.urls")),
]
