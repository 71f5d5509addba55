"""Merchant web pages of the whitelist, under /applications/."""

from django.urls import path

from . import views

app_name = "whitelist"

urlpatterns = [
    path("applications/", views.application_list, name="application-list"),
    path("applications/new/", views.application_create, name="application-create"),
    path("applications/<int:pk>/", views.application_detail, name="application-detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application-edit"),
    path("applications/<int:pk>/evaluate/", views.application_evaluate, name="application-evaluate"),
    path("applications/<int:pk>/submit/", views.application_submit, name="application-submit"),
    path("applications/<int:pk>/resubmit/", views.application_resubmit, name="application-resubmit"),
    path("applications/<int:pk>/withdraw/", views.application_withdraw, name="application-withdraw"),
    path(
        "applications/<int:pk>/documents/",
        views.application_attachment_upload,
        name="application-attachment-upload",
    ),
    path(
        "applications/<int:pk>/documents/<int:attachment_id>/remove/",
        views.application_attachment_remove,
        name="application-attachment-remove",
    ),
]
