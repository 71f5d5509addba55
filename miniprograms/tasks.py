"""Celery tasks of mini programs: the hourly share quota reset."""

from celery import shared_task

from .services import share_quotas_reset


@shared_task
def reset_share_quotas() -> int:
    """At minute 0 of every hour; idempotent, and the limit never depends on it running."""
    return share_quotas_reset().quotas_reset
