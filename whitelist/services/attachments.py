"""An application's evidence documents: adding one (checked by content) and removing one."""

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from portal.errors import InvalidInput
from portal.uploads import upload_check

from ..models import (
    EDITABLE_APPLICATION_STATES,
    ApplicationAttachment,
    AttachmentContentType,
    WhitelistApplication,
    attachment_path,
)
from ..permissions import ensure_applicant
from .locks import application_locked
from .transitions import transition_refused

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_APPLICATION = 10


def attachment_original_name(name: str) -> str:
    """The name to keep and show: the last part of any path, printable characters only, at most 200
    characters (the end kept, with the extension), or "document" when nothing is left.

    Django's multipart parser cleans names the same way; this holds for every other caller too, so a
    name never carries a NUL (which PostgreSQL refuses) or a line break into a header.
    """
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(character for character in name if character.isprintable()).strip()
    if name in ("", ".", ".."):
        return "document"
    return name[-200:]


def _attachment_room_check(application: WhitelistApplication) -> None:
    if application.state not in EDITABLE_APPLICATION_STATES:
        raise transition_refused(application, _("add documents to"))
    if application.attachments.count() >= ATTACHMENTS_PER_APPLICATION:
        raise InvalidInput(
            {
                "file": [
                    _("At most %(count)d documents per application.") % {"count": ATTACHMENTS_PER_APPLICATION}
                ]
            }
        )


def application_attachment_add(
    *, actor: User, application: WhitelistApplication, uploaded: UploadedFile
) -> ApplicationAttachment:
    """Attach a PDF, PNG or JPEG of at most 10 MB to a draft or an application under change request.

    The file is stored before any row is locked (a slow disk never holds the application's lock); the
    state and the count are checked again under the lock, and a refused file is removed.
    """
    ensure_applicant(user=actor, application_or_account=application)
    application.refresh_from_db(fields=["state"])
    _attachment_room_check(application)
    if uploaded.size is None or uploaded.size == 0:
        raise InvalidInput({"file": [_("The file is empty.")]})
    if uploaded.size > ATTACHMENT_MAX_BYTES:
        raise InvalidInput({"file": [_("The file is larger than 10 MB.")]})
    try:
        checked = upload_check(
            uploaded=uploaded,
            field="file",
            allowed=AttachmentContentType.values,
            refused=_("Only PDF, PNG and JPEG files are accepted (checked by content)."),
        )
    except ValidationError as exc:
        raise InvalidInput.from_django(exc) from exc
    attachment = ApplicationAttachment(
        application=application,
        original_name=attachment_original_name(uploaded.name or ""),
        content_type=checked.content_type,
        size=uploaded.size,
        uploaded_by=actor,
    )
    attachment.file.save(attachment_path(attachment, uploaded.name or ""), uploaded, save=False)
    try:
        with transaction.atomic():
            _attachment_room_check(application_locked(application))
            attachment.save()
    except BaseException:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def application_attachment_remove(*, actor: User, attachment: ApplicationAttachment) -> None:
    application = attachment.application
    ensure_applicant(user=actor, application_or_account=application)
    application = application_locked(application)
    if application.state not in EDITABLE_APPLICATION_STATES:
        raise transition_refused(application, _("remove documents from"))
    stored_name = attachment.file.name
    storage = attachment.file.storage
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(stored_name))
