"""A merchant on a phone asks for verification; staff reject it with a reason, then verify it."""

import re
from collections.abc import Callable

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import OfficialAccount, Organization, User, VerificationStatus
from tests import factories
from tests.e2e.test_flows import admin_log_in, flash, log_in
from whitelist.models import CriteriaPolicy

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def reviewer(db: None) -> User:
    return factories.StaffUserFactory(username="reviewer", is_superuser=True)


@pytest.fixture
def shop(db: None) -> tuple[User, Organization]:
    return factories.merchant_register("alice", organization_name="Alice Foods Co")


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def staff_decides(staff: Page, account: OfficialAccount, decision: str, reason: str) -> None:
    staff.goto("/admin/accounts/officialaccount/?verification_status__exact=pending")
    staff.get_by_role("link", name=account.screen_name).click()
    staff.get_by_role("link", name=decision, exact=True).click()
    staff.get_by_label(re.compile("^Reason")).fill(reason)
    staff.get_by_role("button", name=re.compile(f"^{decision}:")).click()
    expect(staff.locator(".messagelist")).to_contain_text(f"Done: {decision}.")


def test_verification__requested_on_a_phone__rejected__requested_again__verified(
    open_page: Callable[[], Page],
    shop: tuple[User, Organization],
    reviewer: User,
    policy: CriteriaPolicy,
) -> None:
    owner, organization = shop
    account = factories.official_account(
        actor=owner, organization=organization, screen_name="Alice Burgers", followers_count=250_000
    )
    merchant = open_page()
    log_in(merchant, owner.username)
    merchant.set_viewport_size(PHONE)

    # The home page's next step asks for the verification
    step = merchant.locator('[data-step="verification"]')
    expect(step).to_contain_text("Ask staff to verify your account")
    no_sideways_scroll(merchant)
    step.get_by_role("button", name="Request verification").click()

    # The merchant asks, with a note
    merchant.get_by_label("Note to the staff (optional)").fill("The licence is on file in Hangzhou.")
    merchant.get_by_role("button", name="Request verification").click()
    expect(flash(merchant)).to_contain_text("Verification of Alice Burgers was requested")
    expect(merchant.locator("#verification")).to_contain_text("You asked for verification on")
    no_sideways_scroll(merchant)

    # Staff find it in the pending queue and reject it with a reason; the owner is emailed it
    staff = open_page()
    admin_log_in(staff, reviewer.username)
    mail.outbox.clear()
    staff_decides(staff, account, "Reject", "The licence names another company.")
    assert any("The licence names another company." in message.body for message in mail.outbox)

    # The merchant reads why, and asks again instead of applying
    merchant.goto("/")
    row_actions = merchant.locator("tr", has_text="Alice Burgers").locator(".row-actions")
    expect(row_actions).to_contain_text("Request again")
    expect(row_actions.get_by_role("link", name=re.compile("^Apply for the whitelist"))).to_have_count(0)
    row_actions.get_by_role("link", name="Request verification of Alice Burgers").click()
    expect(merchant.locator("main")).to_contain_text("The licence names another company.")
    merchant.get_by_role("button", name="Request verification again").click()
    expect(flash(merchant)).to_contain_text("was requested")

    # Staff verify it this time; the merchant's next step is the application
    staff_decides(staff, account, "Verify", "Checked against the licence.")
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED
    merchant.goto("/")
    expect(merchant.locator('[data-step="verification"]')).to_contain_text("Done")
    expect(merchant.locator('[aria-current="step"]')).to_contain_text("Apply for the whitelist")
    no_sideways_scroll(merchant)
