"""Mini programs, their profile links and the hourly share quota."""

from django.apps import AppConfig


class MiniprogramsConfig(AppConfig):
    name = "miniprograms"

    def ready(self) -> None:
        from accounts.hooks import register_account_dependents_check

        from .selectors import account_profile_link_dependents

        register_account_dependents_check(account_profile_link_dependents)
