"""The welcome email task, run by a real Celery worker over Redis."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_ids_awaiting_welcome_email
from accounts.tasks import send_missed_welcome_emails, send_welcome_email
from portal.email_claims import EMAIL_CLAIM_EXPIRY
from tests import factories
from tests.conftest import wait_for
from tests.email_backends import WorkerKilled


@pytest.mark.django_db(transaction=True)
def test_sign_up__real_worker_over_redis__sends_welcome_email_once(live_celery_worker, api_client):
    # Given a Celery worker consuming from Redis (not eager)
    assert not send_welcome_email.app.conf.task_always_eager
    # When a merchant signs up through the API
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "erin",
            "email": "erin@example.com",
            "password": "a-long-and-unusual-passphrase",
            "organization_name": "Erin Government Office",
            "organization_kind": "government",
        },
        format="json",
    )
    assert response.status_code == 201
    # Then the worker sends the welcome email, after the sign-up was committed
    assert wait_for(lambda: len(mail.outbox) == 1), "the worker did not send the welcome email"
    message = mail.outbox[0]
    assert message.to == ["erin@example.com"]
    assert "Erin Government Office" in message.body
    assert User.objects.get(username="erin").welcome_email_sent_at is not None


@pytest.mark.django_db
def test_welcome_email__task_run_twice__sends_once(merchant):
    # The test transaction never commits, so the sign-up left the email unsent.
    User.objects.filter(pk=merchant.pk).update(welcome_email_sent_at=None)
    assert send_welcome_email.apply(kwargs={"user_id": merchant.pk}).get() is True
    assert send_welcome_email.apply(kwargs={"user_id": merchant.pk}).get() is False
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_sign_up__rolled_back__sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.merchant_register("frank")
    assert len(callbacks) == 1
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_sign_up__broker_unreachable__still_201_and_user_kept(unreachable_broker, api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "gina",
            "email": "gina@example.com",
            "password": "a-long-and-unusual-passphrase",
            "organization_name": "Gina Travel",
            "organization_kind": "enterprise",
        },
        format="json",
    )
    assert response.status_code == 201
    assert User.objects.filter(username="gina", welcome_email_sent_at__isnull=True).exists()
    assert mail.outbox == []


# The sweep of welcome emails that were never sent (the broker was down at commit)


def joined(user: User, *, minutes_ago: float) -> None:
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(minutes=minutes_ago))


@pytest.mark.django_db
def test_welcome_sweep__sends_only_recent_unsent_sign_ups_past_the_grace_and_once(staff):
    # Given sign-ups whose email never went out (the test transaction never commits), at various ages
    missed, _ = factories.merchant_register("missed")
    joined(missed, minutes_ago=11)
    just_now, _ = factories.merchant_register("justnow")  # its own task may still come
    days_ago, _ = factories.merchant_register("daysago")
    joined(days_ago, minutes_ago=3 * 24 * 60)  # past the horizon: too late to welcome
    already, _ = factories.merchant_register("already")
    joined(already, minutes_ago=11)
    User.objects.filter(pk=already.pk).update(welcome_email_sent_at=timezone.now())
    joined(staff, minutes_ago=11)  # staff are not welcomed

    # When the sweep runs, twice
    first = send_missed_welcome_emails.delay().get()
    second = send_missed_welcome_emails.delay().get()

    # Then only the missed sign-up is welcomed, once
    assert (first, second) == (1, 0)
    assert [message.to for message in mail.outbox] == [[missed.email]]
    assert just_now.pk not in user_ids_awaiting_welcome_email()


@pytest.mark.django_db
def test_welcome_email__worker_killed_between_claim_and_send__sweep_sends_it_once_the_claim_expired(settings):
    # Given a sign-up whose welcome email a worker claimed and died before sending
    user, _ = factories.merchant_register("killed")
    joined(user, minutes_ago=11)
    settings.EMAIL_BACKEND = "tests.email_backends.KilledMidSendBackend"
    with pytest.raises(WorkerKilled):
        send_welcome_email.run(user_id=user.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # When the sweep runs while the claim is fresh, then after it expired, twice
    fresh = send_missed_welcome_emails.delay().get()
    User.objects.filter(pk=user.pk).update(
        welcome_email_claimed_at=timezone.now() - EMAIL_CLAIM_EXPIRY - timedelta(seconds=1)
    )
    first = send_missed_welcome_emails.delay().get()
    second = send_missed_welcome_emails.delay().get()
    # Then the welcome went out once, after the claim expired
    assert (fresh, first, second) == (0, 1, 0)
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert User.objects.get(pk=user.pk).welcome_email_sent_at is not None
