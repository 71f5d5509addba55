"""Celery worker or broker down: requests still succeed, and each email goes out once when it is back.

The project's own Celery app publishes to the test's own Redis; a real worker thread consumes from it.
"""

import base64
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tasks import send_missed_welcome_emails, send_welcome_email
from tests import factories
from tests.conftest import start_celery_worker, wait_for
from tests.whitelist.conftest import EVIDENCE
from whitelist import services as whitelist_services
from whitelist.models import ReviewEvent, WhitelistEntry, WhitelistEntryEvent
from whitelist.tasks import notify_application_event, notify_entry_event, send_missed_notifications

SIGN_UP = {
    "username": "erin",
    "email": "erin@example.com",
    "password": "a-long-and-unusual-passphrase",
    "organization_name": "Erin Government Office",
    "organization_kind": "government",
}
WELCOME_SUBJECT = "Welcome to the mini program portal"


def queued(server) -> list[dict]:  # type: ignore[no-untyped-def]
    """The task messages waiting in the default queue, oldest first: their headers and keyword arguments."""
    messages = []
    for raw in reversed(server.client().lrange("celery", 0, -1)):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append({**message["headers"], "kwargs": kwargs})
    return messages


def sent(subject_part: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if subject_part in message.subject]


def redeliver(task, headers: dict):  # type: ignore[no-untyped-def]
    """Publish a task message again under its own id, as the broker does when a worker dies before
    acknowledging it; returns what the worker's run of it returned."""
    result = task.apply_async(kwargs=headers["kwargs"], task_id=headers["id"], ignore_result=False)
    return result.get(timeout=20)


@pytest.fixture
def submittable(celery_on_own_redis, merchant, organization, staff, policy):  # type: ignore[no-untyped-def]
    """A draft application of the merchant's verified account, made while the worker is down."""
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="9200000001",
        screen_name="Alice Burgers",
        followers_count=300_000,
        verified_by=staff,
    )
    return whitelist_services.application_create(actor=merchant, account=account, data=EVIDENCE)


# Worker down: the task waits in Redis


