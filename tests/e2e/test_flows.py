"""The three journeys of the programme, clicked through real pages as a merchant and a reviewer."""

import re
import time
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from accounts.models import OfficialAccount, Organization, User, VerificationStatus
from miniprograms.models import ProfileLink, ProfileLinkState, Share
from tests import factories
from whitelist import services as whitelist_services
from whitelist.models import (
    ApplicationState,
    CriteriaPolicy,
    ReasonCode,
    WhitelistApplication,
    WhitelistEntry,
)

pytestmark = pytest.mark.e2e

PASSWORD = factories.DEFAULT_PASSWORD
SHANGHAI = ZoneInfo("Asia/Shanghai")
EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Our own team builds and runs the ordering mini program.",
}


# People and their data, made through the real services


@pytest.fixture
def reviewer(db: None) -> User:
    return factories.StaffUserFactory(username="reviewer", is_superuser=True)


@pytest.fixture
def shop(db: None) -> tuple[User, Organization]:
    return factories.merchant_register("alice", organization_name="Alice Foods Co")


@pytest.fixture
def verified_account(
    shop: tuple[User, Organization], reviewer: User, policy: CriteriaPolicy
) -> OfficialAccount:
    owner, organization = shop
    return factories.official_account(
        actor=owner,
        organization=organization,
        platform_uid="1000000001",
        screen_name="Alice Burgers",
        followers_count=250_000,
        verified_by=reviewer,
    )


@pytest.fixture
def fresh_share_quotas() -> None:
    """Redis keeps quotas by account id and hour; ids restart with each test database."""
    if settings.REDIS_URL and settings.SHARE_QUOTA_BACKEND != "database":
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("portal:share-quota:*"):
            client.delete(key)
        client.close()


# What a person does to get in


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Official accounts")).to_be_visible()


def admin_log_in(page: Page, username: str) -> None:
    page.goto("/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Programme administration")).to_be_visible()


def run_admin_action(page: Page, action: str) -> None:
    """On an admin list with rows ticked: choose the action in the "Action:" menu and press Go."""
    page.get_by_role("combobox", name=re.compile("^Action")).select_option(label=action)
    page.get_by_role("button", name="Go").click()


def flash(page: Page) -> Locator:
    """The messages at the top of a merchant page."""
    return page.locator(".flash-messages")


# 1. Sign up, add an account, draft, check eligibility, submit


