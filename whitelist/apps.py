"""Whitelist applications, their evaluation and review, and whitelist entries."""

from django.apps import AppConfig


class WhitelistConfig(AppConfig):
    name = "whitelist"
