"""API tokens die with the password, and live at most API_TOKEN_DAYS."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories
from tests.api_contract import assert_problem

NEW_PASSWORD = "a-brand-new-passphrase-77"


def obtain_token(username: str, password: str = factories.DEFAULT_PASSWORD) -> str:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    token: str = response.json()["token"]
    return token


def accounts_with(token: str):  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/accounts/")


def reset_password_by_email(email: str, new_password: str, capture_on_commit) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with capture_on_commit(execute=True):
        client.post(reverse("password_reset"), {"email": email})
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/\S+/)", mail.outbox[-1].body).group(1)  # type: ignore[union-attr]
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    done = client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")


@pytest.mark.django_db
def test_password_reset__deletes_the_tokens__and_the_token_endpoint_issues_a_new_one(
    merchant, django_capture_on_commit_callbacks
):
    # Given a merchant with a working token
    old_token = obtain_token(merchant.username)
    assert accounts_with(old_token).status_code == 200
    # When the password is reset through the emailed link
    reset_password_by_email(merchant.email, NEW_PASSWORD, django_capture_on_commit_callbacks)
    # Then the old token is refused
    assert_problem(accounts_with(old_token), 401)
    assert not Token.objects.filter(user=merchant).exists()
    # And the new password gets a new token that works
    new_token = obtain_token(merchant.username, NEW_PASSWORD)
    assert new_token != old_token
    assert accounts_with(new_token).status_code == 200


@pytest.mark.django_db
def test_password_change_in_the_admin__deletes_the_users_tokens(merchant, client):
    old_token = obtain_token(merchant.username)
    client.force_login(factories.StaffUserFactory(username="root", is_superuser=True))
    response = client.post(
        f"/admin/accounts/user/{merchant.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert_problem(accounts_with(old_token), 401)


@pytest.mark.django_db
def test_user_save__without_a_new_password__keeps_the_tokens(merchant):
    token = obtain_token(merchant.username)
    merchant.first_name = "Alice"
    merchant.save()
    assert accounts_with(token).status_code == 200
    # While set_password and save, however it is called, ends them
    merchant.set_password(NEW_PASSWORD)
    merchant.save(update_fields=["password"])
    assert_problem(accounts_with(token), 401)


@pytest.mark.django_db
def test_token__older_than_api_token_days__is_401_and_the_endpoint_issues_a_new_one(merchant, settings):
    # Given a token issued just over API_TOKEN_DAYS ago
    assert settings.API_TOKEN_DAYS == 90
    old_token = obtain_token(merchant.username)
    Token.objects.filter(key=old_token).update(created=timezone.now() - timedelta(days=90, minutes=1))
    # When it is used
    response = accounts_with(old_token)
    # Then it is refused as expired, in the problem format
    body = assert_problem(response, 401)
    assert "expired" in body["detail"]
    # And the token endpoint replaces it with a new one that works
    new_token = obtain_token(merchant.username)
    assert new_token != old_token
    assert accounts_with(new_token).status_code == 200
    assert Token.objects.filter(user=merchant).count() == 1


@pytest.mark.django_db
def test_token__younger_than_its_lifetime__works_and_the_endpoint_returns_the_same(merchant):
    token = obtain_token(merchant.username)
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(days=89))
    assert accounts_with(token).status_code == 200
    assert obtain_token(merchant.username) == token


@pytest.mark.django_db
def test_token__api_token_days_zero__never_expires(merchant, settings):
    settings.API_TOKEN_DAYS = 0
    token = obtain_token(merchant.username)
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(days=3650))
    assert accounts_with(token).status_code == 200