@pytest.mark.django_db(transaction=True)
def test_sign_up_api__worker_down__201_then_welcome_sent_once_even_when_redelivered(
    celery_on_own_redis, redis_server
):
    # Given no worker runs
    response = APIClient().post("/api/v1/auth/register/", SIGN_UP, format="json")
    # Then the sign-up succeeds, and its email waits in the queue, published after the commit
    assert response.status_code == 201
    assert mail.outbox == []
    (message,) = queued(redis_server)
    assert message["task"] == "accounts.tasks.send_welcome_email"

    # When the worker starts
    with start_celery_worker(celery_on_own_redis):
        # Then the email goes out once
        assert wait_for(lambda: len(sent(WELCOME_SUBJECT)) == 1), "the worker did not send the welcome email"
        assert User.objects.get(username="erin").welcome_email_sent_at is not None
        # And the same message delivered again sends nothing
        assert redeliver(send_welcome_email, message) is False
    assert [m.to for m in sent(WELCOME_SUBJECT)] == [["erin@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_sign_up_page__worker_down__redirects_then_welcome_sent_once(celery_on_own_redis):
    response = Client().post("/signup/", {**SIGN_UP, "password_confirmation": SIGN_UP["password"]})
    assert response.status_code == 302, response.content[:2000]
    assert mail.outbox == []
    with start_celery_worker(celery_on_own_redis):
        assert wait_for(lambda: len(sent(WELCOME_SUBJECT)) == 1)
    assert len(sent(WELCOME_SUBJECT)) == 1


@pytest.mark.django_db(transaction=True)
def test_submit__worker_down__200_then_notification_sent_once_even_when_redelivered(
    celery_on_own_redis, redis_server, merchant, submittable
):
    client = APIClient()
    client.force_authenticate(merchant)
    response = client.post(f"/api/v1/applications/{submittable.pk}/submit/")
    assert response.status_code == 200, response.content
    [message] = [m for m in queued(redis_server) if "notify" in m["task"]]
    assert message["task"] == "whitelist.tasks.notify_application_event"
    assert sent("Submitted") == []

    with start_celery_worker(celery_on_own_redis):
        assert wait_for(lambda: len(sent("Submitted")) == 1), "the worker did not send the notification"
        assert redeliver(notify_application_event, message) == 0
    assert [m.to for m in sent("Submitted")] == [[merchant.email]]
    assert ReviewEvent.objects.get(application=submittable, to_state="submitted").notified_at is not None


@pytest.mark.django_db(transaction=True)
def test_entry_suspended__worker_down__200_then_notification_sent_once_even_when_redelivered(
    celery_on_own_redis, redis_server, merchant, staff, submittable
):
    whitelist_services.application_submit(actor=merchant, application=submittable)
    whitelist_services.application_approve(actor=staff, application=submittable)
    entry = WhitelistEntry.objects.get(account=submittable.account)
    celery_on_own_redis.control.purge()
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post(
        f"/api/v1/whitelist-entries/{entry.pk}/suspend/", {"reason": "Spam."}, format="json"
    )
    assert response.status_code == 200, response.content
    [message] = queued(redis_server)
    assert message["task"] == "whitelist.tasks.notify_entry_event"

    with start_celery_worker(celery_on_own_redis):
        assert wait_for(lambda: len(sent("Suspended")) == 1), "the worker did not send the notification"
        assert redeliver(notify_entry_event, message) == 0
    assert len(sent("Suspended")) == 1


# Broker down at commit: the task is lost, the request succeeds, the beat sweep sends it later


def age(model, pk: int, field: str, minutes: int) -> None:  # type: ignore[no-untyped-def]
    """Let time pass for a row: the sweep leaves alone what the normal task may still send."""
    model.objects.filter(pk=pk).update(**{field: timezone.now() - timedelta(minutes=minutes)})


def run_beat_task(app, task):  # type: ignore[no-untyped-def]
    """Publish the task as beat does, and wait for a worker's answer."""
    return task.apply_async(ignore_result=False).get(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_sign_up__broker_down__201_and_the_sweep_sends_the_welcome_once(celery_on_own_redis, site_on_redis):
    # Given Redis (the broker) is down
    site_on_redis.stop()
    # When a merchant signs up
    response = APIClient().post("/api/v1/auth/register/", SIGN_UP, format="json")
    # Then the sign-up is kept, though its email task could not be queued
    assert response.status_code == 201
    user = User.objects.get(username="erin")
    assert user.welcome_email_sent_at is None
    # When Redis is back, the sweep leaves a recent sign-up to its own task
    site_on_redis.start()
    with start_celery_worker(celery_on_own_redis):
        assert run_beat_task(celery_on_own_redis, send_missed_welcome_emails) == 0
        # And once it is older than the grace, the sweep sends its email, once however often it runs
        age(User, user.pk, "date_joined", minutes=11)
        assert run_beat_task(celery_on_own_redis, send_missed_welcome_emails) == 1
        assert wait_for(lambda: len(sent(WELCOME_SUBJECT)) == 1)
        assert run_beat_task(celery_on_own_redis, send_missed_welcome_emails) == 0
    assert [m.to for m in sent(WELCOME_SUBJECT)] == [["erin@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_submit__broker_down__200_and_the_sweep_sends_the_notification_once(
    celery_on_own_redis, site_on_redis, merchant, submittable
):
    site_on_redis.stop()
    client = APIClient()
    client.force_authenticate(merchant)
    response = client.post(f"/api/v1/applications/{submittable.pk}/submit/")
    assert response.status_code == 200, response.content
    event = ReviewEvent.objects.get(application=submittable, to_state="submitted")
    assert event.notified_at is None

    site_on_redis.start()
    age(ReviewEvent, event.pk, "created_at", minutes=11)
    age(User, merchant.pk, "date_joined", minutes=60 * 24 * 3)  # the merchant's welcome is out of the sweep
    with start_celery_worker(celery_on_own_redis):
        assert run_beat_task(celery_on_own_redis, send_missed_notifications) == 1
        assert wait_for(lambda: len(sent("Submitted")) == 1)
        assert run_beat_task(celery_on_own_redis, send_missed_notifications) == 0
    assert [m.to for m in sent("Submitted")] == [[merchant.email]]


@pytest.mark.django_db(transaction=True)
def test_entry_revoked__broker_down__200_and_the_sweep_sends_the_notification_once(
    celery_on_own_redis, site_on_redis, merchant, staff, submittable
):
    whitelist_services.application_submit(actor=merchant, application=submittable)
    whitelist_services.application_approve(actor=staff, application=submittable)
    entry = WhitelistEntry.objects.get(account=submittable.account)
    ReviewEvent.objects.update(notified_at=timezone.now())  # the earlier steps' emails are not this test's
    site_on_redis.stop()
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post(
        f"/api/v1/whitelist-entries/{entry.pk}/revoke/", {"reason": "Fraud."}, format="json"
    )
    assert response.status_code == 200, response.content
    event = WhitelistEntryEvent.objects.get(entry=entry, action="revoke")

    site_on_redis.start()
    age(WhitelistEntryEvent, event.pk, "created_at", minutes=11)
    with start_celery_worker(celery_on_own_redis):
        assert run_beat_task(celery_on_own_redis, send_missed_notifications) == 1
        assert wait_for(lambda: len(sent("Revoked")) == 1)
        assert run_beat_task(celery_on_own_redis, send_missed_notifications) == 0
    assert len(sent("Revoked")) == 1


def test_beat_schedule__runs_both_email_sweeps_every_ten_minutes():
    from portal.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("accounts.tasks.send_missed_welcome_emails", "whitelist.tasks.send_missed_notifications"):
        assert name in app.tasks, name
        assert schedule[name]._orig_minute == "*/10"
