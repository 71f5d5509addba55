"""The demo data command: idempotent, valid data, and logins that work."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client

from accounts.models import Membership, OfficialAccount, Organization, User, VerificationStatus

pytestmark = pytest.mark.django_db

LOGINS = {"staff": "staff-demo-2026", "gov_demo": "merchant-demo-2026", "shop_demo": "merchant-demo-2026"}


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "memberships": Membership.objects.count(),
        "accounts": OfficialAccount.objects.count(),
        "verified": OfficialAccount.objects.filter(verification_status=VerificationStatus.VERIFIED).count(),
    }


def test_seed_demo__run_twice__second_run_creates_nothing(django_capture_on_commit_callbacks):
    # Given the demo data seeded once, welcome emails sent on commit
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo()
    first = counts()
    emails_after_first = len(mail.outbox)
    # When it runs again
    with django_capture_on_commit_callbacks(execute=True):
        output = seed_demo()
    # Then nothing new exists and no second welcome email went out
    assert counts() == first
    assert first == {"users": 3, "organizations": 2, "memberships": 2, "accounts": 8, "verified": 4}
    assert emails_after_first >= 2  # the welcome emails, and the demo applications' emails
    assert len(mail.outbox) == emails_after_first
    assert "nothing created" in output


def test_seed_demo__logins__work():
    seed_demo()
    for username, password in LOGINS.items():
        client = Client()
        # django-axes counts log-ins per request, so authenticate() must be given one.
        assert client.login(request=HttpRequest(), username=username, password=password), username


def test_seed_demo__users__have_confirmed_addresses_so_the_demo_emails_reach_them():
    seed_demo()
    assert set(User.objects.may_be_emailed().values_list("username", flat=True)) == set(LOGINS)


def test_seed_demo__staff_user__is_staff_superuser():
    seed_demo()
    staff = User.objects.get(username="staff")
    assert staff.is_staff
    assert staff.is_superuser


def test_seed_demo__output__names_usernames_passwords_and_urls():
    output = seed_demo()
    for username, password in LOGINS.items():
        assert username in output
        assert password in output
    assert "http://127.0.0.1:8000/" in output
    assert "/admin/" in output
    assert "public on purpose" in output


def test_seed_demo__organizations__have_valid_credit_codes_and_mixed_accounts():
    seed_demo()
    for username, kind in (("gov_demo", "government"), ("shop_demo", "enterprise")):
        organization = Organization.objects.get(memberships__user__username=username)
        assert organization.kind == kind
        organization.full_clean()  # the credit code's check character is right
        assert len(organization.unified_social_credit_code) == 18
        accounts = organization.official_accounts.all()
        assert 3 <= len(accounts) <= 4
        statuses = {account.verification_status for account in accounts}
        assert statuses == {"verified", "unverified", "rejected"}
        followers = [account.followers_count for account in accounts]
        assert min(followers) < 100_000 < max(followers)
        verified = [account for account in accounts if account.is_verified]
        assert all(account.verified_at is not None for account in verified)
    verticals = set(OfficialAccount.objects.values_list("vertical__code", flat=True))
    assert len(verticals) >= 5


def test_seed_demo__merchant_api__lists_only_its_own_accounts(api_client):
    # Given the demo data and the government merchant's token
    seed_demo()
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "gov_demo", "password": "merchant-demo-2026"}, format="json"
    )
    assert response.status_code == 200
    # When it lists accounts
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    response = api_client.get("/api/v1/accounts/")
    # Then it sees its four accounts and none of the shop's
    assert response.status_code == 200
    names = {item["screen_name"] for item in response.json()["results"]}
    assert len(names) == 4
    assert all(name.startswith(("Hangzhou", "Youzai")) for name in names)
