"""Whitelist applications, their evaluation and review, and whitelist entries."""

from django.apps import AppConfig


class WhitelistConfig(AppConfig):
    name = "whitelist"

    def ready(self) -> None:
        from accounts.hooks import register_account_dependents_check

        from .selectors import account_whitelist_dependents

        register_account_dependents_check(account_whitelist_dependents)
