"""Merchant web pages of the accounts app."""

from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("preferences/", views.preferences, name="preferences"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/<int:pk>/edit/", views.account_edit, name="account-edit"),
    path(
        "accounts/<int:pk>/request-verification/",
        views.account_request_verification,
        name="account-request-verification",
    ),
]
