"""Account services and the database constraints behind them."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import OfficialAccount, Organization, VerificationStatus
from accounts.services import (
    official_account_create,
    official_account_set_verification,
    official_account_update,
    official_accounts_mark_verified,
    organization_update,
)
from accounts.validators import credit_code_check_character, validate_unified_social_credit_code
from portal.errors import Forbidden, InvalidInput
from tests import factories

# Published codes whose check characters are known to be right.
VALID_CREDIT_CODES = ["91350100M000100Y43", "91440300708461136T"]


@pytest.mark.parametrize("code", VALID_CREDIT_CODES)
def test_credit_code__published_examples__are_valid(code):
    validate_unified_social_credit_code(code)


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("91350100M000100Y44", "check_character"),
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y433", "length"),
        ("91350100M00O100Y43", "alphabet"),
        ("91350100m000100Y43", "alphabet"),
        ("913501A0M000100Y43", "region"),
    ],
)
def test_credit_code__malformed__is_refused_with_reason(code, error_code):
    with pytest.raises(ValidationError) as caught:
        validate_unified_social_credit_code(code)
    assert caught.value.code == error_code


def test_credit_code__any_single_character_change__is_detected():
    code = VALID_CREDIT_CODES[0]
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for position in range(17):
        for replacement in alphabet:
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1 : 17]
            assert credit_code_check_character(changed) != code[17]


@pytest.mark.django_db
def test_organization__credit_code_reused__is_refused_by_database():
    Organization.objects.create(
        name="First", kind="enterprise", unified_social_credit_code=VALID_CREDIT_CODES[0]
    )
    Organization.objects.create(name="No code A", kind="enterprise")
    Organization.objects.create(name="No code B", kind="enterprise")
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.create(
            name="Second", kind="enterprise", unified_social_credit_code=VALID_CREDIT_CODES[0]
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "update",
    [
        {"followers_count": -1},
        {"verification_status": "verified"},
        {"verified_at": timezone.now()},
        {"verification_status": "maybe"},
        {"platform": "friendster"},
        {"platform_uid": ""},
        {"kind": "person"},
    ],
)
def test_official_account__rule_broken_behind_the_services_back__is_refused_by_database(account, update):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfficialAccount.objects.filter(pk=account.pk).update(**update)


@pytest.mark.django_db
def test_official_account_update__unknown_field__is_refused(merchant, account):
    with pytest.raises(InvalidInput) as caught:
        official_account_update(actor=merchant, account=account, data={"verification_status": "verified"})
    assert "verification_status" in caught.value.errors


@pytest.mark.django_db
def test_official_account_update__identity_change_by_staff__keeps_verification(staff, account):
    official_account_set_verification(actor=staff, account=account, status=VerificationStatus.VERIFIED)
    account = official_account_update(actor=staff, account=account, data={"platform_uid": "42424242"})
    assert account.verification_status == VerificationStatus.VERIFIED


@pytest.mark.django_db
def test_official_account_update__other_organization__is_forbidden(other_merchant, account):
    with pytest.raises(Forbidden):
        official_account_update(actor=other_merchant, account=account, data={"screen_name": "Mine now"})


@pytest.mark.django_db
def test_set_verification__by_merchant__is_forbidden(merchant, account):
    with pytest.raises(Forbidden):
        official_account_set_verification(actor=merchant, account=account, status=VerificationStatus.VERIFIED)
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.UNVERIFIED


@pytest.mark.django_db
def test_set_verification__rejected_after_verified__clears_verified_at(staff, account):
    official_account_set_verification(actor=staff, account=account, status=VerificationStatus.VERIFIED)
    account = official_account_set_verification(
        actor=staff, account=account, status=VerificationStatus.REJECTED, reason="Not the licence's name."
    )
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.REJECTED
    assert account.verified_at is None
    assert account.verification_reason == "Not the licence's name."


@pytest.mark.django_db
def test_set_verification__rejected_without_reason__is_refused_naming_reason(staff, account):
    with pytest.raises(InvalidInput) as caught:
        official_account_set_verification(actor=staff, account=account, status=VerificationStatus.REJECTED)
    assert "reason" in caught.value.errors
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.UNVERIFIED


@pytest.mark.django_db
def test_mark_verified__mixed_selection__verifies_only_the_unverified_and_counts_them(
    staff, merchant, organization, account
):
    second = factories.official_account(actor=merchant, organization=organization, verified_by=staff)
    verified_at = second.verified_at
    count = official_accounts_mark_verified(actor=staff, accounts=OfficialAccount.objects.all())
    assert count == 1
    account.refresh_from_db()
    second.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED and account.verified_at
    assert second.verified_at == verified_at


@pytest.mark.django_db
def test_mark_verified__by_merchant__is_forbidden(merchant, account):
    with pytest.raises(Forbidden):
        official_accounts_mark_verified(actor=merchant, accounts=[account])


@pytest.mark.django_db(transaction=True)
def test_account_create__same_uid_at_once_on_postgres__one_wins_other_gets_field_error(postgres):
    # Given two merchants racing to register the same platform uid
    alice, alice_org = factories.merchant_register("racer_a")
    bob, bob_org = factories.merchant_register("racer_b")
    vertical = factories.vertical("commerce")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def register(actor, organization) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            official_account_create(
                actor=actor,
                organization=organization,
                platform_uid="8888888888",
                screen_name="Contested",
                kind="enterprise",
                vertical=vertical,
            )
            outcomes.append("created")
        except InvalidInput as exc:
            outcomes.append("refused:" + ",".join(exc.errors))
        finally:
            connection.close()

    # When eight requests try at the same moment
    threads = [
        threading.Thread(target=register, args=(alice, alice_org) if n % 2 else (bob, bob_org))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then exactly one account exists and every loser was told which field clashed
    assert sorted(outcomes) == ["created"] + ["refused:platform_uid"] * 7
    assert OfficialAccount.objects.filter(platform_uid="8888888888").count() == 1


@pytest.mark.django_db
def test_organization_update__credit_code__is_validated_and_saved(merchant, organization):
    with pytest.raises(InvalidInput) as caught:
        organization_update(
            actor=merchant,
            organization=organization,
            data={"unified_social_credit_code": "91350100M000100Y44"},
        )
    assert "unified_social_credit_code" in caught.value.errors
    organization_update(
        actor=merchant, organization=organization, data={"unified_social_credit_code": VALID_CREDIT_CODES[0]}
    )
    organization.refresh_from_db()
    assert organization.unified_social_credit_code == VALID_CREDIT_CODES[0]


@pytest.mark.django_db
def test_organization_update__code_of_another_organization__is_refused(
    merchant, organization, other_merchant, other_merchant_and_org
):
    _, other_organization = other_merchant_and_org
    organization_update(
        actor=other_merchant,
        organization=other_organization,
        data={"unified_social_credit_code": VALID_CREDIT_CODES[1]},
    )
    with pytest.raises(InvalidInput) as caught:
        organization_update(
            actor=merchant,
            organization=organization,
            data={"unified_social_credit_code": VALID_CREDIT_CODES[1]},
        )
    assert "unified_social_credit_code" in caught.value.errors


@pytest.mark.django_db
def test_organization_update__by_non_member__is_forbidden(other_merchant, organization):
    with pytest.raises(Forbidden):
        organization_update(actor=other_merchant, organization=organization, data={"name": "Taken over"})
