"""OpenAPI of an application's documents: the list, the upload, the download and the removal."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from portal.errors import PROBLEM_CONTENT_TYPE
from portal.openapi import problems

from ..models import AttachmentContentType
from ..serializers import AttachmentInputSerializer, AttachmentOutputSerializer
from .common import APPLICATION_ID, APPLICATIONS, conflict_example

ATTACHMENT_ID = OpenApiParameter(
    "attachment_id", int, OpenApiParameter.PATH, description="The document's id within the application."
)


ATTACHMENT_RESPONSE = OpenApiExample(
    "A licence scan",
    value={
        "id": 5,
        "original_name": "licence.pdf",
        "content_type": "application/pdf",
        "size": 183204,
        "created_at": "2026-03-01T08:05:00Z",
        "download_url": "/api/v1/applications/42/attachments/5/",
    },
    response_only=True,
)


DOWNLOAD_HEADERS = [
    OpenApiParameter(
        "Content-Disposition",
        str,
        OpenApiParameter.HEADER,
        response=[200],
        description='`attachment; filename="<original name>"`.',
    ),
    OpenApiParameter(
        "X-Content-Type-Options", str, OpenApiParameter.HEADER, response=[200], description="`nosniff`."
    ),
    OpenApiParameter(
        "Cache-Control", str, OpenApiParameter.HEADER, response=[200], description="`private, no-store`."
    ),
]


def _download_response(label: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.BINARY, description=f"The document's bytes ({label}).")


attachment_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List an application's documents",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        examples=[ATTACHMENT_RESPONSE],
    ),
    post=extend_schema(
        summary="Upload a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID],
        request={"multipart/form-data": AttachmentInputSerializer},
        responses={201: AttachmentOutputSerializer, **problems(409, 413, 415)},
        examples=[
            OpenApiExample(
                "A PDF", value={"file": "licence.pdf"}, request_only=True, media_type="multipart/form-data"
            ),
            OpenApiExample(
                "Stored", value=ATTACHMENT_RESPONSE.value, response_only=True, status_codes=["201"]
            ),
            conflict_example("Cannot add documents to an application that is Submitted."),
        ],
    ),
)


attachment_detail_schema = extend_schema_view(
    get=extend_schema(
        summary="Download a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID, ATTACHMENT_ID, *DOWNLOAD_HEADERS],
        responses={
            (200, AttachmentContentType.PDF.value): _download_response("PDF"),
            (200, AttachmentContentType.PNG.value): _download_response("PNG"),
            (200, AttachmentContentType.JPEG.value): _download_response("JPEG"),
        },
        examples=[
            OpenApiExample(
                "A PDF",
                value="%PDF-1.7 ...",
                response_only=True,
                media_type=AttachmentContentType.PDF.value,
            ),
            OpenApiExample(
                "Not visible to the caller",
                value={"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not found."},
                response_only=True,
                status_codes=["404"],
                media_type=PROBLEM_CONTENT_TYPE,
            ),
        ],
    ),
    delete=extend_schema(
        summary="Remove a document",
        tags=APPLICATIONS,
        parameters=[APPLICATION_ID, ATTACHMENT_ID],
        responses={204: None, **problems(409)},
        examples=[conflict_example("Cannot remove documents from an application that is Submitted.")],
    ),
)
