"""The OpenAPI description of the mini program API: one decorator a view, with its examples."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view

from portal.errors import PROBLEM_CONTENT_TYPE
from portal.openapi import problems

from .serializers import (
    IconInputSerializer,
    MiniProgramInputSerializer,
    MiniProgramOutputSerializer,
    OptionalReasonInputSerializer,
    ProfileLinkInputSerializer,
    ProfileLinkOutputSerializer,
    ProfileOutputSerializer,
    QuotaOutputSerializer,
    ReasonInputSerializer,
    ShareCreatedOutputSerializer,
    ShareInputSerializer,
)

# Statuses of every operation that reads a body: too large, or not of the media type it takes.
BODY_PROBLEMS = problems(413, 415)

MINIPROGRAM_EXAMPLE = {
    "id": 5,
    "organization": 7,
    "app_id": "2021000000000001",
    "name": "Burger Order",
    "description": "Order burgers ahead.",
    "category": "business",
    "capabilities": ["payment", "card"],
    "state": "active",
    "icon_url": None,
    "created_at": "2025-03-01T08:00:00Z",
    "updated_at": "2025-03-01T08:00:00Z",
}
MINIPROGRAM_REQUEST_EXAMPLE = {
    key: MINIPROGRAM_EXAMPLE[key] for key in ("app_id", "name", "description", "category", "capabilities")
}
LINK_EXAMPLE = {
    "id": 9,
    "miniprogram": 5,
    "account": 42,
    "state": "pending_review",
    "position": 1,
    "reason": "",
    "decided_at": None,
    "created_at": "2025-03-01T09:00:00Z",
    "updated_at": "2025-03-01T09:00:00Z",
}


def _miniprogram_example(summary: str, **changes: object) -> OpenApiExample:
    return OpenApiExample(summary, value={**MINIPROGRAM_EXAMPLE, **changes}, response_only=True)


def _link_example(summary: str, **changes: object) -> OpenApiExample:
    return OpenApiExample(summary, value={**LINK_EXAMPLE, **changes}, response_only=True)


def _conflict_example(summary: str, detail: str, code: str = "conflict") -> OpenApiExample:
    return OpenApiExample(
        summary,
        value={"type": f"urn:portal:problem:{code}", "title": "Conflict", "status": 409, "detail": detail},
        response_only=True,
        status_codes=["409"],
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _both(outer: Callable[[Any], Any], inner: Callable[[Any], Any]) -> Callable[[type], type]:
    """Per-method schemas (outer) over the view's own, as two stacked decorators would apply them."""

    def decorate(view: type) -> type:
        return outer(inner(view))

    return decorate


# Mini programs

miniprogram_list_schema = _both(
    extend_schema_view(
        get=extend_schema(
            summary="List mini programs",
            examples=[_miniprogram_example("A mini program")],
        ),
        post=extend_schema(
            summary="Register a mini program",
            request=MiniProgramInputSerializer,
            responses={201: MiniProgramOutputSerializer, **BODY_PROBLEMS},
            examples=[
                OpenApiExample("A new mini program", value=MINIPROGRAM_REQUEST_EXAMPLE, request_only=True),
                _miniprogram_example("Registered"),
            ],
        ),
    ),
    extend_schema(tags=["miniprograms"]),
)

miniprogram_detail_schema = _both(
    extend_schema_view(
        get=extend_schema(
            summary="Get a mini program",
            responses={200: MiniProgramOutputSerializer},
            examples=[_miniprogram_example("A mini program")],
        ),
        patch=extend_schema(
            summary="Edit a mini program",
            request=MiniProgramInputSerializer,
            responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
            examples=[
                OpenApiExample(
                    "A new name",
                    value={"name": "Burger Order 2", "capabilities": ["search"]},
                    request_only=True,
                ),
                _miniprogram_example("Edited", name="Burger Order 2", capabilities=["search"]),
                _conflict_example(
                    "Delisted", "Cannot change a mini program that is Delisted.", code="invalid-transition"
                ),
            ],
        ),
    ),
    extend_schema(tags=["miniprograms"]),
)

miniprogram_icon_schema = extend_schema(
    summary="Upload a mini program's icon",
    tags=["miniprograms"],
    request={"multipart/form-data": IconInputSerializer},
    responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
    examples=[
        _miniprogram_example("With its icon", icon_url="/media/miniprograms/icons/5/0f3c9a.png"),
        _conflict_example(
            "Delisted", "Cannot change a mini program that is Delisted.", code="invalid-transition"
        ),
    ],
)

miniprogram_delist_schema = extend_schema(
    summary="Delist a mini program",
    tags=["miniprograms"],
    request=OptionalReasonInputSerializer,
    responses={200: MiniProgramOutputSerializer, **problems(409), **BODY_PROBLEMS},
    examples=[
        OpenApiExample("With a reason", value={"reason": "The shop closed."}, request_only=True),
        _miniprogram_example("Delisted", state="delisted"),
        _conflict_example(
            "Already delisted", "Cannot delist a mini program that is Delisted.", code="invalid-transition"
        ),
    ],
)


# Profile links

profile_link_list_schema = _both(
    extend_schema_view(
        get=extend_schema(
            summary="List profile links",
            examples=[_link_example("A pending link")],
        ),
        post=extend_schema(
            summary="Ask for a profile link",
            request=ProfileLinkInputSerializer,
            responses={201: ProfileLinkOutputSerializer, **problems(409), **BODY_PROBLEMS},
            examples=[
                OpenApiExample("A link", value={"miniprogram": 5, "account": 42}, request_only=True),
                _link_example("Requested"),
                _conflict_example(
                    "Not whitelisted",
                    "Alice Foods is not whitelisted; apply for the whitelist first.",
                    code="not-whitelisted",
                ),
            ],
        ),
    ),
    extend_schema(tags=["profiles"]),
)

