"""Celery tasks of the partner API: webhook deliveries. Each takes ids and is safe to run twice."""

from celery import shared_task

from .services import webhook_deliveries_send_due, webhook_delivery_attempt


@shared_task(ignore_result=True)
def deliver_webhook(*, delivery_id: int, manual: bool = False) -> None:
    webhook_delivery_attempt(delivery_id=delivery_id, manual=manual)


@shared_task(ignore_result=True)
def send_due_webhook_deliveries() -> int:
    return webhook_deliveries_send_due()
