"""Writes to official accounts: registration, edits, verification decisions, and directory conflicts."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import Conflict, InvalidInput
from portal.models import model_update, save_checked, update_fields_of

from ..hooks import account_dependents
from ..models import (
    DirectoryConflict,
    DirectoryConflictState,
    OfficialAccount,
    Organization,
    User,
    VerificationStatus,
    Vertical,
)
from ..permissions import ensure_can_manage_organization, ensure_staff
from ..profile_cache import profile_forget_changed_accounts
from .common import refuse_fields_not_editable

# Changing one of these changes who the account is, so staff must verify it again.
ACCOUNT_IDENTITY_FIELDS = ("platform", "platform_uid", "kind")
# A merchant's change of these sends a verified account back to unverified: staff and the directory vouch
# for them, and the whitelist criteria read them.
ACCOUNT_VERIFIED_FIELDS = (*ACCOUNT_IDENTITY_FIELDS, "vertical", "followers_count")
ACCOUNT_EDITABLE_FIELDS = ("platform", "platform_uid", "screen_name", "kind", "vertical", "followers_count")
# Staff may also move an account to another organization.
ACCOUNT_STAFF_EDITABLE_FIELDS = (*ACCOUNT_EDITABLE_FIELDS, "organization")
# A move or one of these changes is refused while anything hangs on the account (see accounts.hooks):
# the applications, the entry and the links were granted to this owner and this uid.
ACCOUNT_ANCHOR_FIELDS = ("organization", "platform", "platform_uid")


def _duplicate_uid_error() -> InvalidInput:
    return InvalidInput(
        {"platform_uid": [_("An official account with this platform uid is already registered.")]}
    )


def _save_account(account: OfficialAccount, *, update_fields: list[str] | None = None) -> None:
    # A request that registered the same uid between the check and the insert gets the same error.
    save_checked(
        account,
        unique={"platform": account.platform, "platform_uid": account.platform_uid},
        duplicate=_duplicate_uid_error,
        update_fields=update_fields,
    )


@transaction.atomic
def official_account_create(
    *,
    actor: User,
    organization: Organization,
    platform_uid: str,
    screen_name: str,
    kind: str,
    vertical: Vertical,
    followers_count: int = 0,
    platform: str = OfficialAccount._meta.get_field("platform").default,
) -> OfficialAccount:
    """Register an official account for an organization; it starts unverified."""
    ensure_can_manage_organization(user=actor, organization=organization)
    account = OfficialAccount(
        organization=organization,
        platform=platform,
        platform_uid=platform_uid,
        screen_name=screen_name,
        kind=kind,
        vertical=vertical,
        followers_count=followers_count,
        verification_status=VerificationStatus.UNVERIFIED,
    )
    _save_account(account)
    return account


def official_account_anchor_errors(
    *, account: OfficialAccount, changed: Iterable[str]
) -> dict[str, list[str]]:
    """Why a move or an identity change of the account is refused now, by field; empty when it may go."""
    fields = [field for field in ACCOUNT_ANCHOR_FIELDS if field in changed]
    if not fields:
        return {}
    dependents = account_dependents(account)
    if not dependents:
        return {}
    message = _(
        "This cannot change while the account has %(dependents)s: end them first, then change it."
    ) % {"dependents": ", ".join(dependents)}
    return {field: [message] for field in fields}


@transaction.atomic
def official_account_update(
    *, actor: User, account: OfficialAccount, data: Mapping[str, Any]
) -> OfficialAccount:
    """Edit an account; a merchant's change of its identity, vertical or followers sends it back to
    unverified.

    Staff may also move it to another organization. A move or a change of platform or uid is refused
    while an application, a whitelist entry or a profile link hangs on the account.
    """
    ensure_can_manage_organization(user=actor, organization=account.organization)
    refuse_fields_not_editable(
        data, ACCOUNT_STAFF_EDITABLE_FIELDS if actor.is_staff else ACCOUNT_EDITABLE_FIELDS
    )
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    changed = [field for field, value in data.items() if getattr(account, field) != value]
    if not changed:
        return account
    anchor_errors = official_account_anchor_errors(account=account, changed=changed)
    if anchor_errors:
        raise InvalidInput(anchor_errors)
    previous_identity = (account.platform, account.platform_uid)
    model_update(instance=account, data=data, fields=changed, save=False)
    if (
        any(field in ACCOUNT_VERIFIED_FIELDS for field in changed)
        and not actor.is_staff
        and account.verification_status != VerificationStatus.UNVERIFIED
    ):
        changed += model_update(
            instance=account,
            data={"verification_status": VerificationStatus.UNVERIFIED, "verified_at": None},
            save=False,
        )
    _save_account(account, update_fields=update_fields_of(account, changed))
    # The cached profile is keyed by platform and uid: forget it under the old identity too.
    profile_forget_changed_accounts([account.pk], [previous_identity])
    return account


VERIFICATION_NOTE_MAX_LENGTH = 2000


@transaction.atomic
def official_account_request_verification(
    *, actor: User, account: OfficialAccount, note: str = ""
) -> OfficialAccount:
    """The organization asks staff to verify its account: first time, or again after a rejection.

    A repeated request while one is pending changes nothing; a verified account has nothing to ask.
    Staff answer in the admin (verify, or reject with a reason), and the organization is emailed.
    """
    ensure_can_manage_organization(user=actor, organization=account.organization)
    note = (note or "").strip()
    if len(note) > VERIFICATION_NOTE_MAX_LENGTH:
        raise InvalidInput(
            {"note": [_("At most %(count)d characters.") % {"count": VERIFICATION_NOTE_MAX_LENGTH}]}
        )
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    if account.verification_status == VerificationStatus.VERIFIED:
        raise Conflict(
            _("%(name)s is verified already.") % {"name": account.screen_name}, code="already-verified"
        )
    if account.verification_status == VerificationStatus.PENDING:
        return account
    account.verification_status = VerificationStatus.PENDING
    account.verification_requested_at = timezone.now()
    account.verification_request_note = note
    account.save(
        update_fields=[
            "verification_status",
            "verification_requested_at",
            "verification_request_note",
            "updated_at",
        ]
    )
    return account


def _verification_decision_notify(account_ids: Iterable[int], status: str) -> None:
    from ..tasks import send_verification_email

    def queue(account_id: int) -> Callable[[], None]:
        def send() -> None:
            send_verification_email.delay(account_id=account_id, status=status)

        return send

    for account_id in account_ids:
        # robust: the decision is committed; an unreachable broker must not turn it into an error.
        transaction.on_commit(queue(account_id), robust=True)


@transaction.atomic
def official_account_set_verification(
    *, actor: User, account: OfficialAccount, status: str, reason: str = ""
) -> OfficialAccount:
    """Staff mark an account verified, rejected (with a reason) or unverified.

    The organization's owners and admins are emailed a verification or a rejection, with the reason.
    """
    ensure_staff(user=actor)
    if status not in VerificationStatus.values:
        raise InvalidInput({"verification_status": [_("Unknown verification status.")]})
    reason = reason.strip()
    if status == VerificationStatus.REJECTED and not reason:
        raise InvalidInput({"reason": [_("Give the reason for the rejection; the merchant reads it.")]})
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    if account.verification_status == status and account.verification_reason == reason:
        return account
    status_changed = account.verification_status != status
    account.verification_status = status
    if status_changed:
        account.verified_at = timezone.now() if status == VerificationStatus.VERIFIED else None
    account.verification_reason = reason
    account.save(update_fields=["verification_status", "verified_at", "verification_reason", "updated_at"])
    if status_changed and status in (VerificationStatus.VERIFIED, VerificationStatus.REJECTED):
        _verification_decision_notify([account.pk], status)
    return account


def official_account_verify(*, actor: User, account: OfficialAccount, reason: str = "") -> OfficialAccount:
    return official_account_set_verification(
        actor=actor, account=account, status=VerificationStatus.VERIFIED, reason=reason
    )


def official_account_reject(*, actor: User, account: OfficialAccount, reason: str) -> OfficialAccount:
    return official_account_set_verification(
        actor=actor, account=account, status=VerificationStatus.REJECTED, reason=reason
    )


@transaction.atomic
def official_accounts_mark_verified(*, actor: User, accounts: Iterable[OfficialAccount]) -> int:
    """Staff bulk action: verify every account given that is not verified yet; returns how many."""
    ensure_staff(user=actor)
    ids = [account.pk for account in accounts]
    changing = list(
        OfficialAccount.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .exclude(verification_status=VerificationStatus.VERIFIED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    count = OfficialAccount.objects.filter(pk__in=changing).update(
        verification_status=VerificationStatus.VERIFIED,
        verified_at=now,
        verification_reason="",
        updated_at=now,
    )
    _verification_decision_notify(changing, VerificationStatus.VERIFIED)
    return count


@transaction.atomic
def official_accounts_mark_rejected(*, actor: User, accounts: Iterable[OfficialAccount], reason: str) -> int:
    """Staff bulk action: reject every account given with one reason; returns how many changed."""
    ensure_staff(user=actor)
    count = 0
    for account in sorted(accounts, key=lambda account: account.pk):
        before = account.verification_status
        account = official_account_reject(actor=actor, account=account, reason=reason)
        count += before != account.verification_status
    return count


@transaction.atomic
def directory_conflict_resolve(
    *, actor: User, conflict: DirectoryConflict, resolution: str = ""
) -> DirectoryConflict:
    """Staff close a directory conflict, once they settled who owns the account."""
    ensure_staff(user=actor)
    conflict = DirectoryConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.state == DirectoryConflictState.RESOLVED:
        return conflict
    conflict.state = DirectoryConflictState.RESOLVED
    conflict.resolved_at = timezone.now()
    conflict.resolved_by = actor
    conflict.resolution = resolution.strip()
    conflict.save(update_fields=["state", "resolved_at", "resolved_by", "resolution"])
    return conflict
