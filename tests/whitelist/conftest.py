"""Whitelist fixtures: the policy and reason codes of the data migration, people around one
applicant organization, an eligible account, and applications in each state made by the services."""

import importlib
from collections.abc import Callable

import pytest

from accounts.models import MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add
from tests import factories
from whitelist import services
from whitelist.models import (
    ApplicationState,
    CriteriaPolicy,
    ReasonCode,
    WhitelistApplication,
    WhitelistEntry,
)

# The data migration is the one source of policy v1 and of the first reason codes.
data_migration = importlib.import_module("whitelist.migrations.0002_policy_v1_and_reason_codes")
OPEN_VERTICALS: list[str] = data_migration.OPEN_VERTICALS

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Our own team builds and runs the ordering mini program.",
}


@pytest.fixture
def evidence() -> dict[str, object]:
    """Evidence that passes every criterion of policy v1."""
    return dict(EVIDENCE)


@pytest.fixture
def reason_codes(db: None) -> dict[str, ReasonCode]:
    """The reason codes of the data migration, by code."""
    codes = {}
    for code, title, text in data_migration.REASON_CODES:
        codes[code], _ = ReasonCode.objects.get_or_create(code=code, defaults={"title": title, "text": text})
    return codes


@pytest.fixture
def reviewer(staff: User) -> User:
    return staff


@pytest.fixture
def staff_member(merchant: User, organization: Organization) -> User:
    """Platform staff who is also a (plain) member of the applicant organization."""
    user = factories.StaffUserFactory(username="insider")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.MEMBER)
    return user


@pytest.fixture
def eligible_account(
    merchant: User, organization: Organization, reviewer: User, policy: CriteriaPolicy
) -> OfficialAccount:
    """Verified, in an open vertical, with more followers than policy v1 asks for."""
    return factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="3100000001",
        screen_name="Alice Burgers",
        vertical_code="food_beverage",
        followers_count=250_000,
        verified_by=reviewer,
    )


@pytest.fixture
def draft(merchant: User, eligible_account: OfficialAccount) -> WhitelistApplication:
    return services.application_create(actor=merchant, account=eligible_account, data=EVIDENCE)


@pytest.fixture
def submitted(merchant: User, draft: WhitelistApplication) -> WhitelistApplication:
    return services.application_submit(actor=merchant, application=draft)


@pytest.fixture
def application_in_state(
    merchant: User, reviewer: User, draft: WhitelistApplication, reason_codes: dict[str, ReasonCode]
) -> Callable[[str], WhitelistApplication]:
    """Walk the draft through the services to the state asked for."""

    def walk(state: str) -> WhitelistApplication:
        application = draft
        if state == ApplicationState.DRAFT:
            return application
        application = services.application_submit(actor=merchant, application=application)
        if state == ApplicationState.CHANGES_REQUESTED:
            application = services.application_request_changes(
                actor=reviewer, application=application, message="Add the team's contracts."
            )
        elif state == ApplicationState.APPROVED:
            application = services.application_approve(actor=reviewer, application=application)
        elif state == ApplicationState.REJECTED:
            application = services.application_reject(
                actor=reviewer, application=application, reason_code=reason_codes["evidence_insufficient"]
            )
        elif state == ApplicationState.WITHDRAWN:
            application = services.application_withdraw(actor=merchant, application=application)
        assert application.state == state
        return application

    return walk


@pytest.fixture
def entry(reviewer: User, submitted: WhitelistApplication) -> WhitelistEntry:
    services.application_approve(actor=reviewer, application=submitted)
    return WhitelistEntry.objects.get(account=submitted.account)
