"""Integrity errors are a 409 naming the conflict (never a 500, never SQL), and a request that fails
half-way leaves nothing half-written."""

import threading
from collections.abc import Callable, Iterator

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Membership, Organization, User, Vertical
from tests import factories
from tests.whitelist.conftest import EVIDENCE
from whitelist.models import WhitelistApplication

PROBLEM = "application/problem+json"
SQL_WORDS = ("INSERT", "duplicate key", "violates", "accounts_", "DETAIL", "constraint")


def assert_conflict(response, detail: str, errors: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == "urn:portal:problem:conflict"
    assert body["status"] == 409
    assert body["detail"] == detail
    assert body.get("errors") == errors
    assert not any(word in response.content.decode() for word in SQL_WORDS), body


def race(*requests: Callable[[], object]) -> list[object]:
    """Run the requests at the same moment, each in its own thread and database connection."""
    barrier = threading.Barrier(len(requests))
    results: list[object] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = requests[index]()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# The safety net: an IntegrityError no service caught


@pytest.mark.django_db
@pytest.mark.urls("tests.resilience.urls_with_conflicts")
def test_uncaught_unique_violation_in_api__is_409_naming_model_and_field():
    before = Vertical.objects.count()
    response = APIClient().post("/api/v1/test-duplicate-vertical/")
    assert_conflict(response, "Vertical with this code already exists.", {"code": ["Already in use."]})
    # The view's transaction rolled back: the first vertical is not kept either
    assert Vertical.objects.count() == before


@pytest.mark.django_db
@pytest.mark.urls("tests.resilience.urls_with_conflicts")
def test_uncaught_violation_of_an_expression_constraint__names_its_field():
    response = APIClient().post("/api/v1/test-duplicate-email/")
    assert_conflict(response, "User with this email address already exists.", {"email": ["Already in use."]})
    assert not User.objects.filter(username__in=["first", "second"]).exists()


@pytest.mark.django_db
@pytest.mark.urls("tests.resilience.urls_with_conflicts")
def test_uncaught_unique_violation_in_plain_django_api_view__is_409_problem():
    response = Client(raise_request_exception=False).post("/api/v1/test-duplicate-vertical-plain/")
    assert_conflict(response, "Vertical with this code already exists.", {"code": ["Already in use."]})


@pytest.mark.django_db
@pytest.mark.urls("tests.resilience.urls_with_conflicts")
def test_uncaught_unique_violation_on_a_web_page__is_a_409_page_not_a_500():
    response = Client(raise_request_exception=False).post("/test-duplicate-vertical/")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "This change could not be saved" in page
    assert "Vertical with this code already exists." in page
    assert "duplicate key" not in page and "INSERT" not in page


# Real concurrent duplicates through the API: one wins, the other is told why, nothing is a 500


@pytest.fixture
def merchant_api(merchant) -> Iterator[Callable[[], APIClient]]:  # type: ignore[no-untyped-def]
    def make() -> APIClient:
        client = APIClient()
        client.force_authenticate(merchant)
        return client

    yield make


@pytest.mark.django_db(transaction=True)
def test_two_applications_for_one_account_at_once__one_201_one_409(
    postgres, merchant, organization, staff, policy, merchant_api
):
    for round_number in range(5):
        account = factories.official_account(
            actor=merchant,
            organization=organization,
            platform_uid=f"93000000{round_number:02d}",
            verified_by=staff,
        )
        body = {**EVIDENCE, "account": account.pk}

        def apply(body: dict = body) -> object:
            return merchant_api().post("/api/v1/applications/", body, format="json")

        responses = race(apply, apply)
        statuses = sorted(response.status_code for response in responses)  # type: ignore[attr-defined]
        assert statuses == [201, 409], [getattr(r, "content", r) for r in responses]
        loser = next(r for r in responses if r.status_code == 409)  # type: ignore[attr-defined]
        assert loser["Content-Type"].startswith(PROBLEM)
        assert "already has an open application" in loser.json()["detail"]
        assert WhitelistApplication.objects.filter(account=account).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_webhook_registrations_of_one_url_at_once__one_201_one_409(postgres, org_admin, organization):
    def register() -> object:
        client = APIClient()
        client.force_authenticate(org_admin)
        return client.post(
            "/api/v1/webhooks/",
            {
                "url": "https://partner.example.com/hooks",
                "events": ["whitelist_entry.revoked"],
                "organization": organization.pk,
            },
            format="json",
        )

    for _round in range(3):
        from integrations.models import WebhookEndpoint

        WebhookEndpoint.objects.all().delete()
        responses = race(register, register)
        statuses = sorted(response.status_code for response in responses)  # type: ignore[attr-defined]
        assert statuses == [201, 409], [getattr(r, "content", r) for r in responses]
        assert WebhookEndpoint.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"username": "erin2", "email": "ERIN@example.com"}, "email"),
        ({"email": "other@example.com"}, "username"),
    ],
)
def test_two_sign_ups_of_one_identity_at_once__one_201_one_400_naming_the_field(postgres, second, field):
    first = {
        "username": "erin",
        "email": "erin@example.com",
        "password": "a-long-and-unusual-passphrase",
        "organization_name": "Erin Office",
        "organization_kind": "government",
    }
    responses = race(
        lambda: APIClient().post("/api/v1/auth/register/", first, format="json"),
        lambda: APIClient().post("/api/v1/auth/register/", {**first, **second}, format="json"),
    )
    statuses = sorted(response.status_code for response in responses)  # type: ignore[attr-defined]
    assert statuses == [201, 400], [getattr(r, "content", r) for r in responses]
    loser = next(r for r in responses if r.status_code == 400)  # type: ignore[attr-defined]
    assert list(loser.json()["errors"]) == [field]
    assert User.objects.count() == 1
    assert Organization.objects.count() == 1


