"""An organization asks for its account's verification; staff answer in the admin; the merchant reads it."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.directory import official_accounts_upsert
from accounts.models import MembershipRole, OfficialAccount, User, VerificationStatus
from accounts.scopes import Scope
from accounts.services import (
    membership_add,
    official_account_reject,
    official_account_request_verification,
    official_account_update,
    official_account_verify,
)
from home.progress import merchant_progress
from integrations.services import api_key_issue
from portal.errors import Conflict, Forbidden, InvalidInput
from tests import factories

pytestmark = pytest.mark.django_db


def test_request__unverified_account__is_pending_with_when_and_the_note(merchant, account):
    pending = official_account_request_verification(
        actor=merchant, account=account, note="  Licence on file. "
    )

    pending.refresh_from_db()
    assert pending.verification_status == VerificationStatus.PENDING
    assert pending.verification_requested_at is not None
    assert pending.verification_request_note == "Licence on file."


def test_request__twice__changes_nothing_the_second_time(merchant, account):
    first = official_account_request_verification(actor=merchant, account=account)
    again = official_account_request_verification(actor=merchant, account=account, note="Another note")

    again.refresh_from_db()
    assert again.verification_status == VerificationStatus.PENDING
    assert again.verification_requested_at == first.verification_requested_at
    assert again.verification_request_note == ""


def test_request__verified_account__is_a_conflict(merchant, account, staff):
    official_account_verify(actor=staff, account=account)

    with pytest.raises(Conflict) as caught:
        official_account_request_verification(actor=merchant, account=account)
    assert caught.value.code == "already-verified"


def test_request__rejected_account__may_ask_again(merchant, account, staff):
    official_account_reject(actor=staff, account=account, reason="The licence names another company.")

    again = official_account_request_verification(actor=merchant, account=account)
    assert again.verification_status == VerificationStatus.PENDING


def test_request__plain_member__is_forbidden(merchant, account, organization):
    member = User.objects.create_user("bob_member", "bob@merchant.example", "a-long-passphrase-123")
    membership_add(actor=merchant, organization=organization, user=member, role=MembershipRole.MEMBER)

    with pytest.raises(Forbidden):
        official_account_request_verification(actor=member, account=account)
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.UNVERIFIED


def test_request__note_too_long__names_the_field(merchant, account):
    with pytest.raises(InvalidInput) as caught:
        official_account_request_verification(actor=merchant, account=account, note="x" * 2001)
    assert list(caught.value.errors) == ["note"]


def test_pending_without_a_request_time__the_database_refuses_it(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfficialAccount.objects.filter(pk=account.pk).update(
            verification_status=VerificationStatus.PENDING, verification_requested_at=None
        )


def test_staff_verify_a_pending_account__the_managers_are_emailed(
    merchant, account, staff, django_capture_on_commit_callbacks
):
    official_account_request_verification(actor=merchant, account=account)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        verified = official_account_verify(actor=staff, account=account)

    assert verified.verification_status == VerificationStatus.VERIFIED
    assert [message.to for message in mail.outbox] == [[merchant.email]]


def test_merchant_changes_the_uid_while_pending__back_to_unverified(merchant, account):
    official_account_request_verification(actor=merchant, account=account)

    changed = official_account_update(actor=merchant, account=account, data={"platform_uid": "1999999999"})
    assert changed.verification_status == VerificationStatus.UNVERIFIED


def test_directory__pending_is_not_a_status_it_sets(staff):
    [result] = official_accounts_upsert(
        rows=[
            {
                "platform_uid": "3900000001",
                "screen_name": "Pending Row",
                "kind": "enterprise",
                "vertical": "commerce",
                "followers_count": "10",
                "verification_status": "pending",
            }
        ]
    )
    assert result.outcome == "rejected"
    assert "verification_status" in result.errors


# --- the API ----------------------------------------------------------------------------------------


def test_api__request__200_pending(merchant_client, account):
    url = f"/api/v1/accounts/{account.pk}/request-verification/"
    response = merchant_client.post(url, {"note": "See the licence."}, format="json")

    assert response.status_code == 200
    assert response.json() == {"verification_status": "pending"}
    detail = merchant_client.get(f"/api/v1/accounts/{account.pk}/").json()
    assert detail["verification_status"] == "pending"
    assert detail["verification_requested_at"] is not None


def test_api__verified__409_already_verified(merchant_client, account, staff):
    official_account_verify(actor=staff, account=account)

    response = merchant_client.post(f"/api/v1/accounts/{account.pk}/request-verification/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["type"] == "urn:portal:problem:already-verified"


def test_api__note_not_a_string__400_naming_it(merchant_client, account):
    response = merchant_client.post(
        f"/api/v1/accounts/{account.pk}/request-verification/", {"note": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["note"]


def test_api__another_organizations_account__404(merchant_client, other_account):
    response = merchant_client.post(f"/api/v1/accounts/{other_account.pk}/request-verification/", {})
    assert response.status_code == 404


def test_api__api_key__403(api_client, account, staff):
    _key, secret = api_key_issue(actor=staff, name="partner", organization=None, scopes=list(Scope.values))
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    response = api_client.post(f"/api/v1/accounts/{account.pk}/request-verification/", {})
    assert response.status_code == 403


# --- the pages --------------------------------------------------------------------------------------


def test_page__request_from_the_account_page__then_it_says_pending(client, merchant, account):
    client.force_login(merchant)
    edit = reverse("accounts:account-edit", args=[account.pk])
    assert "Request verification" in client.get(edit).text

    response = client.post(
        reverse("accounts:account-request-verification", args=[account.pk]), {"note": "Licence on file."}
    )
    assert response.status_code == 302
    page = client.get(edit).text
    assert "You asked for verification on" in page
    assert "Request verification" not in page


def test_dashboard__unverified_offers_a_request__rejected_asks_again_not_apply(
    client, merchant, organization, staff
):
    unverified = factories.official_account(actor=merchant, organization=organization, screen_name="Plain")
    rejected = factories.official_account(actor=merchant, organization=organization, screen_name="Turned")
    official_account_reject(actor=staff, account=rejected, reason="The licence names another company.")
    verified = factories.official_account(
        actor=merchant, organization=organization, screen_name="Good", verified_by=staff
    )
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).text

    assert f"{reverse('accounts:account-edit', args=[unverified.pk])}#verification" in page
    assert "Request again" in page
    assert f"?account={verified.pk}" in page
    assert f"?account={unverified.pk}" in page  # a draft may wait for the verification
    assert f"?account={rejected.pk}" not in page


def test_checklist__verification_step__asks__then_waits(merchant, account):
    step = merchant_progress(user=merchant).current
    assert step is not None
    assert (step.key, step.action_url) == (
        "verification",
        reverse("accounts:account-edit", args=[account.pk]) + "#verification",
    )

    official_account_request_verification(actor=merchant, account=account)
    step = merchant_progress(user=merchant).current
    assert step is not None
    assert step.key == "verification"
    assert step.action_url == ""
    assert "checking" in str(step.detail)
