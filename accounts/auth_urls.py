"""Log in and out, password reset, email confirmation and the language switch (Django's URL names)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import PasswordResetForm

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    # Django's set_language at django.conf.urls.i18n's path and name; it also stores the user's choice.
    path("i18n/setlang/", views.language_switch, name="set_language"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("confirm-email/resend/", views.email_confirmation_resend_view, name="email_confirm_resend"),
    path("confirm-email/<str:token>/", views.email_confirm, name="email_confirm"),
    path(
        "password-reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