# A request that fails half-way: the database refuses its last row


@pytest.fixture
def membership_insert_fails(postgres) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A trigger makes PostgreSQL refuse every new membership, as a constraint would in a race: the
    sign-up has already written its user and organization when it fails."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_refuse_membership() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'unique_violation',
                    TABLE = 'accounts_membership',
                    CONSTRAINT = 'accounts_membership_user_organization_unique';
            END $$;
            CREATE TRIGGER test_refuse_membership BEFORE INSERT ON accounts_membership
                FOR EACH ROW EXECUTE FUNCTION test_refuse_membership();
            """
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER test_refuse_membership ON accounts_membership; "
                "DROP FUNCTION test_refuse_membership();"
            )


SIGN_UP = {
    "username": "hana",
    "email": "hana@example.com",
    "password": "a-long-and-unusual-passphrase",
    "organization_name": "Hana Foods",
    "organization_kind": "enterprise",
}


@pytest.mark.django_db(transaction=True)
def test_sign_up_api__last_row_refused__409_and_nothing_written(membership_insert_fails):
    response = APIClient().post("/api/v1/auth/register/", SIGN_UP, format="json")
    assert_conflict(
        response,
        "Membership with this user and organization already exists.",
        {"user": ["Already in use."], "organization": ["Already in use."]},
    )
    assert not User.objects.filter(username="hana").exists()
    assert not Organization.objects.filter(name="Hana Foods").exists()
    assert not Membership.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_sign_up_page__last_row_refused__409_page_and_nothing_written(membership_insert_fails):
    client = Client(raise_request_exception=False)
    response = client.post("/signup/", {**SIGN_UP, "password_confirmation": SIGN_UP["password"]})
    assert response.status_code == 409
    assert "This change could not be saved" in response.content.decode()
    assert not User.objects.filter(username="hana").exists()
    assert not Organization.objects.filter(name="Hana Foods").exists()
    assert mail.outbox == []
