"""The scopes an API key can hold, and what each lets it do."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    WHITELIST_READ = "whitelist:read", _("whitelist:read: look up accounts and read whitelist entries")
    PROFILES_READ = "profiles:read", _("profiles:read: read the mini programs of a profile")
    SHARES_WRITE = "shares:write", _("shares:write: share for an account and read its quota")
    ACCOUNTS_WRITE = "accounts:write", _("accounts:write: upsert the account directory")
