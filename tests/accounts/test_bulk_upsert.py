"""POST /api/v1/accounts/bulk-upsert/: the account directory written by staff or a platform-wide key."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import OfficialAccount, Organization
from accounts.scopes import Scope
from integrations.services import api_key_issue
from tests import factories

URL = "/api/v1/accounts/bulk-upsert/"
PROBLEM = "application/problem+json"


def row(uid: str, **fields: Any) -> dict[str, Any]:
    """A valid row for a new account; fields override or add to it."""
    return {
        "platform_uid": uid,
        "screen_name": f"Directory {uid}",
        "kind": "enterprise",
        "vertical": "commerce",
        "followers_count": 120_000,
        "organization_name": "Directory Holdings",
        **fields,
    }


@pytest.fixture
def commerce(db: None):  # type: ignore[no-untyped-def]
    return factories.vertical("commerce")


@pytest.fixture
def key_client(staff):  # type: ignore[no-untyped-def]
    """A client sending a key issued by staff: `key_client(organization=None, scopes=...)`."""

    def make(*, organization: Organization | None = None, scopes: tuple[str, ...] = (Scope.ACCOUNTS_WRITE,)):
        _key, secret = api_key_issue(
            actor=staff, name="directory sync", scopes=scopes, organization=organization
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        return client

    return make


def outcomes(response) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(result["index"], result["outcome"]) for result in response.json()["results"]]


# Creates and updates


@pytest.mark.django_db
def test_bulk_upsert__new_and_known_uids__created_and_updated_with_results_in_order(
    staff_client, account, organization, commerce
):
    # Given an account the portal knows
    known = account.platform_uid
    # When staff send two new accounts around an update of the known one
    response = staff_client.post(
        URL,
        {
            "accounts": [
                row("9100000001"),
                # No owner named: the row updates the account's figures only.
                row(
                    known, screen_name="Alice Foods Official", followers_count=420_000, organization_name=None
                ),
                row("9100000002", platform="weibo"),
            ]
        },
        format="json",
    )
    # Then each row's result is in its place, with its account
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["rejected"]) == (2, 1, 0)
    assert outcomes(response) == [(0, "created"), (1, "updated"), (2, "created")]
    by_uid = {a.platform_uid: a for a in OfficialAccount.objects.all()}
    assert [(r["platform"], r["platform_uid"], r["account"], r["errors"]) for r in body["results"]] == [
        ("weibo", "9100000001", by_uid["9100000001"].pk, {}),
        ("weibo", known, account.pk, {}),
        ("weibo", "9100000002", by_uid["9100000002"].pk, {}),
    ]
    # And the known account is updated in place, in its own organization
    account.refresh_from_db()
    assert (account.screen_name, account.followers_count) == ("Alice Foods Official", 420_000)
    assert account.organization == organization
    # And the new ones belong to the organization named in the rows
    new = by_uid["9100000001"]
    assert (new.screen_name, new.vertical, new.verification_status) == (
        "Directory 9100000001",
        commerce,
        "unverified",
    )
    assert new.organization.name == "Directory Holdings"
    assert by_uid["9100000002"].organization == new.organization


@pytest.mark.django_db
def test_bulk_upsert__same_batch_again__all_updated_without_duplicates(staff_client, commerce):
    batch = {"accounts": [row(f"92000000{number:02}") for number in range(5)]}
    first = staff_client.post(URL, batch, format="json")
    assert first.status_code == 200 and first.json()["created"] == 5
    counts = (OfficialAccount.objects.count(), Organization.objects.count())

    again = staff_client.post(URL, batch, format="json")

    assert again.status_code == 200
    assert (again.json()["created"], again.json()["updated"], again.json()["rejected"]) == (0, 5, 0)
    assert [r["account"] for r in again.json()["results"]] == [r["account"] for r in first.json()["results"]]
    assert (OfficialAccount.objects.count(), Organization.objects.count()) == counts


@pytest.mark.django_db
def test_bulk_upsert__uid_twice_in_a_batch__created_then_updated_last_wins(staff_client, commerce):
    response = staff_client.post(
        URL,
        {"accounts": [row("9300000001", followers_count=1), row("9300000001", followers_count=2)]},
        format="json",
    )
    assert response.status_code == 200
    assert outcomes(response) == [(0, "created"), (1, "updated")]
    assert OfficialAccount.objects.get(platform_uid="9300000001").followers_count == 2


@pytest.mark.django_db
def test_bulk_upsert__thousand_rows__all_created(staff_client, commerce):
    batch = {"accounts": [row(f"94{number:08}") for number in range(1000)]}
    response = staff_client.post(URL, batch, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 1000
    assert OfficialAccount.objects.filter(platform_uid__startswith="94").count() == 1000


# Bad rows


@pytest.mark.django_db
def test_bulk_upsert__bad_rows__rejected_with_field_errors_and_the_others_written(staff_client, commerce):
    # Given a batch whose middle rows are each wrong in one way
    batch = [
        row("9500000000"),
        row("9500000001", vertical="space_travel"),
        row("9500000002", followers_count=-5),
        row("9500000003", colour="blue"),
        "not an object",
        {key: value for key, value in row("9500000005").items() if key != "platform_uid"},
        row("9500000006"),
    ]
    # When staff send it
    response = staff_client.post(URL, {"accounts": batch}, format="json")
    # Then the good rows are written and each bad one names its field
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["rejected"]) == (2, 0, 5)
    assert outcomes(response) == [
        (0, "created"),
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "rejected"),
        (6, "created"),
    ]
    errors = [result["errors"] for result in body["results"]]
    assert list(errors[1]) == ["vertical"] and "space_travel" in errors[1]["vertical"][0]
    assert list(errors[2]) == ["followers_count"]
    assert list(errors[3]) == ["colour"]
    assert list(errors[4]) == ["non_field_errors"]
    assert list(errors[5]) == ["platform_uid"]
    assert all(result["account"] is None for result in body["results"][1:6])
    assert sorted(OfficialAccount.objects.values_list("platform_uid", flat=True)) == [
        "9500000000",
        "9500000006",
    ]


@pytest.mark.django_db
def test_bulk_upsert__null_row__rejected_alone_and_the_others_written(staff_client, commerce):
    response = staff_client.post(URL, {"accounts": [row("9500000100"), None]}, format="json")
    assert response.status_code == 200, response.content
    assert outcomes(response) == [(0, "created"), (1, "rejected")]
    assert list(response.json()["results"][1]["errors"]) == ["non_field_errors"]
    assert OfficialAccount.objects.filter(platform_uid="9500000100").exists()


@pytest.mark.django_db
def test_bulk_upsert__bad_row_for_known_account__leaves_it_unchanged(staff_client, account, commerce):
    response = staff_client.post(
        URL,
        {"accounts": [row(account.platform_uid, screen_name="Changed", kind="martian")]},
        format="json",
    )
    assert response.status_code == 200
    assert outcomes(response) == [(0, "rejected")]
    assert list(response.json()["results"][0]["errors"]) == ["kind"]
    account.refresh_from_db()
    assert account.screen_name == "Alice Foods"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"accounts": []}, id="empty list"),
        pytest.param({"accounts": [row(f"96{n:08}") for n in range(1001)]}, id="1001 rows"),
        pytest.param({"accounts": "all of them"}, id="not a list"),
        pytest.param({}, id="missing"),
    ],
)
def test_bulk_upsert__accounts_not_a_list_of_1_to_1000__is_400_naming_accounts(staff_client, commerce, body):
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    assert list(response.json()["errors"]) == ["accounts"]
    assert not OfficialAccount.objects.exists()


# Who may


@pytest.mark.django_db
def test_bulk_upsert__merchant__is_403_and_nothing_written(merchant_client, commerce):
    response = merchant_client.post(URL, {"accounts": [row("9700000001")]}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    assert not OfficialAccount.objects.filter(platform_uid="9700000001").exists()


@pytest.mark.django_db
def test_bulk_upsert__anonymous__is_401(api_client, commerce):
    response = api_client.post(URL, {"accounts": [row("9700000002")]}, format="json")
    assert response.status_code == 401
    assert not OfficialAccount.objects.exists()


@pytest.mark.django_db
def test_bulk_upsert__platform_wide_key_with_accounts_write__is_200(key_client, commerce):
    response = key_client().post(URL, {"accounts": [row("9700000003")]}, format="json")
    assert response.status_code == 200, response.content
    assert outcomes(response) == [(0, "created")]
    assert OfficialAccount.objects.filter(platform_uid="9700000003").exists()


@pytest.mark.django_db
def test_bulk_upsert__organization_key_with_accounts_write__is_403_and_nothing_written(
    key_client, organization, commerce
):
    response = key_client(organization=organization).post(
        URL, {"accounts": [row("9700000004")]}, format="json"
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    assert "platform-wide" in response.json()["detail"]
    assert not OfficialAccount.objects.filter(platform_uid="9700000004").exists()


@pytest.mark.django_db
def test_bulk_upsert__platform_wide_key_without_accounts_write__is_403_naming_the_scope(key_client, commerce):
    client = key_client(scopes=(Scope.WHITELIST_READ, Scope.SHARES_WRITE))
    response = client.post(URL, {"accounts": [row("9700000005")]}, format="json")
    assert response.status_code == 403
    assert "accounts:write" in response.json()["detail"]
    assert not OfficialAccount.objects.filter(platform_uid="9700000005").exists()


@pytest.mark.django_db
def test_bulk_upsert__squatted_name__gets_a_directory_organization_and_another_owner_is_a_conflict(
    staff_client, commerce
):
    from accounts.models import DirectoryConflict, OrganizationSource, VerificationStatus

    # Given a sign-up as "Hangzhou Metro Group" that claimed uid 9300000001
    squatter, squatted = factories.merchant_register("squatter", organization_name="Hangzhou Metro Group")
    claimed = factories.official_account(actor=squatter, organization=squatted, platform_uid="9300000001")
    # When the directory sends a new account of the group and a verified row for the claimed uid
    response = staff_client.post(
        URL,
        {
            "accounts": [
                row("9300000002", organization_name="Hangzhou Metro Group", verification_status="verified"),
                row("9300000001", organization_name="Hangzhou Metro Group", verification_status="verified"),
            ]
        },
        format="json",
    )
    # Then the new account goes to a directory organization, and the claimed one is a conflict
    assert response.status_code == 200, response.content
    assert outcomes(response) == [(0, "created"), (1, "rejected")]
    assert "Ownership conflict" in response.json()["results"][1]["errors"]["organization_name"][0]
    new = OfficialAccount.objects.select_related("organization").get(platform_uid="9300000002")
    assert new.organization != squatted and new.organization.source == OrganizationSource.DIRECTORY
    claimed.refresh_from_db()
    assert claimed.verification_status == VerificationStatus.UNVERIFIED
    assert DirectoryConflict.objects.get().account == claimed