def test_merchant__signs_up_adds_account_and_submits_an_eligible_application(
    open_page: Callable[[], Page], reviewer: User, policy: CriteriaPolicy
) -> None:
    merchant = open_page()

    # Given a newcomer on the portal's front page
    merchant.goto("/")
    merchant.get_by_role("navigation").get_by_role("button", name="Sign up").click()

    # When the merchant signs up with its organization
    merchant.get_by_label("Username").fill("carol")
    merchant.get_by_label("Email address").fill("carol@burgers.example")
    merchant.get_by_label("Password", exact=True).fill(PASSWORD)
    merchant.get_by_label("Password confirmation").fill(PASSWORD)
    merchant.get_by_label("Organization name").fill("Carol Burgers Ltd")
    merchant.get_by_label("Organization kind").select_option(label="Enterprise")
    merchant.get_by_role("button", name="Create my account").click()

    # Then it is logged in on an empty dashboard
    expect(flash(merchant)).to_contain_text("Welcome, carol! Carol Burgers Ltd is registered")
    expect(merchant.get_by_role("heading", name="No official accounts yet")).to_be_visible()

    # When it adds its official account
    merchant.get_by_role("button", name="Add your first account").click()
    merchant.get_by_label("Platform uid").fill("5000000001")
    merchant.get_by_label("Screen name").fill("Carol Burgers")
    merchant.get_by_label("Kind").select_option(label="Enterprise")
    merchant.get_by_label("Vertical").select_option(label="Commerce")
    merchant.get_by_label("Followers").fill("250000")
    merchant.get_by_role("button", name="Add account").click()

    # Then the dashboard lists it, unverified and not applied
    expect(flash(merchant)).to_contain_text("Carol Burgers was added. Platform staff will verify it")
    row = merchant.get_by_role("row", name=re.compile("Carol Burgers"))
    expect(row).to_contain_text("Unverified")
    expect(row).to_contain_text("Not applied")

    # When it fills an application draft for the account
    row.get_by_role("link", name="Apply for the whitelist for Carol Burgers").click()
    expect(merchant.get_by_label("Official account")).to_have_value(
        str(OfficialAccount.objects.get(platform_uid="5000000001").pk)
    )
    merchant.get_by_label("We have an in-house development team").check()
    merchant.get_by_label("In-house team size").fill("12")
    merchant.get_by_label("Product 1 name").fill("Burger app")
    merchant.get_by_label("Product 1 link").fill("https://apps.example.com/burgers")
    merchant.get_by_label("Ordering").check()
    merchant.get_by_label("Payment").check()
    merchant.get_by_label("Support channels").fill("400-800-1234\nhelp@burgers.example")
    merchant.get_by_label("After-sales policy").fill("Refunds within 7 days.")
    merchant.get_by_label("Description").fill("Our team of twelve builds and runs the ordering app.")
    merchant.get_by_role("button", name="Save draft").click()

    # Then the draft's page invites an eligibility check
    expect(flash(merchant)).to_contain_text("Draft saved.")
    expect(
        merchant.get_by_role("heading", name=re.compile(r"Application #\d+ · Carol Burgers"))
    ).to_be_visible()
    expect(merchant.locator(".badge--large")).to_have_text("Draft")
    expect(merchant.locator("#eligibility")).to_contain_text("Not checked yet.")

    # When it checks its eligibility before platform staff verified the account
    merchant.get_by_role("button", name="Check my eligibility").click()

    # Then every criterion but the verification passes, and the page says why
    expect(flash(merchant)).to_contain_text("Eligibility checked: Ineligible.")
    verification = merchant.get_by_role("row", name=re.compile("^Verified account"))
    expect(verification).to_contain_text("Fail")
    expect(verification).to_contain_text("not verified yet; platform staff must verify it first")
    expect(
        merchant.get_by_role("row", name=re.compile("^Independent development capability"))
    ).to_contain_text("Pass")

    # When a reviewer verifies the account in the admin
    staff = open_page()
    admin_log_in(staff, reviewer.username)
    staff.get_by_role("link", name="Official accounts").click()
    staff.get_by_role("row", name=re.compile("Carol Burgers")).get_by_role("checkbox").check()
    run_admin_action(staff, "Mark selected accounts verified")
    expect(staff.locator(".messagelist")).to_contain_text("1 account marked verified.")

    # And the merchant checks again, then submits
    merchant.reload()
    merchant.get_by_role("button", name="Check my eligibility").click()
    expect(flash(merchant)).to_contain_text("Eligibility checked: Eligible.")
    expect(merchant.get_by_role("row", name=re.compile("^Verified account"))).to_contain_text("Pass")
    merchant.get_by_role("button", name="Submit for review").click()

    # Then the application waits for review, as the page, the timeline and the database say
    expect(flash(merchant)).to_contain_text("Your application was submitted. Platform staff will review it")
    expect(merchant.locator(".badge--large")).to_have_text("Submitted")
    expect(merchant.locator("#timeline")).to_contain_text("Submitted for review")
    expect(merchant.get_by_role("button", name="Submit for review")).to_have_count(0)
    application = WhitelistApplication.objects.get(account__platform_uid="5000000001")
    assert application.state == ApplicationState.SUBMITTED
    assert application.account.verification_status == VerificationStatus.VERIFIED
    assert application.dev_team_size == 12
    assert application.support_channels == ["400-800-1234", "help@burgers.example"]


# 2. Changes requested, answered, resubmitted, approved


