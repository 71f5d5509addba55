"""The home page's checklist and attention cards, walked the way a merchant and a reviewer move on."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add
from home.progress import merchant_attention, merchant_progress
from miniprograms import services as miniprogram_services
from tests import factories
from tests.miniprograms.conftest import EVIDENCE, whitelisted
from whitelist import services as whitelist_services
from whitelist.models import CriteriaPolicy, WhitelistEntry

pytestmark = pytest.mark.django_db


def states(user: User) -> dict[str, str]:
    return {step.key: step.state for step in merchant_progress(user=user).steps}


def current(user: User):  # type: ignore[no-untyped-def]
    step = merchant_progress(user=user).current
    assert step is not None
    return step


@pytest.fixture
def verified_account(merchant: User, organization: Organization, staff: User, policy: CriteriaPolicy):
    return factories.official_account(
        actor=merchant,
        organization=organization,
        vertical_code="commerce",
        followers_count=250_000,
        verified_by=staff,
    )


def test_new_merchant__organization_done__next_is_adding_an_account(merchant):
    assert states(merchant) == {
        "organization": "done",
        "account": "current",
        "verification": "todo",
        "application": "todo",
        "miniprogram": "todo",
        "link": "todo",
        "share": "todo",
    }
    step = current(merchant)
    assert step.action_url == reverse("accounts:account-create")
    assert merchant_progress(user=merchant).done == 1


def test_unverified_account__next_is_asking_for_verification(merchant, account):
    step = current(merchant)
    assert step.key == "verification"
    assert "verify" in str(step.detail)
    assert step.action_url == reverse("accounts:account-edit", args=[account.pk]) + "#verification"


def test_the_application_step_follows_the_open_application(merchant, staff, verified_account):
    step = current(merchant)
    assert (step.key, step.action_url) == ("application", reverse("whitelist:application-create"))

    application = whitelist_services.application_create(
        actor=merchant, account=verified_account, data=EVIDENCE
    )
    detail = reverse("whitelist:application-detail", args=[application.pk])
    assert (current(merchant).action_label, current(merchant).action_url) == (
        "Continue the application",
        detail,
    )

    whitelist_services.application_submit(actor=merchant, application=application)
    assert current(merchant).action_label == "View the application"

    whitelist_services.application_request_changes(
        actor=staff, application=application, message="Add the after-sales phone number."
    )
    assert current(merchant).action_label == "Answer the change request"
    attention = merchant_attention(user=merchant)
    assert [a.pk for a in attention.changes_requested] == [application.pk]

    whitelist_services.application_resubmit(actor=merchant, application=application)
    whitelist_services.application_approve(actor=staff, application=application)
    assert states(merchant)["application"] == "done"
    assert current(merchant).key == "miniprogram"
    assert not merchant_attention(user=merchant)


def test_whitelisted_to_first_share__each_step_done_in_turn(merchant, organization, staff, policy):
    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000001"
    )
    assert current(merchant).key == "miniprogram"

    miniprogram = miniprogram_services.miniprogram_create(
        actor=merchant,
        organization=organization,
        app_id="2021000000000301",
        name="Noodle Order",
        category="business",
    )
    assert current(merchant).key == "link"
    link = miniprogram_services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=account)
    assert "waiting for review" in str(current(merchant).detail)

    miniprogram_services.profile_link_approve(actor=staff, link=link)
    assert current(merchant).key == "share"

    miniprogram_services.share_record(actor=merchant, miniprogram=miniprogram, account=account)
    progress = merchant_progress(user=merchant)
    assert progress.complete
    assert progress.current is None


def test_rejected_link__is_a_card_until_thirty_days_pass(merchant, organization, staff, policy):
    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000002"
    )
    miniprogram = miniprogram_services.miniprogram_create(
        actor=merchant,
        organization=organization,
        app_id="2021000000000302",
        name="Tea Order",
        category="business",
    )
    link = miniprogram_services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=account)
    miniprogram_services.profile_link_reject(actor=staff, link=link, reason="The icon is blurred.")

    assert [card.pk for card in merchant_attention(user=merchant).rejected_links] == [link.pk]
    type(link).objects.filter(pk=link.pk).update(decided_at=timezone.now() - timedelta(days=31))
    assert merchant_attention(user=merchant).rejected_links == []


def test_expiring_entry__is_a_card_with_apply_again(client, merchant, organization, staff, policy):
    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000003"
    )
    WhitelistEntry.objects.filter(account=account).update(valid_until=timezone.now() + timedelta(days=10))

    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    assert "Whitelist ending soon" in page
    assert f"{reverse('whitelist:application-create')}?account={account.pk}" in page


def test_other_organizations_work__counts_for_nothing(merchant, other_account: OfficialAccount):
    assert current(merchant).key == "account"


def test_page__shows_the_checklist_with_the_one_next_action(client, merchant, account):
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    assert "Your next steps" in page
    assert "2 of 7 done" in page
    assert page.count('aria-current="step"') == 1
    assert 'data-step="verification"' in page


def test_page__staff__no_checklist(client, staff):
    client.force_login(staff)
    page = client.get(reverse("home:dashboard")).content.decode()
    assert "Your next steps" not in page


def test_page__no_account__explains_the_programme_with_the_active_policy(client, merchant, policy):
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    assert f"at least {policy.min_followers:,} followers" in page
    assert f"team of {policy.min_dev_team_size} people or more" in page
    for vertical in policy.open_verticals.all():
        assert vertical.name in page


def test_page__in_chinese__the_checklist_is_translated(client, merchant, account):
    merchant.language = "zh-hans"
    merchant.save(update_fields=["language"])
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    assert "Your next steps" not in page
    assert "Get the account verified" not in page


def test_page__in_chinese__numbers_are_grouped_by_thousands(client, merchant, policy):
    merchant.language = "zh-hans"
    merchant.save(update_fields=["language"])
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    assert f"{policy.min_followers:,}" in page
    assert "接下来的步骤" in page


def test_plain_member__is_shown_the_step_but_offered_no_change(merchant, organization, account):
    member = User.objects.create_user("carol_member", "carol@merchant.example", "a-long-passphrase-123")
    membership_add(actor=merchant, organization=organization, user=member, role=MembershipRole.MEMBER)

    step = current(member)
    assert step.key == "verification"
    assert step.action_url == ""
    assert "Only your organization's owners and admins" in str(step.detail)
