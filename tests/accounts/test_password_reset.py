"""Password reset cannot be abused: links from PORTAL_BASE_URL, rates per address and per email, the email
sent by the worker after the response, and nothing sent to an unconfirmed address."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests import factories
from tests.conftest import wait_for

RESET_URL = reverse("password_reset")
DONE_URL = reverse("password_reset_done")


def ask(client: Client, email: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(RESET_URL, {"email": email}, **extra)


@pytest.mark.django_db
def test_reset_link__is_built_from_portal_base_url__not_from_the_host_header(
    merchant, settings, django_capture_on_commit_callbacks
):
    # Given the site's configured address
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    # When a client asks for the merchant's reset link with a Host header of its choosing (an allowed
    # host name, its own port)
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(Client(), merchant.email, HTTP_HOST="localhost:6666")
    # Then the emailed link points at the configured site, not at that host and port
    assert response.status_code == 302
    [email] = mail.outbox
    assert re.search(r"https://portal\.example\.com/password-reset/\S+/\S+/", email.body), email.body
    assert "6666" not in email.body and "localhost" not in email.body
    assert "(portal.example.com)" in email.body


@pytest.mark.django_db
def test_reset__email__is_queued_for_the_worker_after_commit__known_or_not(
    merchant, django_capture_on_commit_callbacks
):
    # When a known and an unknown address ask for a link
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        known = ask(Client(), merchant.email)
        unknown = ask(Client(REMOTE_ADDR="198.51.100.2"), "nobody@merchant.example")
        # Then the request sent nothing itself
        assert mail.outbox == []
    # And both got the same answer, each with one task queued on commit
    assert (
        (known.status_code, known["Location"])
        == (unknown.status_code, unknown["Location"])
        == (302, DONE_URL)
    )
    assert len(callbacks) == 2
    # When the queued tasks run (eager here: the worker)
    for callback in callbacks:
        callback()
    # Then only the known address gets an email
    assert [email.to for email in mail.outbox] == [[merchant.email]]


@pytest.mark.django_db(transaction=True)
def test_reset__email__is_sent_by_a_celery_worker_not_by_the_request(live_celery_worker, redis_url):
    # Given a merchant, and a real worker consuming from Redis
    merchant, _organization = factories.merchant_register("walter")
    # When the merchant asks for a link
    response = ask(Client(), merchant.email)
    assert response.status_code == 302

    # Then the worker sends it after the response
    def reset_emails() -> list[list[str]]:
        return [email.to for email in mail.outbox if email.subject.startswith("Reset your password")]

    assert wait_for(lambda: reset_emails() == [[merchant.email]])


def queued(capture, asking) -> int:  # type: ignore[no-untyped-def]
    """How many tasks the requests made by asking() queued on commit."""
    with capture(execute=False) as callbacks:
        asking()
    return len(callbacks)


@pytest.mark.django_db
def test_reset__over_the_rate_per_email__same_page_and_nothing_queued(
    merchant, settings, django_capture_on_commit_callbacks
):
    limit = int(settings.PASSWORD_RESET_EMAIL_RATE.split("/")[0])
    answers = []

    def ask_from_many_clients() -> None:
        for index in range(limit):
            answers.append(ask(Client(REMOTE_ADDR=f"198.51.100.{index + 1}"), merchant.email))

    def ask_once_more() -> None:
        answers.append(ask(Client(REMOTE_ADDR="203.0.113.40"), merchant.email.upper()))

    # Given the rate spent for the email address, from different clients
    assert queued(django_capture_on_commit_callbacks, ask_from_many_clients) == limit
    # When another client asks once more, in another case
    # Then nothing more is queued, and the answer is the same page
    assert queued(django_capture_on_commit_callbacks, ask_once_more) == 0
    assert {(answer.status_code, answer["Location"]) for answer in answers} == {(302, DONE_URL)}


@pytest.mark.django_db
def test_reset__over_the_rate_per_address__same_page_and_nothing_queued_but_others_may(
    merchant, settings, django_capture_on_commit_callbacks
):
    limit = int(settings.PASSWORD_RESET_ADDRESS_RATE.split("/")[0])
    client = Client(REMOTE_ADDR="203.0.113.50")
    answers = []

    def ask_for_many_addresses() -> None:
        for index in range(limit):
            answers.append(ask(client, f"guess{index}@merchant.example"))

    # Given one client that asked for many addresses
    assert queued(django_capture_on_commit_callbacks, ask_for_many_addresses) == limit
    # When it asks for the merchant's: nothing is queued, and the answer is the same page
    assert (
        queued(django_capture_on_commit_callbacks, lambda: answers.append(ask(client, merchant.email))) == 0
    )
    assert {(answer.status_code, answer["Location"]) for answer in answers} == {(302, DONE_URL)}
    # But another client may still ask for it
    other = Client(REMOTE_ADDR="198.51.100.77")
    assert queued(django_capture_on_commit_callbacks, lambda: ask(other, merchant.email)) == 1


@pytest.mark.django_db
def test_reset__unconfirmed_address__sends_nothing_but_says_the_same(django_capture_on_commit_callbacks):
    user, _organization = factories.merchant_register("ursula", confirmed=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(Client(), user.email)
    assert (response.status_code, response["Location"]) == (302, DONE_URL)
    assert mail.outbox == []
    assert User.objects.get(pk=user.pk).email_confirmed_at is None
