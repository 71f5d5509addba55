"""An application's evidence documents, stored privately."""

import uuid

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.constraints import choices_constraint

from .applications import WhitelistApplication


def private_storage() -> Storage:
    return storages["private"]


def attachment_path(instance: "ApplicationAttachment", filename: str) -> str:
    # The stored name is random; the applicant's file name is kept in original_name.
    return f"applications/{instance.application_id}/{uuid.uuid4().hex}"


class AttachmentContentType(models.TextChoices):
    PDF = "application/pdf", "PDF"
    PNG = "image/png", "PNG"
    JPEG = "image/jpeg", "JPEG"


class ApplicationAttachment(models.Model):
    """A document of evidence, stored privately and shown only to the organization and staff."""

    application = models.ForeignKey(
        WhitelistApplication, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), storage=private_storage, upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50, choices=AttachmentContentType.choices)
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]
        constraints = [
            choices_constraint("content_type", AttachmentContentType, "whitelist_attachment_type_valid"),
            models.CheckConstraint(
                condition=Q(size__gt=0, size__lte=10 * 1024 * 1024), name="whitelist_attachment_size_range"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