profile_link_detail_schema = extend_schema(
    summary="Get a profile link",
    tags=["profiles"],
    responses={200: ProfileLinkOutputSerializer},
    examples=[_link_example("A live link", state="live", decided_at="2025-03-02T10:00:00Z")],
)


def _transition_schema(
    *, summary: str, request: type, reason: str, result: OpenApiExample
) -> Callable[[type], type]:
    return extend_schema(
        summary=summary,
        tags=["profiles"],
        request=request,
        responses={200: ProfileLinkOutputSerializer, **problems(409), **BODY_PROBLEMS},
        examples=[
            OpenApiExample("With a reason", value={"reason": reason}, request_only=True),
            result,
            _conflict_example(
                "No longer possible", "Cannot approve a link that is Rejected.", code="invalid-transition"
            ),
        ],
    )


profile_link_approve_schema = _transition_schema(
    summary="Approve a profile link",
    request=OptionalReasonInputSerializer,
    reason="Checked the mini program.",
    result=_link_example(
        "Live", state="live", reason="Checked the mini program.", decided_at="2025-03-02T10:00:00Z"
    ),
)

profile_link_reject_schema = _transition_schema(
    summary="Reject a profile link",
    request=ReasonInputSerializer,
    reason="The mini program does not match the account.",
    result=_link_example(
        "Rejected",
        state="rejected",
        reason="The mini program does not match the account.",
        decided_at="2025-03-02T10:00:00Z",
    ),
)

profile_link_unlink_schema = _transition_schema(
    summary="Unlink a profile link",
    request=OptionalReasonInputSerializer,
    reason="Seasonal menu ended.",
    result=_link_example("Unlinked", state="unlinked"),
)


# Shares

QUOTA_EXCEEDED_EXAMPLE = OpenApiExample(
    "Quota used up",
    value={
        "type": "urn:portal:problem:share-quota-exceeded",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "This account has used its 5 share(s) for this hour; the next is possible at 10:00 UTC.",
    },
    response_only=True,
    status_codes=["429"],
    media_type=PROBLEM_CONTENT_TYPE,
)

share_create_schema = extend_schema(
    summary="Share a mini program",
    tags=["shares"],
    request=ShareInputSerializer,
    parameters=[
        OpenApiParameter(
            "Idempotency-Key",
            {"type": "string", "maxLength": 255},
            OpenApiParameter.HEADER,
            description="Any unique string of at most 255 characters, e.g. a UUID, to make retries safe.",
        ),
        OpenApiParameter(
            "Idempotent-Replayed",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=[201],
            enum=["true"],
            description="Present when the answer repeats an earlier request with the same Idempotency-Key.",
        ),
    ],
    responses={201: ShareCreatedOutputSerializer, **problems(409, 422), **BODY_PROBLEMS},
    examples=[
        OpenApiExample("For an account", value={"account": 42}, request_only=True),
        OpenApiExample(
            "Shared",
            value={
                "id": 1001,
                "account": 42,
                "miniprogram": 5,
                "created_at": "2025-03-01T09:15:00Z",
                "quota": {"limit": 5, "used": 1, "remaining": 4, "resets_at": "2025-03-01T10:00:00Z"},
            },
            response_only=True,
            status_codes=["201"],
        ),
        _conflict_example(
            "Not live",
            "Burger Order is not live on the profile of Alice Foods.",
            code="link-not-live",
        ),
        OpenApiExample(
            "Key reused",
            value={
                "type": "urn:portal:problem:idempotency-key-reused",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "This Idempotency-Key was already used for a different request.",
                "errors": {"Idempotency-Key": ["Use a new key for a new request."]},
            },
            response_only=True,
            status_codes=["422"],
            media_type=PROBLEM_CONTENT_TYPE,
        ),
        QUOTA_EXCEEDED_EXAMPLE,
    ],
)

share_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List shares",
        tags=["shares"],
        examples=[
            OpenApiExample(
                "A share",
                value={
                    "id": 1001,
                    "account": 42,
                    "miniprogram": 5,
                    "slot": 1,
                    "limit": 5,
                    "window_start": "2025-03-01T09:00:00Z",
                    "created_at": "2025-03-01T09:15:00Z",
                },
                response_only=True,
            )
        ],
    )
)

account_quota_schema = extend_schema(
    summary="Get an account's share quota",
    tags=["shares"],
    responses={200: QuotaOutputSerializer},
    examples=[
        OpenApiExample(
            "Two shares made",
            value={
                "limit": 5,
                "used": 2,
                "remaining": 3,
                "window_start": "2025-03-01T09:00:00Z",
                "resets_at": "2025-03-01T10:00:00Z",
            },
            response_only=True,
        )
    ],
)


# The public profile

profile_schema = extend_schema(
    summary="Get an account's profile section",
    tags=["profiles"],
    parameters=[
        OpenApiParameter(
            "platform",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            description="The platform: `weibo`. Any other is a 404.",
        ),
        OpenApiParameter(
            "platform_uid", OpenApiTypes.STR, OpenApiParameter.PATH, description="The account's uid there."
        ),
    ],
    responses={200: ProfileOutputSerializer},
    examples=[
        OpenApiExample(
            "A whitelisted account",
            value={
                "whitelisted": True,
                "miniprograms": [
                    {
                        "app_id": "2021000000000001",
                        "name": "Burger Order",
                        "description": "Order burgers ahead.",
                        "category": "business",
                        "capabilities": ["payment", "card"],
                        "icon_url": None,
                    }
                ],
            },
            response_only=True,
        ),
        OpenApiExample(
            "Not whitelisted", value={"whitelisted": False, "miniprograms": []}, response_only=True
        ),
    ],
)
