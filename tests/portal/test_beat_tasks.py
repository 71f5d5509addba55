"""Every task of the beat schedule is idempotent: two beats running it (or a retried run) change nothing
after the first run. A task added to CELERY_BEAT_SCHEDULE without a case here fails the test."""

from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import User
from integrations import services as integration_services
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from miniprograms import services as miniprogram_services
from miniprograms.models import ShareQuota, ShareWindowUsage
from portal.celery import app
from tests import factories
from tests.integrations.conftest import live_link_of
from tests.integrations.receiver import Receiver
from tests.miniprograms.conftest import whitelisted
from whitelist.models import ReviewEvent, WhitelistEntry, WhitelistEntryEvent

# A case prepares work for its task and returns what the task's runs may change, as plain values.
Case = Callable[[pytest.FixtureRequest], Callable[[], Any]]
CASES: dict[str, Case] = {}


def case(task: str) -> Callable[[Case], Case]:
    def register(prepare: Case) -> Case:
        CASES[task] = prepare
        return prepare

    return register


def outbox() -> list[tuple[str, tuple[str, ...]]]:
    return sorted((message.subject, tuple(sorted(message.to))) for message in mail.outbox)


@case("miniprograms.tasks.reset_share_quotas")
def quotas_used_last_hour(request: pytest.FixtureRequest) -> Callable[[], Any]:
    request.getfixturevalue("settings").SHARE_QUOTA_BACKEND = "database"
    merchant, organization, staff = (
        request.getfixturevalue(name) for name in ("merchant", "organization", "staff")
    )
    request.getfixturevalue("policy")
    link = live_link_of(
        owner=merchant, organization=organization, reviewer=staff, uid="7600000001", app_id="2021000000007601"
    )
    an_hour_ago = timezone.now() - timedelta(hours=1)
    miniprogram_services.share_record(
        actor=merchant, miniprogram=link.miniprogram, account=link.account, now=an_hour_ago
    )
    # The run log (QuotaResetRun) gets a row a run; the quotas and the recorded usage must not change.
    return lambda: (
        sorted(ShareQuota.objects.values_list("account_id", "window_start", "used")),
        sorted(ShareWindowUsage.objects.values_list("account_id", "window_start", "used")),
    )


@case("whitelist.tasks.expire_whitelist_entries")
def entries_past_and_near_their_end(request: pytest.FixtureRequest) -> Callable[[], Any]:
    merchant, organization, staff = (
        request.getfixturevalue(name) for name in ("merchant", "organization", "staff")
    )
    request.getfixturevalue("policy")
    now = timezone.now()
    for uid, valid_until in (
        ("7600000002", now - timedelta(days=1)),
        ("7600000003", now + timedelta(days=10)),
    ):
        account = whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid=uid)
        WhitelistEntry.objects.filter(account=account).update(
            valid_from=now - timedelta(days=400), valid_until=valid_until
        )
    return lambda: (
        sorted(WhitelistEntry.objects.values_list("pk", "state", "expiry_warning_sent_at")),
        sorted(WhitelistEntryEvent.objects.values_list("entry_id", "action", "to_state")),
        outbox(),
    )


@case("integrations.tasks.send_due_webhook_deliveries")
def a_due_webhook_delivery(request: pytest.FixtureRequest) -> Callable[[], Any]:
    org_admin, organization = request.getfixturevalue("org_admin"), request.getfixturevalue("organization")
    receiver = Receiver().__enter__()
    request.addfinalizer(lambda: receiver.__exit__(None, None, None))
    integration_services.webhook_endpoint_create(
        actor=org_admin, organization=organization, url=receiver.url, events=WebhookEvent.values
    )
    # Emitted while the broker was away: only the sweep sends it
    integration_services.webhook_event_emit(
        event=WebhookEvent.LINK_LIVE, organization_id=organization.pk, data={}
    )
    return lambda: (
        sorted(WebhookDelivery.objects.values_list("pk", "state", "attempts")),
        WebhookAttempt.objects.count(),
        len(receiver.requests),
    )


@case("accounts.tasks.send_missed_welcome_emails")
def a_sign_up_whose_welcome_was_lost(request: pytest.FixtureRequest) -> Callable[[], Any]:
    user, _organization = factories.merchant_register("lostwelcome")
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(minutes=11))
    return lambda: (outbox(), User.objects.get(pk=user.pk).welcome_email_sent_at is not None)


@case("whitelist.tasks.send_missed_notifications")
def a_decision_whose_emails_were_lost(request: pytest.FixtureRequest) -> Callable[[], Any]:
    merchant, organization, staff = (
        request.getfixturevalue(name) for name in ("merchant", "organization", "staff")
    )
    request.getfixturevalue("policy")
    whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid="7600000004")
    ReviewEvent.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    return lambda: (outbox(), sorted(ReviewEvent.objects.values_list("pk", "notified_at")))


def beat_tasks() -> list[str]:
    return sorted({str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()})


@pytest.mark.django_db
@pytest.mark.parametrize("task", beat_tasks())
def test_beat_task__second_run__changes_nothing(task, request, django_capture_on_commit_callbacks):
    assert task in CASES, f"{task} is in CELERY_BEAT_SCHEDULE but has no idempotency case here"
    # Given work for the task (made in the test's transaction: the tasks of its commit never ran)
    state = CASES[task](request)
    before = state()

    import_module(task.rsplit(".", 1)[0])  # registers the task with the app, as a worker's start does

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            app.tasks[task].delay().get()

    # When it runs, then runs again (a second beat, a redelivered message)
    run()
    after_first = state()
    run()
    # Then the first run did the work and the second changed nothing
    assert after_first != before, f"the case of {task} gives it nothing to do"
    assert state() == after_first


def test_beat_schedule__every_task_has_an_idempotency_case():
    assert sorted(CASES) == beat_tasks()
