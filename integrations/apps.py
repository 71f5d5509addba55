"""The partner API's own parts: API keys with scopes, and webhooks."""

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Partner API"
