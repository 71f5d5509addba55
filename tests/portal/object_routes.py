"""The people around one organization and its objects in each state, built through the services, and the
URL resolver's routes, for the authorization matrix and the CSRF checks of the merchant pages."""

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.services import webhook_endpoint_create, webhook_event_emit
from miniprograms import services as miniprogram_services
from miniprograms.models import MiniProgram, ProfileLink
from tests import factories
from tests.miniprograms.conftest import whitelisted
from tests.uploads import PDF
from whitelist import services as whitelist_services
from whitelist.models import (
    ApplicationAttachment,
    ApplicationState,
    ReasonCode,
    WhitelistApplication,
    WhitelistEntry,
)

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Alice's own team builds the ordering mini program.",
}
# Parts of an organization's objects that must never show to someone outside it.
ORGANIZATION_NAME = "Alice Foods Co"
WEBHOOK_URL = "https://hooks.alice-foods.example/portal-events"


# The URL resolver


def routes(
    patterns: Iterable[URLPattern | URLResolver] | None = None, prefix: str = "/"
) -> Iterator[tuple[str, Any]]:
    """(route, view callback) of every URL pattern, e.g. ("/applications/<int:pk>/", view)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def has_parameters(route: str) -> bool:
    return PARAMETER.search(route) is not None


def fill(route: str, values: dict[str, object]) -> str:
    """The route with each parameter replaced by its value."""
    return PARAMETER.sub(lambda match: str(values[match.group(2)]), route)


def fill_missing(route: str, values: dict[str, object]) -> str:
    """The route with each id replaced by one that does not exist (other parameters kept)."""
    return PARAMETER.sub(
        lambda match: "2000000000" if match.group(1) == "int" else str(values[match.group(2)]), route
    )


# The people


@dataclass
class World:
    """An organization (Alice's) with its owner, an admin and a plain member; another merchant (Bob,
    owner of his own organization); and a platform reviewer who belongs to neither."""

    organization: Organization
    owner: User
    admin: User
    member: User
    other_merchant: User
    staff: User
    _uids: Iterator[int] = field(default_factory=lambda: iter(range(7_700_000_001, 7_800_000_000)))

    def uid(self) -> str:
        return str(next(self._uids))

    def caller(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


def world_build() -> World:
    owner, organization = factories.merchant_register("alice", organization_name=ORGANIZATION_NAME)
    admin, _ = factories.merchant_register("dora")
    member, _ = factories.merchant_register("carl")
    membership_add(actor=owner, organization=organization, user=admin, role=MembershipRole.ADMIN)
    membership_add(actor=owner, organization=organization, user=member, role=MembershipRole.MEMBER)
    other_merchant, _ = factories.merchant_register("bob", organization_name="Bob Retail Ltd")
    staff = cast(User, factories.StaffUserFactory(username="reviewer"))
    return World(
        organization=organization,
        owner=owner,
        admin=admin,
        member=member,
        other_merchant=other_merchant,
        staff=staff,
    )


def secrets_of(world: World) -> list[str]:
    """Text of the organization's objects that a response to an outsider must not contain."""
    organization = world.organization
    texts = [organization.name]
    for account in OfficialAccount.objects.filter(organization=organization):
        texts += [account.screen_name, account.platform_uid]
    for miniprogram in MiniProgram.objects.filter(organization=organization):
        texts += [miniprogram.name, miniprogram.app_id]
    texts += list(
        ApplicationAttachment.objects.filter(application__organization=organization).values_list(
            "original_name", flat=True
        )
    )
    texts += list(WebhookEndpoint.objects.filter(organization=organization).values_list("url", flat=True))
    if WhitelistApplication.objects.filter(organization=organization).exists():
        texts.append(str(EVIDENCE["description"]))
    return texts


# The objects, each in the state where the operation succeeds for whoever may do it


def account(world: World) -> OfficialAccount:
    """Verified, in an open vertical, with no application yet."""
    return factories.official_account(
        actor=world.owner,
        organization=world.organization,
        platform_uid=world.uid(),
        screen_name="Alice Burgers Official",
        vertical_code="commerce",
        followers_count=250_000,
        verified_by=world.staff,
    )


def unverified_account(world: World) -> OfficialAccount:
    return factories.official_account(
        actor=world.owner, organization=world.organization, platform_uid=world.uid(), screen_name="Alice New"
    )


def whitelisted_account(world: World) -> OfficialAccount:
    return whitelisted(
        owner=world.owner,
        organization=world.organization,
        reviewer=world.staff,
        platform_uid=world.uid(),
        screen_name="Alice Whitelisted Shop",
    )


def application(world: World, state: str = ApplicationState.DRAFT) -> WhitelistApplication:
    created = whitelist_services.application_create(actor=world.owner, account=account(world), data=EVIDENCE)
    if state == ApplicationState.DRAFT:
        return created
    submitted = whitelist_services.application_submit(actor=world.owner, application=created)
    if state == ApplicationState.CHANGES_REQUESTED:
        return whitelist_services.application_request_changes(
            actor=world.staff, application=submitted, message="Add the team's contracts."
        )
    assert state == ApplicationState.SUBMITTED
    return submitted


def attachment(world: World) -> ApplicationAttachment:
    return attachment_to(world, application(world))


def attachment_to(world: World, draft: WhitelistApplication) -> ApplicationAttachment:
    return whitelist_services.application_attachment_add(
        actor=world.owner,
        application=draft,
        uploaded=SimpleUploadedFile("alice-licence.pdf", PDF, content_type="application/pdf"),
    )


def entry(world: World, *, suspended: bool = False) -> WhitelistEntry:
    found = WhitelistEntry.objects.get(account=whitelisted_account(world))
    if suspended:
        found = whitelist_services.whitelist_entry_suspend(actor=world.staff, entry=found, reason="Spam.")
    return found


def miniprogram(world: World) -> MiniProgram:
    return miniprogram_services.miniprogram_create(
        actor=world.owner,
        organization=world.organization,
        app_id=f"202100{world.uid()}",
        name="Alice Burger Order",
        category="business",
        description="Order burgers ahead.",
        capabilities=["payment"],
    )


def link(world: World, *, live: bool = True) -> ProfileLink:
    requested = miniprogram_services.profile_link_request(
        actor=world.owner, miniprogram=miniprogram(world), account=whitelisted_account(world)
    )
    if not live:
        return requested
    return miniprogram_services.profile_link_approve(actor=world.staff, link=requested)


def webhook_delivery(world: World) -> WebhookDelivery:
    endpoint = webhook_endpoint_create(
        actor=world.owner,
        organization=world.organization,
        url=WEBHOOK_URL,
        events=[WebhookEvent.ENTRY_GRANTED],
        description="Alice's CRM",
    )
    webhook_event_emit(
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=world.organization.pk,
        data={"whitelist_entry": {"id": 1, "state": "active"}, "account": {"id": 1}},
    )
    return WebhookDelivery.objects.get(endpoint=endpoint)


def reason_code() -> ReasonCode:
    found, _ = ReasonCode.objects.get_or_create(
        code="evidence_insufficient",
        defaults={"title": "Evidence insufficient", "text": "The evidence does not show it."},
    )
    return found


# What a request needs: the route's values and, for a write, a body that the service accepts


@dataclass(frozen=True)
class Target:
    values: dict[str, object]
    body: dict[str, Any] | None = None
    multipart: bool = False


Build = Callable[[World], Target]


def upload(name: str, content: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)
