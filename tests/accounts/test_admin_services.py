"""The accounts admin saves through the services: moves and uid changes, Verify and Reject, organizations."""

from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from accounts.models import (
    Membership,
    MembershipRole,
    OfficialAccount,
    Organization,
    OrganizationSource,
    User,
    VerificationStatus,
)
from accounts.profile_cache import profile_cache_key
from accounts.services import official_account_update
from miniprograms import services as miniprogram_services
from miniprograms.profile import profile_section
from tests import factories
from tests.miniprograms.conftest import EVIDENCE, whitelisted
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("root", "root@platform.example", "admin-pass-123456")


@pytest.fixture
def staff_web(client: Any, superuser: User) -> Any:
    client.force_login(superuser)
    return client


def _change_data(account: OfficialAccount, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "organization": account.organization_id,
        "platform": account.platform,
        "platform_uid": account.platform_uid,
        "screen_name": account.screen_name,
        "kind": account.kind,
        "vertical": account.vertical_id,
        "followers_count": account.followers_count,
    }
    data.update(changes)
    return data


def _change_url(account: OfficialAccount) -> str:
    return reverse("admin:accounts_officialaccount_change", args=[account.pk])


@pytest.mark.django_db
def test_admin_move__account_with_open_application__is_refused_naming_organization(
    staff_web, merchant, account, other_account
):
    # Given an account with a draft whitelist application
    whitelist_services.application_create(actor=merchant, account=account, data=EVIDENCE)
    # When staff move it to another organization in the admin
    response = staff_web.post(
        _change_url(account), _change_data(account, organization=other_account.organization_id)
    )
    # Then the form comes back with the error on the organization, and nothing moved
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "organization" in errors
    assert "1 open whitelist application" in errors["organization"][0]
    account.refresh_from_db()
    assert account.organization_id != other_account.organization_id


@pytest.mark.django_db
def test_admin_uid_change__whitelisted_account_with_live_link__is_refused_naming_platform_uid(
    staff_web, merchant, organization, staff, policy
):
    # Given a whitelisted account whose mini program link is live
    listed = whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000001")
    miniprogram = miniprogram_services.miniprogram_create(
        actor=merchant, organization=organization, app_id="2021000000000301", name="Shop", category="business"
    )
    link = miniprogram_services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed)
    miniprogram_services.profile_link_approve(actor=staff, link=link)
    # When staff change its uid
    response = staff_web.post(_change_url(listed), _change_data(listed, platform_uid="7300000002"))
    # Then the error names the uid and what hangs on it
    assert response.status_code == 200
    message = response.context["adminform"].form.errors["platform_uid"][0]
    assert "a whitelist entry that is Active" in message
    assert "1 live profile link" in message
    assert OfficialAccount.objects.get(pk=listed.pk).platform_uid == "7300000001"


@pytest.mark.django_db
def test_service_move__suspended_entry__is_refused(merchant, organization, staff, policy, other_account):
    listed = whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000011")
    entry = WhitelistEntry.objects.get(account=listed)
    whitelist_services.whitelist_entry_suspend(actor=staff, entry=entry, reason="Complaints.")
    with pytest.raises(Exception) as caught:
        official_account_update(
            actor=staff, account=listed, data={"organization": other_account.organization}
        )
    assert "a whitelist entry that is Suspended" in str(caught.value)
    assert OfficialAccount.objects.get(pk=listed.pk).organization_id == organization.pk


@pytest.mark.django_db
def test_service_move__by_merchant__is_refused_as_not_changeable(merchant, account, other_account):
    with pytest.raises(Exception) as caught:
        official_account_update(
            actor=merchant, account=account, data={"organization": other_account.organization}
        )
    assert "organization" in caught.value.errors  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_admin_move__after_entry_revoked__moves_and_forgets_the_cached_profile(
    staff_web, merchant, organization, staff, policy, other_account, django_capture_on_commit_callbacks
):
    # Given an account whose entry was revoked, and its profile cached
    listed = whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000021")
    whitelist_services.whitelist_entry_revoke(
        actor=staff, entry=WhitelistEntry.objects.get(account=listed), reason="Ended."
    )
    profile_section(platform=listed.platform, platform_uid=listed.platform_uid)
    key = profile_cache_key(listed.platform, listed.platform_uid)
    assert cache.get(key) is not None
    # When staff move it
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(
            _change_url(listed), _change_data(listed, organization=other_account.organization_id)
        )
    # Then it moved and the profile is no longer cached
    assert response.status_code == 302
    assert OfficialAccount.objects.get(pk=listed.pk).organization_id == other_account.organization_id
    assert cache.get(key) is None