def test_review__changes_requested_then_resubmitted__is_approved(
    open_page: Callable[[], Page],
    shop: tuple[User, Organization],
    reviewer: User,
    verified_account: OfficialAccount,
) -> None:
    # Given a submitted application and a reason code for the reviewer to pick
    owner, _organization = shop
    application = whitelist_services.application_create(
        actor=owner, account=verified_account, data={**EVIDENCE, "dev_team_size": 2}
    )
    whitelist_services.application_submit(actor=owner, application=application)
    ReasonCode.objects.get_or_create(
        code="evidence_insufficient",
        defaults={"title": "Evidence insufficient", "text": "Please add documents or details."},
    )
    staff, merchant = open_page(), open_page()

    # When the reviewer opens it from the admin's queue and requests changes with a message
    admin_log_in(staff, reviewer.username)
    staff.get_by_role("link", name="Whitelist applications").click()
    staff.get_by_role("row", name=re.compile("Alice Burgers")).get_by_role("link").first.click()
    staff.get_by_role("link", name="Request changes", exact=True).click()
    staff.get_by_label("Reason code").select_option(label="Evidence insufficient")
    staff.get_by_label("Message").fill(
        "Your team is below the minimum of 3 developers; tell us its real size."
    )
    staff.get_by_role("button", name=re.compile("^Request changes")).click()
    expect(staff.locator(".messagelist")).to_contain_text("Done: Request changes.")

    # Then the merchant is emailed and sees the request on the application
    assert any(
        owner.email in message.to and "Changes requested" in message.subject for message in mail.outbox
    ), [message.subject for message in mail.outbox]
    log_in(merchant, owner.username)
    merchant.get_by_role("navigation").get_by_role("link", name="Applications").click()
    merchant.get_by_role("link", name=f"#{application.pk}", exact=True).click()
    request = merchant.get_by_role("note").filter(has_text="Platform staff asked for changes")
    expect(request).to_contain_text("Evidence insufficient")
    expect(request).to_contain_text("Your team is below the minimum of 3 developers")
    expect(merchant.locator(".badge--large")).to_have_text("Changes requested")

    # When the merchant edits the application and resubmits it
    merchant.get_by_role("button", name="Edit", exact=True).click()
    expect(merchant.get_by_role("note")).to_contain_text("Your team is below the minimum of 3 developers")
    merchant.get_by_label("In-house team size").fill("9")
    merchant.get_by_role("button", name="Save changes").click()
    expect(flash(merchant)).to_contain_text("Your changes were saved.")
    expect(merchant.locator("#evidence")).to_contain_text("Yes, 9 developers")
    merchant.get_by_role("button", name="Resubmit for review").click()
    expect(flash(merchant)).to_contain_text("Your application was sent back to platform staff for review.")
    expect(merchant.locator("#timeline")).to_contain_text("Resubmitted for review")

    # And the reviewer approves it
    staff.reload()
    staff.get_by_role("link", name="Approve", exact=True).click()
    staff.get_by_label("Message").fill("Thank you, approved.")
    staff.get_by_role("button", name=re.compile("^Approve")).click()
    expect(staff.locator(".messagelist")).to_contain_text("Done: Approve.")

    # Then the merchant sees the account whitelisted with one share an hour
    merchant.reload()
    expect(merchant.locator(".badge--large")).to_have_text("Approved")
    whitelisted = merchant.get_by_role("note").filter(has_text="is whitelisted")
    expect(whitelisted).to_contain_text(
        re.compile(r"Alice Burgers is whitelisted until .+, with 1 share per hour\.")
    )
    entry = WhitelistEntry.objects.get(account=verified_account)
    assert entry.state == "active" and entry.application_id == application.pk


# 3. A mini program, its profile link, one share an hour


