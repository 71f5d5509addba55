"""An address gets the sign-up email with its confirmation link, and nothing else until it is confirmed."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.links import email_confirmation_url
from accounts.models import User
from accounts.services import user_email_confirm
from tests import factories
from tests.csp import page_problems

SIGNUP = {
    "username": "carol",
    "email": "carol@merchant.example",
    "password": factories.DEFAULT_PASSWORD,
    "password_confirmation": factories.DEFAULT_PASSWORD,
    "organization_name": "Carol Burgers Ltd",
    "organization_kind": "enterprise",
}
NOTICE = "Confirm your email address"


def confirmation_path(body: str, base_url: str) -> str:
    match = re.search(rf"{re.escape(base_url)}(/confirm-email/\S+/)", body)
    assert match, body
    return match.group(1)


@pytest.mark.django_db
def test_signup__sends_one_email_with_the_confirmation_link__and_the_link_confirms(
    client, settings, django_capture_on_commit_callbacks
):
    # When a merchant signs up
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:signup"), SIGNUP, follow=True)
    # Then it uses the portal at once, with a notice to confirm and a resend button
    assert response.status_code == 200
    page = response.content.decode()
    assert NOTICE in page and reverse("email_confirm_resend") in page
    assert page_problems(response) == []
    user = User.objects.get(username="carol")
    assert user.email_confirmed_at is None
    # And its one email carries the confirmation link, on the configured site
    [email] = mail.outbox
    path = confirmation_path(email.body, settings.PORTAL_BASE_URL)
    # When the link is opened, nothing is confirmed yet (a mail scanner's GET), but a button is shown
    shown = client.get(path)
    assert shown.status_code == 200 and "Confirm my email address" in shown.content.decode()
    assert User.objects.get(pk=user.pk).email_confirmed_at is None
    # When the button is pressed
    confirmed = client.post(path, follow=True)
    # Then the address is confirmed and the notice is gone
    assert User.objects.get(pk=user.pk).email_confirmed_at is not None
    assert "Your email address is confirmed." in confirmed.content.decode()
    assert NOTICE not in client.get(reverse("home:dashboard")).content.decode()


@pytest.mark.django_db
def test_confirmation_link__for_an_address_since_changed_or_forged__confirms_nothing(client):
    user, _organization = factories.merchant_register("ursula", confirmed=False)
    path = email_confirmation_url(user).split("8000", 1)[-1]
    User.objects.filter(pk=user.pk).update(email="other@merchant.example")
    for target in (path, "/confirm-email/forged-token/"):
        response = client.post(target)
        assert response.status_code == 200
        assert "This link no longer works" in response.content.decode()
    assert User.objects.get(pk=user.pk).email_confirmed_at is None


@pytest.mark.django_db
def test_resend__unconfirmed__mails_the_link_again_within_its_rate(
    client, django_capture_on_commit_callbacks
):
    user, _organization = factories.merchant_register("ursula", confirmed=False)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(reverse("email_confirm_resend"), follow=True) for _ in range(4)]
    # Three links in the hour, then a request to wait
    assert [email.subject for email in mail.outbox] == [
        "Confirm your email address on the mini program portal"
    ] * 3
    assert all(email.to == [user.email] and "/confirm-email/" in email.body for email in mail.outbox)
    assert "wait a while" in answers[-1].content.decode()


@pytest.mark.django_db
def test_resend__confirmed__sends_nothing(client, merchant, django_capture_on_commit_callbacks):
    client.force_login(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("email_confirm_resend"))
    assert mail.outbox == []


@pytest.mark.django_db
def test_may_be_emailed__only_active_users_with_a_confirmed_address(merchant):
    unconfirmed, _organization = factories.merchant_register("ursula", confirmed=False)
    inactive, _organization = factories.merchant_register("ivan")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    assert list(User.objects.may_be_emailed().order_by("username")) == [merchant]
    assert merchant.may_be_emailed and not unconfirmed.may_be_emailed


@pytest.mark.django_db(transaction=True)
def test_migration__users_from_before__count_as_confirmed():
    # Given a user made before email confirmation existed
    executor = MigrationExecutor(connection)
    before, after = (
        [("accounts", "0007_organization_source_directory_conflicts")],
        [("accounts", "0008_user_email_confirmed_at")],
    )
    executor.migrate(before)
    old_user_model = executor.loader.project_state(before).apps.get_model("accounts", "User")
    old_user = old_user_model.objects.create(username="olga", email="olga@merchant.example")
    # When the migration runs
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    # Then the user may be emailed, confirmed when it joined
    user = User.objects.get(pk=old_user.pk)
    assert user.email_confirmed_at == user.date_joined
    assert user.may_be_emailed


@pytest.mark.django_db
def test_changed_address__is_unconfirmed_again__and_mailed_nothing_until_confirmed(merchant):
    # Given a merchant whose address is confirmed
    assert merchant.may_be_emailed
    # When its address changes (staff in the admin, or any save)
    user = User.objects.get(pk=merchant.pk)
    user.email = "alice.new@merchant.example"
    user.save(update_fields=["email"])
    # Then the new address waits for its own confirmation
    user = User.objects.get(pk=merchant.pk)
    assert user.email_confirmed_at is None and not user.may_be_emailed
    # While a save that keeps the address (even in another case) keeps the confirmation
    user_email_confirm(user=user)
    user = User.objects.get(pk=merchant.pk)
    user.email = user.email.upper()
    user.first_name = "Alice"
    user.save()
    assert User.objects.get(pk=merchant.pk).email_confirmed_at is not None