@pytest.mark.django_db
def test_admin_uid_change__nothing_hangs__forgets_the_old_uid_profile(
    staff_web, account, django_capture_on_commit_callbacks
):
    profile_section(platform=account.platform, platform_uid=account.platform_uid)
    old_key = profile_cache_key(account.platform, account.platform_uid)
    assert cache.get(old_key) is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(_change_url(account), _change_data(account, platform_uid="1000000999"))
    assert response.status_code == 302
    assert OfficialAccount.objects.get(pk=account.pk).platform_uid == "1000000999"
    assert cache.get(old_key) is None


@pytest.mark.django_db
def test_admin_add_account__through_the_service__starts_unverified(staff_web, organization):
    response = staff_web.post(
        reverse("admin:accounts_officialaccount_add"),
        {
            "organization": organization.pk,
            "platform": "weibo",
            "platform_uid": "1000000777",
            "screen_name": "Added by staff",
            "kind": "enterprise",
            "vertical": factories.vertical("commerce").pk,
            "followers_count": 10,
        },
    )
    assert response.status_code == 302
    added = OfficialAccount.objects.get(platform_uid="1000000777")
    assert added.organization_id == organization.pk
    assert added.verification_status == VerificationStatus.UNVERIFIED


@pytest.mark.django_db
def test_change_page__shows_verify_and_reject_buttons(staff_web, account):
    response = staff_web.get(_change_url(account))
    assert reverse("admin:accounts_officialaccount_decide", args=[account.pk, "verify"]) in response.text
    assert reverse("admin:accounts_officialaccount_decide", args=[account.pk, "reject"]) in response.text


