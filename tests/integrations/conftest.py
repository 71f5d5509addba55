"""API key fixtures: keys issued by staff through the service, clients that send them, and a live
profile link in each of two organizations to share through."""

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Organization, User
from integrations.models import ApiKey
from integrations.services import api_key_issue
from miniprograms import services as miniprogram_services
from miniprograms.models import ProfileLink
from tests.miniprograms.conftest import whitelisted
from whitelist.models import CriteriaPolicy

IssueKey = Callable[..., tuple[ApiKey, str]]
KeyClient = Callable[..., APIClient]


@pytest.fixture
def issue_key(staff: User) -> IssueKey:
    """Issue a key as staff do: `issue_key("whitelist:read", organization=org)` → (key, secret)."""

    def issue(
        *scopes: str,
        organization: Organization | None = None,
        expiry_date: datetime | None = None,
        name: str = "",
    ) -> tuple[ApiKey, str]:
        return api_key_issue(
            actor=staff,
            name=name or f"key for {'+'.join(scopes)}"[:50],
            scopes=scopes,
            organization=organization,
            expiry_date=expiry_date,
        )

    return issue


@pytest.fixture
def key_client() -> KeyClient:
    """A client that sends `Authorization: Api-Key <secret>`, from REMOTE_ADDR when given."""

    def make(secret: str, *, remote_addr: str | None = None) -> APIClient:
        client = APIClient(**({"REMOTE_ADDR": remote_addr} if remote_addr else {}))
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        return client

    return make


@pytest.fixture
def fresh_share_quota() -> Iterator[None]:
    """Start with unspent share quotas on Redis too (ids repeat between runs; the database rolls back)."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("portal:share-quota:*"):
            client.delete(key)
        client.close()
    yield


def live_link_of(
    *, owner: User, organization: Organization, reviewer: User, uid: str, app_id: str
) -> ProfileLink:
    """A whitelisted account showing a mini program: requested by its owner, approved by staff."""
    account = whitelisted(owner=owner, organization=organization, reviewer=reviewer, platform_uid=uid)
    miniprogram = miniprogram_services.miniprogram_create(
        actor=owner,
        organization=organization,
        app_id=app_id,
        name=f"Shop {uid}",
        category="business",
        description="Order ahead.",
        capabilities=["payment"],
    )
    link = miniprogram_services.profile_link_request(actor=owner, miniprogram=miniprogram, account=account)
    return miniprogram_services.profile_link_approve(actor=reviewer, link=link)


@pytest.fixture
def live_link(
    merchant: User, organization: Organization, staff: User, policy: CriteriaPolicy, fresh_share_quota: None
) -> ProfileLink:
    return live_link_of(
        owner=merchant, organization=organization, reviewer=staff, uid="7300000001", app_id="2021000000000301"
    )


@pytest.fixture
def other_live_link(
    other_merchant_and_org: tuple[User, Organization],
    staff: User,
    policy: CriteriaPolicy,
    fresh_share_quota: None,
) -> ProfileLink:
    owner, organization = other_merchant_and_org
    return live_link_of(
        owner=owner, organization=organization, reviewer=staff, uid="8300000001", app_id="2021000000000302"
    )
