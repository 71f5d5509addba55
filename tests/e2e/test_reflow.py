"""WCAG 2.2 reflow (1.4.10): the merchant pages never scroll sideways at 390 or 320 CSS px."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from accounts.models import Organization, User
from miniprograms import services as miniprogram_services
from tests import factories
from tests.e2e.test_flows import log_in
from tests.miniprograms.conftest import EVIDENCE, whitelisted
from whitelist import services as whitelist_services
from whitelist.models import CriteriaPolicy

pytestmark = pytest.mark.e2e


@pytest.fixture
def reviewer(db: None) -> User:
    return factories.StaffUserFactory(username="reviewer", is_superuser=True)


@pytest.fixture
def shop(db: None) -> tuple[User, Organization]:
    return factories.merchant_register("alice", organization_name="Alice Foods and Beverages Trading Co")


@pytest.mark.parametrize("width", [390, 320])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_merchant_pages__no_sideways_scroll(
    open_page: Callable[[], Page],
    shop: tuple[User, Organization],
    reviewer: User,
    policy: CriteriaPolicy,
    width: int,
    language: str,
) -> None:
    owner, organization = shop
    account = whitelisted(
        owner=owner,
        organization=organization,
        reviewer=reviewer,
        platform_uid="7400000001",
        screen_name="Alice Burgers Official Flagship Account",
    )
    other = factories.official_account(actor=owner, organization=organization, followers_count=250_000)
    whitelist_services.application_create(actor=owner, account=other, data=EVIDENCE)
    miniprogram = miniprogram_services.miniprogram_create(
        actor=owner,
        organization=organization,
        app_id="2021000000000401",
        name="Burger Order",
        category="business",
    )
    miniprogram_services.profile_link_request(actor=owner, miniprogram=miniprogram, account=account)

    page = open_page()
    log_in(page, owner.username)
    # The stored language is the pages' language from the next request on.
    User.objects.filter(pk=owner.pk).update(language=language)
    page.set_viewport_size({"width": width, "height": 800})
    paths = [
        "/",
        "/applications/",
        "/applications/new/",
        "/miniprograms/",
        f"/miniprograms/{miniprogram.pk}/",
        "/miniprograms/new/",
        f"/accounts/{other.pk}/edit/",
        "/accounts/new/",
        "/preferences/",
    ]
    overflowing = []
    for path in paths:
        page.goto(path)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            overflowing.append(f"{path}: {scroll} px wide in a {inner} px window")
    assert not overflowing, overflowing
