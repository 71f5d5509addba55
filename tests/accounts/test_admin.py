"""Staff screens for official accounts and organizations."""

import pytest
from django.urls import reverse

from accounts.models import OfficialAccount, VerificationStatus


@pytest.fixture
def staff_web(client, db):  # type: ignore[no-untyped-def]
    from accounts.models import User

    superuser = User.objects.create_superuser("root", "root@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_account_changelist__search_by_uid_and_filter__lists_the_match(staff_web, account, other_account):
    url = reverse("admin:accounts_officialaccount_changelist")
    response = staff_web.get(url, {"q": other_account.platform_uid})
    assert response.status_code == 200
    assert other_account.screen_name in response.text
    assert account.screen_name not in response.text
    filtered = staff_web.get(url, {"verification_status__exact": "unverified", "kind__exact": "enterprise"})
    assert account.screen_name in filtered.text and other_account.screen_name in filtered.text


@pytest.mark.django_db
def test_account_changelist__queries__do_not_grow_with_rows(
    staff_web, merchant, organization, django_assert_max_num_queries
):
    from tests import factories

    for number in range(30):
        factories.official_account(actor=merchant, organization=organization, platform_uid=f"55{number:03}")
    with django_assert_max_num_queries(12):
        response = staff_web.get(reverse("admin:accounts_officialaccount_changelist"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_mark_verified_action__selected_accounts__become_verified(staff_web, account, other_account):
    response = staff_web.post(
        reverse("admin:accounts_officialaccount_changelist"),
        {"action": "mark_verified", "_selected_action": [account.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 account marked verified." in response.text
    account.refresh_from_db()
    other_account.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED
    assert other_account.verification_status == VerificationStatus.UNVERIFIED


@pytest.mark.django_db
def test_reject_action__asks_a_reason_then__rejects_with_it(staff_web, account):
    url = reverse("admin:accounts_officialaccount_changelist")
    # Given the action posted without a reason, When the page answers, Then it asks for one
    asked = staff_web.post(url, {"action": "mark_rejected", "_selected_action": [account.pk]})
    assert asked.status_code == 200
    assert 'name="reason"' in asked.text
    assert OfficialAccount.objects.get(pk=account.pk).verification_status == VerificationStatus.UNVERIFIED
    # When staff apply it with a reason, Then the account is rejected and keeps the reason
    staff_web.post(
        url,
        {
            "action": "mark_rejected",
            "_selected_action": [account.pk],
            "apply": "1",
            "reason": "Not the owner.",
        },
    )
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.REJECTED
    assert account.verification_reason == "Not the owner."


@pytest.mark.django_db
def test_organization_change_page__shows_members_inline(staff_web, organization, merchant):
    response = staff_web.get(reverse("admin:accounts_organization_change", args=[organization.pk]))
    assert response.status_code == 200
    assert "Memberships" in response.text or "memberships" in response.text
    assert merchant.username in response.text
