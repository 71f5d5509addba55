"""OpenAPI of the application endpoints: the list, the evidence, transitions, decisions, events."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from portal.errors import PROBLEM_CONTENT_TYPE
from portal.openapi import problems

from ..serializers import (
    ApplicationInputSerializer,
    ApplicationOutputSerializer,
    ApplicationUpdateSerializer,
    ApproveInputSerializer,
    EvaluationOutputSerializer,
    RejectInputSerializer,
    RequestChangesInputSerializer,
)
from .common import (
    APPLICATION_ID,
    APPLICATIONS,
    EVALUATION_VALUE,
    EVIDENCE_VALUE,
    application_value,
    conflict_example,
    problem_example,
)

APPLICATION_RESPONSE = OpenApiExample(
    "A submitted application", value=application_value("submitted"), response_only=True
)


EVENT_RESPONSE = OpenApiExample(
    "A rejection",
    value={
        "id": 118,
        "actor": "Platform staff",
        "from_state": "submitted",
        "to_state": "rejected",
        "reason_code": "no_independent_development",
        "message": "We could not confirm the team.",
        "visible_to_applicant": True,
        "created_at": "2026-03-04T10:15:00Z",
    },
    response_only=True,
)


def _applicant_transition_schema(summary: str, to_state: str, conflict: str) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=APPLICATIONS,
            parameters=[APPLICATION_ID],
            request=None,
            responses={200: ApplicationOutputSerializer, **problems(409)},
            examples=[
                OpenApiExample(f"Now {to_state}", value=application_value(to_state), response_only=True),
                conflict_example(conflict),
            ],
        )
    )


def _decision_schema(
    summary: str,
    request: type[Any],
    request_example: OpenApiExample,
    response_example: OpenApiExample,
    conflict: str,
) -> Callable[[Any], Any]:
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            tags=APPLICATIONS,
            parameters=[APPLICATION_ID],
            request=request,
            responses={200: ApplicationOutputSerializer, **problems(409, 415)},
            examples=[
                request_example,
                response_example,
                conflict_example(conflict),
            ],
        )
    )


CRITERIA_NOT_MET_EXAMPLE = OpenApiExample(
    "A required criterion fails now",
    value={
        "type": "urn:portal:problem:criteria-not-met",
        "title": "Conflict",
        "status": 409,
        "detail": "The required criteria are not met: Verified account.",
        "errors": {
            "verified_account": ["The account is not verified yet; platform staff must verify it first."]
        },
    },
    response_only=True,
    status_codes=["409"],
    media_type=PROBLEM_CONTENT_TYPE,
)


application_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List applications",
        tags=APPLICATIONS,
        examples=[APPLICATION_RESPONSE],
    ),
    post=extend_schema(
        summary="Start an application",
        tags=APPLICATIONS,
        request=ApplicationInputSerializer,
        responses={201: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample(
                "Evidence for an account", value={"account": 7, **EVIDENCE_VALUE}, request_only=True
            ),
            OpenApiExample(
                "The new draft", value=application_value("draft"), response_only=True, status_codes=["201"]
            ),
            problem_example(
                409,
                "Conflict",
                "This account already has an open application (#41, submitted).",
                "conflict",
            ),
        ],
    ),
)


application_detail_schema = extend_schema_view(
    get=extend_schema(
        summary="Read an application",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        responses={200: ApplicationOutputSerializer},
        examples=[APPLICATION_RESPONSE],
    ),
    patch=extend_schema(
        summary="Edit an application's evidence",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample("A bigger team", value={"dev_team_size": 12}, request_only=True),
            OpenApiExample(
                "The edited draft", value=application_value("draft", dev_team_size=12), response_only=True
            ),
            conflict_example("Cannot edit an application that is Submitted."),
        ],
    ),
)


application_submit_schema = _applicant_transition_schema(
    "Submit a draft for review", "submitted", "Cannot submit an application that is Submitted."
)


application_withdraw_schema = _applicant_transition_schema(
    "Withdraw an application", "withdrawn", "Cannot withdraw an application that is Approved."
)


application_resubmit_schema = _applicant_transition_schema(
    "Resubmit after changes", "submitted", "Cannot resubmit an application that is Draft."
)


application_approve_schema = extend_schema_view(
    post=extend_schema(
        summary="Approve an application",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=ApproveInputSerializer,
        responses={200: ApplicationOutputSerializer, **problems(409, 415)},
        examples=[
            OpenApiExample("A welcome", value={"message": "Welcome to the programme."}, request_only=True),
            OpenApiExample(
                "An override",
                value={"override": True, "message": "Verification is pending with the directory."},
                request_only=True,
            ),
            OpenApiExample(
                "Approved",
                value=application_value("approved", decided_at="2026-03-04T10:15:00Z"),
                response_only=True,
            ),
            conflict_example("Cannot approve an application that is Withdrawn."),
            CRITERIA_NOT_MET_EXAMPLE,
        ],
    )
)


application_reject_schema = _decision_schema(
    "Reject an application",
    RejectInputSerializer,
    OpenApiExample(
        "A reason code and a message",
        value={"reason_code": "no_independent_development", "message": "We could not confirm the team."},
        request_only=True,
    ),
    OpenApiExample(
        "Rejected",
        value=application_value("rejected", decided_at="2026-03-04T10:15:00Z"),
        response_only=True,
    ),
    "Cannot reject an application that is Approved.",
)


application_request_changes_schema = _decision_schema(
    "Request changes to an application",
    RequestChangesInputSerializer,
    OpenApiExample(
        "What to change",
        value={"message": "Add the team's employment contracts.", "reason_code": "evidence_insufficient"},
        request_only=True,
    ),
    OpenApiExample("Changes requested", value=application_value("changes_requested"), response_only=True),
    "Cannot request changes on an application that is Draft.",
)


application_events_schema = extend_schema_view(
    get=extend_schema(
        summary="List an application's events",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        examples=[EVENT_RESPONSE],
    )
)


application_evaluate_schema = extend_schema_view(
    post=extend_schema(
        summary="Evaluate an application now",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request=None,
        responses={200: EvaluationOutputSerializer, **problems(409)},
        examples=[
            OpenApiExample("Eligible", value=EVALUATION_VALUE, response_only=True),
            conflict_example(
                "This application is submitted; eligibility is checked while it can still be edited."
            ),
        ],
    )
)
