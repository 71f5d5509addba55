"""OpenAPI documentation of the accounts API: the `extend_schema` decorators and their examples."""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.authtoken.serializers import AuthTokenSerializer

from portal.errors import PROBLEM_CONTENT_TYPE
from portal.openapi import problem, problems

from .serializers import (
    BulkUpsertInputSerializer,
    BulkUpsertOutputSerializer,
    OfficialAccountInputSerializer,
    OfficialAccountOutputSerializer,
    RegisterInputSerializer,
    RegisterOutputSerializer,
    TokenOutputSerializer,
    VerificationRequestInputSerializer,
    VerificationRequestOutputSerializer,
)

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

# Statuses of every operation that reads a body: too large, or not JSON.
BODY_PROBLEMS = problems(413, 415)

ACCOUNT_EXAMPLE = {
    "id": 42,
    "organization": 7,
    "platform": "weibo",
    "platform_uid": "3000000001",
    "screen_name": "Alice Foods Official",
    "kind": "enterprise",
    "vertical": "food_beverage",
    "followers_count": 250000,
    "verification_status": "unverified",
    "verified_at": None,
    "created_at": "2025-03-01T08:00:00Z",
    "updated_at": "2025-03-01T08:00:00Z",
}
ACCOUNT_INPUT_EXAMPLE = {
    key: ACCOUNT_EXAMPLE[key]
    for key in ("platform", "platform_uid", "screen_name", "kind", "vertical", "followers_count")
}


def _account_response_example(summary: str = "The account", **changes: object) -> OpenApiExample:
    return OpenApiExample(summary, value={**ACCOUNT_EXAMPLE, **changes}, response_only=True)


register_schema = extend_schema(
    summary="Sign up",
    tags=["accounts"],
    auth=[],
    request=RegisterInputSerializer,
    responses={201: RegisterOutputSerializer, **BODY_PROBLEMS},
    examples=[
        OpenApiExample(
            "A merchant signs up",
            value={
                "username": "carol",
                "email": "carol@example.com",
                "password": "a-long-and-unusual-passphrase",
                "organization_name": "Carol Media",
                "organization_kind": "media",
            },
            request_only=True,
        ),
        OpenApiExample(
            "Signed up",
            value={
                "user": {"id": 12, "username": "carol"},
                "organization": {"id": 7, "name": "Carol Media", "kind": "media"},
            },
            response_only=True,
            status_codes=["201"],
        ),
    ],
)

token_schema = extend_schema_view(
    post=extend_schema(
        summary="Get a user's token",
        tags=["accounts"],
        auth=[],
        request=AuthTokenSerializer,
        responses={
            200: TokenOutputSerializer,
            **BODY_PROBLEMS,
            (429, PROBLEM_CONTENT_TYPE): problem(
                429,
                "Too many requests (see `Retry-After` and the `RateLimit` fields), or log-in refused "
                "(type `urn:portal:problem:login-locked-out`) after repeated failures: for the username "
                "from this address, from this address over any usernames, or (a short, growing wait) for "
                "the username from an address that failed for it.",
            ),
        },
        examples=[
            OpenApiExample(
                "Credentials",
                value={"username": "carol", "password": "a-long-and-unusual-passphrase"},
                request_only=True,
            ),
            OpenApiExample(
                "The token",
                value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
                response_only=True,
            ),
        ],
    )
)

vertical_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List the verticals",
        tags=["accounts"],
        examples=[
            OpenApiExample(
                "A vertical",
                value={"code": "commerce", "name": "Commerce", "description": "Shops and marketplaces."},
                response_only=True,
            )
        ],
    )
)


def official_account_list_schema(view: ViewT) -> ViewT:
    """The list and the registration of official accounts."""
    documented = extend_schema_view(
        get=extend_schema(
            summary="List official accounts",
            examples=[_account_response_example("An account")],
        ),
        post=extend_schema(
            summary="Register an official account",
            request=OfficialAccountInputSerializer,
            responses={201: OfficialAccountOutputSerializer, **BODY_PROBLEMS},
            examples=[
                OpenApiExample("A new account", value=ACCOUNT_INPUT_EXAMPLE, request_only=True),
                _account_response_example("Registered"),
            ],
        ),
    )
    return documented(extend_schema(tags=["accounts"])(view))


def official_account_detail_schema(view: ViewT) -> ViewT:
    """Reading and editing one official account."""
    documented = extend_schema_view(
        get=extend_schema(
            summary="Get an official account",
            responses={200: OfficialAccountOutputSerializer},
            examples=[_account_response_example()],
        ),
        patch=extend_schema(
            summary="Edit an official account",
            request=OfficialAccountInputSerializer,
            responses={200: OfficialAccountOutputSerializer, **BODY_PROBLEMS},
            examples=[
                OpenApiExample("A new screen name", value={"screen_name": "Alice Foods"}, request_only=True),
                _account_response_example("Edited", screen_name="Alice Foods"),
            ],
        ),
    )
    return documented(extend_schema(tags=["accounts"])(view))


official_account_verify_schema = extend_schema(
    summary="Verify an official account",
    tags=["accounts"],
    request=None,
    responses={200: OfficialAccountOutputSerializer},
    examples=[
        _account_response_example(
            "Verified", verification_status="verified", verified_at="2025-03-02T09:30:00Z"
        )
    ],
)

official_account_request_verification_schema = extend_schema(
    summary="Ask staff to verify an official account",
    tags=["accounts"],
    request=VerificationRequestInputSerializer,
    responses={
        200: VerificationRequestOutputSerializer,
        (409, PROBLEM_CONTENT_TYPE): problem(409, "The account is verified already (`already-verified`)."),
        **BODY_PROBLEMS,
    },
    examples=[
        OpenApiExample(
            "With a note",
            value={"note": "The business licence is on file with the platform's Hangzhou office."},
            request_only=True,
        ),
        OpenApiExample("Pending", value={"verification_status": "pending"}, response_only=True),
    ],
)

account_bulk_upsert_schema = extend_schema(
    summary="Create or update accounts in bulk",
    tags=["directory"],
    request=BulkUpsertInputSerializer,
    responses={200: BulkUpsertOutputSerializer, **BODY_PROBLEMS},
    examples=[
        OpenApiExample(
            "Two rows",
            value={
                "accounts": [
                    {
                        "platform_uid": "3000000001",
                        "screen_name": "Alice Foods Official",
                        "kind": "enterprise",
                        "vertical": "food_beverage",
                        "followers_count": 250000,
                        "organization_name": "Alice Foods Co",
                        "organization_kind": "enterprise",
                    },
                    {"platform_uid": "3000000002", "screen_name": "No vertical", "kind": "media"},
                ]
            },
            request_only=True,
        ),
        OpenApiExample(
            "One created, one rejected",
            value={
                "created": 1,
                "updated": 0,
                "rejected": 1,
                "results": [
                    {
                        "index": 0,
                        "platform": "weibo",
                        "platform_uid": "3000000001",
                        "outcome": "created",
                        "account": 42,
                        "errors": {},
                    },
                    {
                        "index": 1,
                        "platform": "weibo",
                        "platform_uid": "3000000002",
                        "outcome": "rejected",
                        "account": None,
                        "errors": {
                            "vertical": ["This field is required."],
                            "followers_count": ["This field is required."],
                        },
                    },
                ],
            },
            response_only=True,
        ),
    ],
)
