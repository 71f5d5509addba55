"""What the whitelist API's schemas share: tags, the application's id, evidence and problem examples."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter

from portal.errors import PROBLEM_CONTENT_TYPE

APPLICATIONS = ["applications"]


WHITELIST = ["whitelist"]


APPLICATION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The application's id.")


EVIDENCE_VALUE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Our own team builds and runs the ordering mini program.",
}


EVALUATION_VALUE = {
    "recommendation": "eligible",
    "policy_version": 1,
    "trigger": "submission",
    "results": [
        {
            "criterion": "verified_account",
            "outcome": "pass",
            "reason": "The account is verified by platform staff.",
        },
        {
            "criterion": "audience",
            "outcome": "pass",
            "reason": "250000 followers; the policy asks for 100000.",
        },
    ],
    "facts": {
        "account_verified": True,
        "vertical_code": "food_beverage",
        "vertical_name": "Food and beverage",
        "followers_count": 250000,
        **{
            name: EVIDENCE_VALUE[name]
            for name in ("has_in_house_team", "dev_team_size", "self_developed_products", "services")
        },
        "support_channels": EVIDENCE_VALUE["support_channels"],
        "attachment_count": 0,
        "last_revoked_at": None,
        "now": "2026-03-02T09:30:00Z",
    },
    "created_at": "2026-03-02T09:30:00Z",
}


def application_value(state: str, **changes: Any) -> dict[str, Any]:
    value = {
        "id": 42,
        "account": 7,
        "organization": 3,
        "state": state,
        **EVIDENCE_VALUE,
        "submitted_at": None,
        "decided_at": None,
        "created_at": "2026-03-01T08:00:00Z",
        "updated_at": "2026-03-01T08:00:00Z",
        "evaluation": None,
    }
    if state != "draft":
        value.update(submitted_at="2026-03-02T09:30:00Z", evaluation=EVALUATION_VALUE)
    value.update(changes)
    return value


def problem_example(status_code: int, title: str, detail: str, code: str) -> OpenApiExample:
    return OpenApiExample(
        detail,
        value={"type": f"urn:portal:problem:{code}", "title": title, "status": status_code, "detail": detail},
        response_only=True,
        status_codes=[str(status_code)],
        media_type=PROBLEM_CONTENT_TYPE,
    )


def conflict_example(detail: str) -> OpenApiExample:
    return problem_example(409, "Conflict", detail, "invalid-transition")
