"""The whitelist and partner portal for mini programs on official accounts."""

from .celery import app as celery_app

__all__ = ("celery_app",)
