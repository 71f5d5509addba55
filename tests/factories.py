"""Factories for test data; objects with rules are built through the real services."""

import itertools

import factory
from django.utils import timezone

from accounts.models import AccountKind, OfficialAccount, Organization, OrganizationKind, User, Vertical
from accounts.services import (
    official_account_create,
    official_account_verify,
    user_email_confirm,
    user_register,
)

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"
_uids = itertools.count(6_000_000_001)


def vertical(code: str = "government") -> Vertical:
    """A vertical by code; the data migration's rows may be flushed by transactional tests."""
    found, _ = Vertical.objects.get_or_create(code=code, defaults={"name": code.replace("_", " ").title()})
    return found


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@platform.example")
    is_staff = True
    password = factory.django.Password(DEFAULT_PASSWORD)
    email_confirmed_at = factory.LazyFunction(timezone.now)


def merchant_register(
    username: str,
    *,
    organization_name: str | None = None,
    kind: str = OrganizationKind.ENTERPRISE,
    confirmed: bool = True,
) -> tuple[User, Organization]:
    """A merchant signed up through the real sign-up service, its email address confirmed unless told."""
    user, organization = user_register(
        username=username,
        email=f"{username}@merchant.example",
        password=DEFAULT_PASSWORD,
        organization_name=organization_name or f"{username.title()} Ltd",
        organization_kind=kind,
    )
    if confirmed:
        user = user_email_confirm(user=user)
    return user, organization


def official_account(
    *,
    actor: User,
    organization: Organization,
    platform_uid: str | None = None,
    screen_name: str = "Demo account",
    kind: str = AccountKind.ENTERPRISE,
    vertical_code: str = "commerce",
    followers_count: int = 150_000,
    verified_by: User | None = None,
) -> OfficialAccount:
    account = official_account_create(
        actor=actor,
        organization=organization,
        platform_uid=platform_uid or str(next(_uids)),
        screen_name=screen_name,
        kind=kind,
        vertical=vertical(vertical_code),
        followers_count=followers_count,
    )
    if verified_by is not None:
        account = official_account_verify(actor=verified_by, account=account)
    return account
