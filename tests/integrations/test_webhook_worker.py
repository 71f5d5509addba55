"""Webhook deliveries through a real Celery worker over Redis, and after the worker was down."""

import pytest
from django.db import transaction

from integrations import services, tasks
from integrations.models import DeliveryState, WebhookDelivery, WebhookEvent
from tests.conftest import start_celery_worker, wait_for
from tests.integrations.receiver import Receiver


@pytest.mark.django_db(transaction=True)
def test_delivery__real_worker_over_redis__posts_after_commit(
    live_celery_worker, staff, organization, org_admin
):
    assert not tasks.deliver_webhook.app.conf.task_always_eager
    with Receiver() as receiver:
        endpoint = services.webhook_endpoint_create(
            actor=org_admin, organization=organization, url=receiver.url, events=[WebhookEvent.ENTRY_REVOKED]
        )
        # When a change commits its event
        with transaction.atomic():
            (delivery,) = services.webhook_event_emit(
                event=WebhookEvent.ENTRY_REVOKED,
                organization_id=organization.pk,
                data={"whitelist_entry": {"id": 1}},
            )
            # Nothing leaves before the commit
            assert receiver.requests == []
        # Then the worker posts it once
        assert wait_for(lambda: len(receiver.requests) == 1), "the worker did not deliver"
        assert wait_for(
            lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.DELIVERED
        ), "the delivery was not marked delivered"
        assert receiver.requests[0]["headers"]["X-Portal-Signature"] == services.webhook_signature(
            secret=endpoint.secret,
            timestamp=receiver.requests[0]["headers"]["X-Portal-Timestamp"],
            body=receiver.requests[0]["body"],
        )


@pytest.mark.django_db(transaction=True)
def test_delivery__worker_down__goes_out_once_when_it_is_back(
    celery_on_redis, staff, organization, org_admin
):
    with Receiver() as receiver:
        services.webhook_endpoint_create(
            actor=org_admin, organization=organization, url=receiver.url, events=[WebhookEvent.LINK_LIVE]
        )
        # Given no worker runs: the committed change's task waits in Redis
        with transaction.atomic():
            (delivery,) = services.webhook_event_emit(
                event=WebhookEvent.LINK_LIVE, organization_id=organization.pk, data={}
            )
        assert receiver.requests == []
        assert WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.PENDING
        # And the minute's sweep queues it a second time meanwhile
        assert services.webhook_deliveries_send_due() == 1
        # When a worker starts
        with start_celery_worker(celery_on_redis):
            # Then the delivery goes out, once, though two tasks asked for it
            assert wait_for(
                lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == DeliveryState.DELIVERED
            ), "the worker did not deliver"
        assert len(receiver.requests) == 1
        assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1
