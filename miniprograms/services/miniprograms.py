"""Writes of the mini program itself: register, edit, set its icon, delist."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import ensure_can_manage_organization
from accounts.profile_cache import profile_forget_accounts
from portal.errors import InvalidInput
from portal.models import model_update, save_checked, update_fields_of
from portal.uploads import upload_check
from whitelist.models import AttachmentContentType

from ..models import (
    OPEN_LINK_STATES,
    Capability,
    MiniProgram,
    MiniProgramState,
    ProfileLink,
    ProfileLinkEvent,
    ProfileLinkState,
    icon_path,
)
from ..permissions import ensure_can_manage_miniprogram
from .link_history import link_webhooks_emit
from .preconditions import ensure_miniprogram_active

MINIPROGRAM_EDITABLE_FIELDS = ("name", "description", "category", "capabilities")
ICON_MAX_BYTES = 512 * 1024
ICON_CONTENT_TYPES = (AttachmentContentType.PNG, AttachmentContentType.JPEG)


def _duplicate_app_id_error() -> InvalidInput:
    return InvalidInput({"app_id": [_("A mini program with this app id is already registered.")]})


def _clean_capabilities(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput({"capabilities": [_("Give a list of capabilities.")]})
    unknown = sorted(set(value) - set(Capability.values))
    if unknown:
        raise InvalidInput(
            {"capabilities": [_("Unknown capabilities: %(names)s.") % {"names": ", ".join(unknown)}]}
        )
    if len(set(value)) != len(value):
        raise InvalidInput({"capabilities": [_("Each capability may be given only once.")]})
    return list(value)


def _save_miniprogram(miniprogram: MiniProgram, *, update_fields: list[str] | None = None) -> None:
    miniprogram.capabilities = _clean_capabilities(miniprogram.capabilities)
    save_checked(
        miniprogram,
        unique={"app_id": miniprogram.app_id},
        duplicate=_duplicate_app_id_error,
        update_fields=update_fields,
        clean_exclude=["icon"],
    )


@transaction.atomic
def miniprogram_create(
    *,
    actor: User,
    organization: Organization,
    app_id: str,
    name: str,
    category: str,
    description: str = "",
    capabilities: Sequence[str] = (),
) -> MiniProgram:
    """Register an organization's mini program; the owners and admins of the organization (or staff) may."""
    ensure_can_manage_organization(user=actor, organization=organization)
    miniprogram = MiniProgram(
        organization=organization,
        app_id=app_id,
        name=name,
        description=description,
        category=category,
        capabilities=list(capabilities),
        state=MiniProgramState.ACTIVE,
        created_by=actor,
    )
    _save_miniprogram(miniprogram)
    return miniprogram


@transaction.atomic
def miniprogram_update(*, actor: User, miniprogram: MiniProgram, data: Mapping[str, Any]) -> MiniProgram:
    """Edit the name, description, category or capabilities; the app id is the mini program's identity."""
    ensure_can_manage_miniprogram(user=actor, miniprogram=miniprogram)
    unknown = set(data) - set(MINIPROGRAM_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    ensure_miniprogram_active(miniprogram, _("change"))
    changed = model_update(instance=miniprogram, data=data, save=False)
    if not changed:
        return miniprogram
    _save_miniprogram(miniprogram, update_fields=update_fields_of(miniprogram, changed))
    _forget_profiles_showing(miniprogram)
    return miniprogram


def _forget_profiles_showing(miniprogram: MiniProgram) -> None:
    profile_forget_accounts(
        ProfileLink.objects.filter(miniprogram=miniprogram, state__in=OPEN_LINK_STATES).values_list(
            "account_id", flat=True
        )
    )


def miniprogram_set_icon(*, actor: User, miniprogram: MiniProgram, uploaded: UploadedFile) -> MiniProgram:
    """Replace the icon with a PNG or JPEG (checked by content) of at most 512 KB.

    The file is written before the mini program's row is locked (no I/O under a lock), and removed
    again if the row cannot take it.
    """
    ensure_can_manage_miniprogram(user=actor, miniprogram=miniprogram)
    ensure_miniprogram_active(miniprogram, _("change"))
    if not uploaded.size:
        raise InvalidInput({"icon": [_("The file is empty.")]})
    if uploaded.size > ICON_MAX_BYTES:
        raise InvalidInput({"icon": [_("The icon is larger than 512 KB.")]})
    try:
        checked = upload_check(
            uploaded=uploaded,
            field="icon",
            allowed=ICON_CONTENT_TYPES,
            refused=_("Only PNG and JPEG icons are accepted (checked by content)."),
        )
    except ValidationError as exc:
        raise InvalidInput.from_django(exc) from exc
    storage = miniprogram.icon.storage
    # Written before any row is locked (no file I/O under a lock), under the extension of its real type:
    # /media/ serves the content type from it.
    stored = storage.save(icon_path(miniprogram, f"icon{checked.extension}"), uploaded)
    try:
        with transaction.atomic():
            miniprogram = MiniProgram.objects.select_for_update(of=("self",)).get(pk=miniprogram.pk)
            ensure_miniprogram_active(miniprogram, _("change"))
            previous = miniprogram.icon.name
            miniprogram.icon.name = stored
            miniprogram.save(update_fields=["icon", "updated_at"])
            _forget_profiles_showing(miniprogram)
            if previous:
                # The old file goes only once the new name is committed, so a rollback keeps a working icon.
                transaction.on_commit(lambda: storage.delete(previous))
    except BaseException:
        storage.delete(stored)
        raise
    return miniprogram


@transaction.atomic
def miniprogram_delist(*, actor: User, miniprogram: MiniProgram, reason: str = "") -> MiniProgram:
    """Take a mini program out of the programme; its live and pending links are unlinked with it."""
    ensure_can_manage_miniprogram(user=actor, miniprogram=miniprogram)
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    ensure_miniprogram_active(miniprogram, _("delist"))
    _forget_profiles_showing(miniprogram)
    miniprogram.state = MiniProgramState.DELISTED
    miniprogram.save(update_fields=["state", "updated_at"])
    reason = (reason or "").strip() or _("The mini program was delisted.")
    open_links = list(
        ProfileLink.objects.select_for_update()
        .filter(miniprogram=miniprogram, state__in=OPEN_LINK_STATES)
        .values_list("pk", "state")
    )
    if open_links:
        ProfileLink.objects.filter(pk__in=[pk for pk, _state in open_links]).update(
            state=ProfileLinkState.UNLINKED, updated_at=timezone.now()
        )
        ProfileLinkEvent.objects.bulk_create(
            ProfileLinkEvent(
                link_id=pk, actor=actor, from_state=state, to_state=ProfileLinkState.UNLINKED, reason=reason
            )
            for pk, state in open_links
        )
        unlinked = [(pk, state, ProfileLinkState.UNLINKED) for pk, state in open_links]
        link_webhooks_emit(unlinked, reason=reason)
    return miniprogram
