"""The history of profile links: an event for every move, and the webhooks of links going live or away."""

from collections.abc import Sequence

from accounts.models import User
from integrations.models import WebhookEvent
from integrations.services import webhook_endpoints_exist, webhook_event_emit

from ..models import ProfileLink, ProfileLinkEvent, ProfileLinkState


def link_event_record(
    link: ProfileLink, *, actor: User | None, from_state: str, reason: str = ""
) -> ProfileLinkEvent:
    """Record the link's move to its current state, and tell webhooks when it concerns them."""
    event = ProfileLinkEvent.objects.create(
        link=link, actor=actor, from_state=from_state, to_state=link.state, reason=reason
    )
    link_webhooks_emit([(link.pk, from_state, link.state)], reason=reason)
    return event


def link_webhooks_emit(changes: Sequence[tuple[int, str, str]], *, reason: str = "") -> None:
    """Tell webhooks when links go live or leave a profile: (link id, from state, to state)."""
    live, removed = ProfileLinkState.LIVE, WebhookEvent.LINK_REMOVED
    relevant = [change for change in changes if (change[1] == live) != (change[2] == live)]
    if not relevant or not webhook_endpoints_exist():
        return
    links = ProfileLink.objects.select_related("account", "miniprogram").in_bulk([pk for pk, *_ in relevant])
    for pk, from_state, to_state in relevant:
        link = links[pk]
        webhook_event_emit(
            event=WebhookEvent.LINK_LIVE if to_state == live else removed,
            organization_id=link.account.organization_id,
            data={
                "profile_link": {"id": link.pk, "state": to_state, "previous_state": from_state},
                "account": {
                    "id": link.account_id,
                    "platform": link.account.platform,
                    "platform_uid": link.account.platform_uid,
                },
                "miniprogram": {"id": link.miniprogram_id, "app_id": link.miniprogram.app_id},
                "reason": reason,
            },
        )
