"""OpenAPI of the whitelist entry endpoints and the public lookup."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view

from portal.openapi import problems

from ..serializers import EntryOutputSerializer, EntryReasonInputSerializer, WhitelistLookupOutputSerializer
from .common import WHITELIST, conflict_example

ENTRY_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The whitelist entry's id.")


ENTRY_VALUE = {
    "id": 12,
    "account": 7,
    "state": "active",
    "share_limit_per_hour": 1,
    "valid_from": "2026-03-04T10:15:00Z",
    "valid_until": "2027-03-04T10:15:00Z",
}


REASON_REQUEST = OpenApiExample(
    "A reason", value={"reason": "Shares sent to users who did not ask for them."}, request_only=True
)


# PATCH of an entry takes its one field as required, which drf-spectacular's PATCH handling would drop.
ENTRY_UPDATE_REQUEST_SCHEMA = {
    "type": "object",
    "properties": {"share_limit_per_hour": {"type": "integer", "minimum": 1, "maximum": 10_000}},
    "required": ["share_limit_per_hour"],
}


def _entry_transition_schema(summary: str, to_state: str, conflict: str) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=WHITELIST,
            parameters=[ENTRY_ID],
            request=EntryReasonInputSerializer,
            responses={200: EntryOutputSerializer, **problems(409, 415)},
            examples=[
                REASON_REQUEST,
                OpenApiExample(
                    f"Now {to_state}", value={**ENTRY_VALUE, "state": to_state}, response_only=True
                ),
                conflict_example(conflict),
            ],
        )
    )


entry_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List whitelist entries",
        tags=WHITELIST,
        examples=[OpenApiExample("An active entry", value=ENTRY_VALUE, response_only=True)],
    )
)


entry_detail_schema = extend_schema_view(
    get=extend_schema(
        summary="Read a whitelist entry",
        tags=WHITELIST,
        parameters=[ENTRY_ID],
        responses={200: EntryOutputSerializer},
        examples=[OpenApiExample("An active entry", value=ENTRY_VALUE, response_only=True)],
    ),
    patch=extend_schema(
        summary="Change an entry's hourly share limit",
        tags=WHITELIST,
        parameters=[ENTRY_ID],
        request={"application/json": ENTRY_UPDATE_REQUEST_SCHEMA},
        responses={200: EntryOutputSerializer, **problems(415)},
        examples=[
            OpenApiExample("Three per hour", value={"share_limit_per_hour": 3}, request_only=True),
            OpenApiExample("The entry", value={**ENTRY_VALUE, "share_limit_per_hour": 3}, response_only=True),
        ],
    ),
)


entry_suspend_schema = _entry_transition_schema(
    "Suspend an entry", "suspended", "Cannot suspend an entry that is Suspended."
)


entry_reinstate_schema = _entry_transition_schema(
    "Reinstate an entry", "active", "Cannot reinstate an entry that is Active."
)


entry_revoke_schema = _entry_transition_schema(
    "Revoke an entry", "revoked", "Cannot revoke an entry that is Revoked."
)


whitelist_lookup_schema = extend_schema_view(
    get=extend_schema(
        summary="Is this account whitelisted?",
        tags=WHITELIST,
        parameters=[
            OpenApiParameter(
                "platform", str, OpenApiParameter.PATH, description="The platform, e.g. `weibo`."
            ),
            OpenApiParameter(
                "platform_uid", str, OpenApiParameter.PATH, description="The account's id on the platform."
            ),
        ],
        responses={200: WhitelistLookupOutputSerializer},
        examples=[
            OpenApiExample(
                "Whitelisted",
                value={
                    "platform": "weibo",
                    "platform_uid": "3100000001",
                    "whitelisted": True,
                    "state": "active",
                    "share_limit_per_hour": 1,
                    "valid_until": "2027-03-04T10:15:00Z",
                },
                response_only=True,
            ),
            OpenApiExample(
                "Known, never whitelisted",
                value={
                    "platform": "weibo",
                    "platform_uid": "3100000002",
                    "whitelisted": False,
                    "state": None,
                    "share_limit_per_hour": None,
                    "valid_until": None,
                },
                response_only=True,
            ),
        ],
    )
)
