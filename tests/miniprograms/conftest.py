"""Mini program fixtures: the active policy, whitelisted accounts made by the whitelist services,
mini programs and links made by the mini program services."""

import importlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import time_machine

from accounts.models import OfficialAccount, Organization, User
from miniprograms import services
from miniprograms.models import MiniProgram, ProfileLink
from miniprograms.quota import window_start
from tests import factories
from whitelist import services as whitelist_services
from whitelist.models import CriteriaPolicy, WhitelistEntry

data_migration = importlib.import_module("whitelist.migrations.0002_policy_v1_and_reason_codes")

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
}


def whitelisted(
    *, owner: User, organization: Organization, reviewer: User, platform_uid: str, screen_name: str = ""
) -> OfficialAccount:
    """An account whose whitelist entry is active, made the way a merchant and a reviewer make it."""
    account = factories.official_account(
        actor=owner,
        organization=organization,
        platform_uid=platform_uid,
        screen_name=screen_name or f"Shop {platform_uid}",
        vertical_code="commerce",
        followers_count=250_000,
        verified_by=reviewer,
    )
    application = whitelist_services.application_create(actor=owner, account=account, data=EVIDENCE)
    whitelist_services.application_submit(actor=owner, application=application)
    whitelist_services.application_approve(actor=reviewer, application=application)
    assert WhitelistEntry.objects.get(account=account).state == "active"
    return account


@pytest.fixture
def make_whitelisted(
    merchant: User, organization: Organization, staff: User, policy: CriteriaPolicy
) -> Callable[[str], OfficialAccount]:
    def make(platform_uid: str) -> OfficialAccount:
        return whitelisted(
            owner=merchant, organization=organization, reviewer=staff, platform_uid=platform_uid
        )

    return make


@pytest.fixture
def listed_account(make_whitelisted: Callable[[str], OfficialAccount]) -> OfficialAccount:
    return make_whitelisted("7100000001")


@pytest.fixture
def make_miniprogram(merchant: User, organization: Organization) -> Callable[..., MiniProgram]:
    def make(app_id: str, name: str = "Burger Order", **extra: object) -> MiniProgram:
        return services.miniprogram_create(
            actor=merchant,
            organization=organization,
            app_id=app_id,
            name=name,
            category=str(extra.pop("category", "business")),
            description=str(extra.pop("description", "Order burgers ahead.")),
            capabilities=extra.pop("capabilities", ["payment", "card"]),  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def miniprogram(make_miniprogram: Callable[..., MiniProgram]) -> MiniProgram:
    return make_miniprogram("2021000000000001")


@pytest.fixture
def pending_link(merchant: User, miniprogram: MiniProgram, listed_account: OfficialAccount) -> ProfileLink:
    return services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)


@pytest.fixture
def other_listed_account(
    other_merchant_and_org: tuple[User, Organization], staff: User, policy: CriteriaPolicy
):  # type: ignore[no-untyped-def]
    user, organization = other_merchant_and_org
    return whitelisted(owner=user, organization=organization, reviewer=staff, platform_uid="8100000001")


@pytest.fixture
def other_miniprogram(other_merchant_and_org: tuple[User, Organization]) -> MiniProgram:
    user, organization = other_merchant_and_org
    return services.miniprogram_create(
        actor=user, organization=organization, app_id="2021000000000099", name="Bob Mart", category="business"
    )


@pytest.fixture
def other_link(
    other_merchant: User, other_miniprogram: MiniProgram, other_listed_account: OfficialAccount
) -> ProfileLink:
    return services.profile_link_request(
        actor=other_merchant, miniprogram=other_miniprogram, account=other_listed_account
    )


@pytest.fixture
def pinned_hour() -> Iterator[datetime]:
    """The clock set 20 minutes into the current hour, and ticking: a test that shares more than once in
    one hour never meets the turn of the hour (which would grant its second share)."""
    start = window_start() + timedelta(minutes=20)
    with time_machine.travel(start, tick=True):
        yield start