@pytest.mark.django_db
def test_reject_button__without_reason__is_refused_and_changes_nothing(staff_web, account):
    url = reverse("admin:accounts_officialaccount_decide", args=[account.pk, "reject"])
    response = staff_web.post(url, {"reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.UNVERIFIED


@pytest.mark.django_db
def test_reject_button__with_reason__stores_it_emails_managers_in_their_language_and_merchant_sees_it(
    staff_web,
    client,
    merchant,
    organization,
    org_admin,
    plain_member,
    account,
    django_capture_on_commit_callbacks,
):
    # Given an owner reading English and an admin reading Chinese (a plain member gets nothing)
    User.objects.filter(pk=org_admin.pk).update(language="zh-hans")
    url = reverse("admin:accounts_officialaccount_decide", args=[account.pk, "reject"])
    mail.outbox.clear()
    # When staff reject the account with a reason
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(url, {"reason": "The licence names another company."})
    # Then it is rejected with the reason
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.REJECTED
    assert account.verification_reason == "The licence names another company."
    # And each manager got the email in their language, with the reason
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {merchant.email, org_admin.email}
    assert "was not verified" in by_recipient[merchant.email].subject
    assert "The licence names another company." in by_recipient[merchant.email].body
    assert "The mini program portal team" in by_recipient[merchant.email].body
    assert "小程序门户团队" in by_recipient[org_admin.email].body
    assert "理由\uff1a The licence names another company." in by_recipient[org_admin.email].body
    # And the merchant's page shows why
    client.force_login(merchant)
    page = client.get(reverse("accounts:account-edit", args=[account.pk]))
    assert "The licence names another company." in page.text


@pytest.mark.django_db
def test_verify_button__emails_the_owner_once(
    staff_web, merchant, account, django_capture_on_commit_callbacks
):
    url = reverse("admin:accounts_officialaccount_decide", args=[account.pk, "verify"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_web.post(url, {"reason": ""})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED
    assert [message.to for message in mail.outbox] == [[merchant.email]]
    assert "is verified" in mail.outbox[0].subject
    # Verifying again changes nothing and sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        staff_web.post(url, {"reason": ""})
    assert len(mail.outbox) == 1


# Organizations and memberships


def _organization_data(organization: Organization, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": organization.name,
        "kind": organization.kind,
        "unified_social_credit_code": organization.unified_social_credit_code,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_organization_add__with_a_member_inline__creates_both(staff_web, merchant):
    response = staff_web.post(
        reverse("admin:accounts_organization_add"),
        {
            **_organization_data(Organization(name="Hangzhou Metro Group", kind="government")),
            "source": OrganizationSource.DIRECTORY,
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": merchant.pk,
            "memberships-0-role": MembershipRole.ADMIN,
        },
    )
    assert response.status_code == 302
    created = Organization.objects.get(name="Hangzhou Metro Group")
    assert created.source == OrganizationSource.DIRECTORY
    assert Membership.objects.get(organization=created).role == MembershipRole.ADMIN


@pytest.mark.django_db
def test_organization_change__role_change_and_removal__go_through(
    staff_web, merchant, organization, org_admin
):
    owner = Membership.objects.get(organization=organization, user=merchant)
    admin_membership = Membership.objects.get(organization=organization, user=org_admin)
    response = staff_web.post(
        reverse("admin:accounts_organization_change", args=[organization.pk]),
        _organization_data(
            organization,
            name="Alice Foods Group",
            **{
                "memberships-TOTAL_FORMS": "2",
                "memberships-INITIAL_FORMS": "2",
                "memberships-0-id": owner.pk,
                "memberships-0-organization": organization.pk,
                "memberships-0-user": merchant.pk,
                "memberships-0-role": MembershipRole.OWNER,
                "memberships-1-id": admin_membership.pk,
                "memberships-1-organization": organization.pk,
                "memberships-1-user": org_admin.pk,
                "memberships-1-role": MembershipRole.MEMBER,
                "memberships-1-DELETE": "on",
            },
        ),
    )
    assert response.status_code == 302
    assert Organization.objects.get(pk=organization.pk).name == "Alice Foods Group"
    assert not Membership.objects.filter(pk=admin_membership.pk).exists()


@pytest.mark.django_db
def test_organization_change__duplicate_credit_code__is_a_form_error(staff_web, organization, other_account):
    code = "91350100M000100Y43"
    Organization.objects.filter(pk=other_account.organization_id).update(unified_social_credit_code=code)
    response = staff_web.post(
        reverse("admin:accounts_organization_change", args=[organization.pk]),
        _organization_data(organization, unified_social_credit_code=code),
    )
    assert response.status_code == 200
    assert Organization.objects.get(pk=organization.pk).unified_social_credit_code == ""


@pytest.mark.django_db
def test_identity_action__marks_the_organization_verified(staff_web, organization):
    staff_web.post(
        reverse("admin:accounts_organization_changelist"),
        {"action": "mark_identity_verified", "_selected_action": [organization.pk]},
    )
    assert Organization.objects.get(pk=organization.pk).identity_verified_at is not None


# Directory conflicts


@pytest.mark.django_db
def test_directory_conflicts__listed_and_resolved_with_a_note(staff_web, superuser, merchant, account):
    from accounts.directory import official_accounts_upsert
    from accounts.models import DirectoryConflict, DirectoryConflictState

    # Given a directory row that names another owner for the merchant's account
    factories.vertical("commerce")
    official_accounts_upsert(
        rows=[
            {
                "platform_uid": account.platform_uid,
                "screen_name": "Directory name",
                "kind": "enterprise",
                "vertical": "commerce",
                "followers_count": "10",
                "organization_name": "Someone Else",
            }
        ]
    )
    conflict = DirectoryConflict.objects.get()
    # When staff open the list, Then it is there
    changelist = reverse("admin:accounts_directoryconflict_changelist")
    listed = staff_web.get(changelist, {"state__exact": "open"})
    assert listed.status_code == 200
    assert "Someone Else" in listed.text
    # When they resolve it with a note
    staff_web.post(
        changelist,
        {
            "action": "resolve",
            "_selected_action": [conflict.pk],
            "apply": "1",
            "reason": "The merchant owns it.",
        },
    )
    conflict.refresh_from_db()
    assert conflict.state == DirectoryConflictState.RESOLVED
    assert (conflict.resolved_by, conflict.resolution) == (superuser, "The merchant owns it.")
    assert conflict.resolved_at is not None


@pytest.mark.django_db(transaction=True)
def test_move__racing_a_new_application__never_leaves_it_with_the_old_organization(
    postgres, staff, merchant, account, other_account
):
    import threading

    from django.db import connection, transaction

    from portal.errors import Forbidden
    from tests.accounts.test_directory import _lock_wait_seen
    from whitelist.models import WhitelistApplication

    outcome: dict[str, object] = {}

    def apply() -> None:
        try:
            whitelist_services.application_create(actor=merchant, account=account, data=EVIDENCE)
            outcome["result"] = "created"
        except Exception as exc:  # reported by the assertions below
            outcome["result"] = exc
        finally:
            connection.close()

    applicant = threading.Thread(target=apply)
    # Given staff moving the account to another organization, not committed yet
    with transaction.atomic():
        official_account_update(
            actor=staff, account=account, data={"organization": other_account.organization}
        )
        # When the old organization's owner starts an application for it meanwhile
        applicant.start()
        assert _lock_wait_seen(), "the application never waited on the account being moved"
    applicant.join(timeout=30)
    # Then the owner is told the account is no longer theirs, and no application hangs on the old owner
    assert isinstance(outcome["result"], Forbidden), outcome
    assert not WhitelistApplication.objects.filter(account=account).exists()