def test_share__second_in_the_same_hour__is_refused_with_the_time_until_the_next(
    open_page: Callable[[], Page],
    shop: tuple[User, Organization],
    reviewer: User,
    verified_account: OfficialAccount,
    fresh_share_quotas: None,
) -> None:
    # Given a whitelisted account
    owner, _organization = shop
    application = whitelist_services.application_create(actor=owner, account=verified_account, data=EVIDENCE)
    whitelist_services.application_submit(actor=owner, application=application)
    whitelist_services.application_approve(actor=reviewer, application=application)
    merchant, staff = open_page(), open_page()

    # When the merchant registers a mini program
    log_in(merchant, owner.username)
    merchant.get_by_role("navigation").get_by_role("link", name="Mini programs").click()
    merchant.get_by_role("button", name="Register a mini program").click()
    merchant.get_by_label("App id").fill("2021000000000001")
    merchant.get_by_label("Name", exact=True).fill("Burger Order")
    merchant.get_by_label("Description").fill("Order burgers ahead and pay in the mini program.")
    merchant.get_by_label("Category").select_option(label="Business")
    merchant.get_by_label("Payment").check()
    merchant.get_by_label("Card", exact=True).check()
    merchant.get_by_role("button", name="Register").click()
    expect(flash(merchant)).to_contain_text("Burger Order is registered.")

    # And asks for a link to show it on the whitelisted account's profile
    merchant.get_by_label("Official account").select_option(label="Alice Burgers (Weibo 1000000001)")
    merchant.get_by_role("button", name="Request a link").click()
    expect(flash(merchant)).to_contain_text(
        "A link to Alice Burgers is requested; platform staff will review it."
    )
    link_row = merchant.get_by_role("row", name=re.compile("^Alice Burgers"))
    expect(link_row).to_contain_text("Pending review")
    expect(link_row.get_by_role("button", name="Share")).to_have_count(0)

    # When the reviewer approves the link in the admin
    admin_log_in(staff, reviewer.username)
    staff.get_by_role("link", name="Profile links").click()
    staff.get_by_role("row", name=re.compile("Burger Order")).get_by_role("checkbox").check()
    run_admin_action(staff, "Approve selected links")
    staff.get_by_label("Reason").fill("Checked the mini program.")
    staff.get_by_role("button", name="Approve").click()
    expect(staff.locator(".messagelist")).to_contain_text("1 done.")

    # Then the link is live on the merchant's page, with the hour's quota unused
    merchant.reload()
    expect(link_row).to_contain_text("Live")
    expect(link_row).to_contain_text("0 / 1 this hour")
    expect(merchant.locator("#profile-preview")).to_contain_text("Burger Order")

    # When the merchant shares once (not in the last seconds of a clock hour, so both shares share it)
    seconds_left = 3600 - (timezone.now().minute * 60 + timezone.now().second)
    if seconds_left < 20:
        time.sleep(seconds_left + 1)
    link_row.get_by_role("button", name="Share").click()

    # Then the share is recorded and the quota is used up
    expect(flash(merchant)).to_contain_text(
        "Burger Order is shared from Alice Burgers: 1 of 1 share used this hour."
    )
    expect(link_row).to_contain_text("1 / 1 this hour")

    # When it shares a second time in the same hour
    link_row.get_by_role("button", name="Share").click()

    # Then it is refused with the time of the next share, in the merchant's time zone (Asia/Shanghai by
    # default, while the browser is in UTC), and a live countdown (minutes:seconds)
    next_hour = timezone.localtime(timezone.now() + timedelta(hours=1), SHANGHAI).strftime("%H:00")
    expect(merchant.get_by_role("alert")).to_contain_text(
        f"This account has used its 1 share for this hour; the next is possible at {next_hour} Asia/Shanghai."
    )
    expect(link_row).to_contain_text(
        re.compile(rf"Next share possible at {next_hour} Asia/Shanghai \(in \d+:\d\d\)")
    )
    countdown = link_row.locator(".countdown-time")
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it counts down while the page is open
    assert Share.objects.filter(account=verified_account).count() == 1
    link = ProfileLink.objects.get(account=verified_account)
    assert link.state == ProfileLinkState.LIVE
