"""REST API of an application's documents: list, upload, download, removal."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import authenticated_user

from .. import services
from ..api_schema.attachments import attachment_detail_schema, attachment_list_schema
from ..models import ApplicationAttachment
from ..serializers import AttachmentInputSerializer, AttachmentOutputSerializer
from .applications import application_visible_or_404


@attachment_list_schema
class AttachmentListApi(ListAPIView[ApplicationAttachment]):
    """Evidence documents of an application, oldest first; not paginated (at most 10)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]
    queryset = ApplicationAttachment.objects.none()  # the model, for the schema; get_queryset scopes the rows
    serializer_class = AttachmentOutputSerializer
    pagination_class = None
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ApplicationAttachment]:
        return application_visible_or_404(self.request, self.kwargs["pk"]).attachments.all()

    def post(self, request: Request, pk: int) -> Response:
        """A PDF, PNG or JPEG of at most 10 MB, typed by its content, to a draft or an application under
        change request; at most 10 per application. Owners and admins only."""
        application = application_visible_or_404(request, pk)
        serializer = AttachmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.application_attachment_add(
            actor=authenticated_user(request),
            application=application,
            uploaded=serializer.validated_data["file"],
        )
        return Response(AttachmentOutputSerializer(attachment).data, status=status.HTTP_201_CREATED)


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Ignores Accept: a download answers with the file's own type, an error with problem JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


@attachment_detail_schema
class AttachmentDetailApi(APIView):
    """Download (members of the organization and staff only) or remove a document."""

    permission_classes = [IsAuthenticated]
    content_negotiation_class = FirstRendererNegotiation

    def _attachment(self, request: Request, pk: int, attachment_id: int) -> ApplicationAttachment:
        return get_object_or_404(application_visible_or_404(request, pk).attachments.all(), pk=attachment_id)

    def get(self, request: Request, pk: int, attachment_id: int) -> FileResponse:
        """The file as stored, with its checked content type, as an attachment to save."""
        attachment = self._attachment(request, pk, attachment_id)
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    def delete(self, request: Request, pk: int, attachment_id: int) -> Response:
        """Owners and admins, while the application can change."""
        attachment = self._attachment(request, pk, attachment_id)
        services.application_attachment_remove(actor=authenticated_user(request), attachment=attachment)
        return Response(status=status.HTTP_204_NO_CONTENT)
