"""Every write to users, organizations and official accounts."""

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from portal.throttling import COUNTER_FAILURES

from .authentication import token_is_expired
from .hooks import account_dependents
from .models import (
    DirectoryConflict,
    DirectoryConflictState,
    Membership,
    MembershipRole,
    OfficialAccount,
    Organization,
    OrganizationSource,
    User,
    VerificationStatus,
    Vertical,
)
from .permissions import ensure_can_manage_organization, ensure_staff
from .profile_cache import profile_forget_changed_accounts

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


def _duplicate_uid_error() -> ValidationError:
    return ValidationError(
        {"platform_uid": [_("An official account with this platform uid is already registered.")]},
        code="unique",
    )


def supported_language(code: str | None) -> str:
    """The site's language for a code such as "zh-hans", "zh-cn" or "en-us"; the default for any other."""
    try:
        return translation.get_supported_language_variant(code or "")
    except LookupError:
        return settings.LANGUAGE_CODE


@transaction.atomic
def user_register(
    *,
    username: str,
    email: str,
    password: str,
    organization_name: str,
    organization_kind: str,
    language: str | None = None,
) -> tuple[User, Organization]:
    """Sign up: create the user, its organization and the owner membership, then welcome it.

    The language (of the sign-up request) is the user's pages' and emails'; the time zone is the default
    until the user changes it.
    """
    from .tasks import send_welcome_email

    user = User(username=username, email=email, language=supported_language(language))
    organization = Organization(name=organization_name, kind=organization_kind)
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if email and User.objects.filter(email__iexact=email).exists():
        errors.setdefault("email", []).append(_("A user with this email address already exists."))
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    try:
        organization.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(f"organization_{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)

    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # A concurrent sign-up took the username or the email between the checks and the insert.
        if email and User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                {"email": [_("A user with this email address already exists.")]}, code="unique"
            ) from exc
        raise ValidationError(
            {"username": [_("A user with that username already exists.")]}, code="unique"
        ) from exc
    organization.save()
    Membership.objects.create(user=user, organization=organization, role=MembershipRole.OWNER)
    # robust: an unreachable broker is logged and must not turn a committed sign-up into an error.
    transaction.on_commit(lambda: send_welcome_email.delay(user_id=user.pk), robust=True)
    return user, organization


@transaction.atomic
def user_token_obtain(*, user: User) -> Token:
    """The user's API token, issued when there is none; one past its lifetime is replaced by a new one."""
    token, created = Token.objects.select_for_update(of=("self",)).get_or_create(user=user)
    if not created and token_is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate_spent(key: str, rate: str) -> bool:
    """Count one use of key against rate ("3/hour"): whether the window's uses were already spent.

    A fixed window in the "throttle" cache; with Redis unreachable nothing is counted and nothing refused.
    """
    count_text, unit = rate.split("/", 1)
    limit, window = int(count_text), RATE_UNITS[unit.strip()[0]]
    cache = caches["throttle"]
    window_key = f"{key}:{int(time.time() // window)}"
    try:
        cache.add(window_key, 0, window)
        used = cache.incr(window_key)
    except COUNTER_FAILURES:
        return False
    return bool(used > limit)


@transaction.atomic
def password_reset_request(*, email: str, ip_address: str | None) -> None:
    """Queue the password reset email for an address, within the rates per client address and per email.

    The caller answers the same page whatever happens here: the address is looked up by the worker
    (accounts.tasks.send_password_reset_emails) after the response, and a request over a rate queues
    nothing. Both rates count every request, so neither can be probed through the other.
    """
    from .tasks import send_password_reset_emails

    email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    over_address = _rate_spent(f"password-reset:address:{ip_address}", settings.PASSWORD_RESET_ADDRESS_RATE)
    over_email = _rate_spent(f"password-reset:email:{email_digest}", settings.PASSWORD_RESET_EMAIL_RATE)
    if over_address or over_email:
        return
    transaction.on_commit(lambda: send_password_reset_emails.delay(email=email), robust=True)


def user_email_confirm(*, user: User) -> User:
    """Record that the user confirmed its address (the link's token was checked by the caller)."""
    if user.email_confirmed_at is None:
        User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True).update(
            email_confirmed_at=timezone.now()
        )
        user.refresh_from_db(fields=["email_confirmed_at"])
    return user


EMAIL_CONFIRMATION_RESEND_RATE = "3/hour"


@transaction.atomic
def email_confirmation_resend(*, user: User) -> bool:
    """Mail the confirmation link again, at most EMAIL_CONFIRMATION_RESEND_RATE; whether it was queued."""
    from .tasks import send_email_confirmation

    if user.email_confirmed_at is not None or not user.email:
        return False
    if _rate_spent(f"email-confirmation:user:{user.pk}", EMAIL_CONFIRMATION_RESEND_RATE):
        return False
    transaction.on_commit(lambda: send_email_confirmation.delay(user_id=user.pk), robust=True)
    return True


USER_PREFERENCE_FIELDS = ("language", "time_zone")


def user_preferences_update(*, user: User, data: Mapping[str, str]) -> User:
    """Change the language and the time zone of a user's merchant pages and emails."""
    unknown = set(data) - set(USER_PREFERENCE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for field, value in data.items():
        try:
            model_field = cast("models.Field[Any, Any]", User._meta.get_field(field))
            cleaned[field] = model_field.clean(value, user)
        except ValidationError as exc:
            errors[field] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    changed = [field for field, value in cleaned.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, cleaned[field])
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def membership_add(*, actor: User, organization: Organization, user: User, role: str) -> Membership:
    ensure_can_manage_organization(user=actor, organization=organization)
    membership = Membership(organization=organization, user=user, role=role)
    membership.full_clean()
    membership.save()
    return membership


ORGANIZATION_EDITABLE_FIELDS = ("name", "kind", "unified_social_credit_code")
# Staff also set where an organization came from and whether its identity was verified.
ORGANIZATION_STAFF_EDITABLE_FIELDS = (*ORGANIZATION_EDITABLE_FIELDS, "source", "identity_verified_at")
# A merchant changing these makes the organization another one: staff must verify it again.
ORGANIZATION_IDENTITY_FIELDS = ("name", "unified_social_credit_code")


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, data: Mapping[str, Any]) -> Organization:
    """Edit an organization's name, kind or unified social credit code.

    A merchant's change of the name or the code makes them the merchant's word: the directory no longer
    trusts the organization until staff verify its identity again.
    """
    ensure_can_manage_organization(user=actor, organization=organization)
    editable = ORGANIZATION_STAFF_EDITABLE_FIELDS if actor.is_staff else ORGANIZATION_EDITABLE_FIELDS
    unknown = set(data) - set(editable)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    changed = [field for field, value in data.items() if getattr(organization, field) != value]
    if not changed:
        return organization
    for field in changed:
        setattr(organization, field, data[field])
    if not actor.is_staff and any(field in ORGANIZATION_IDENTITY_FIELDS for field in changed):
        # The name and code are now the merchant's word, not the directory's or the staff's.
        if organization.identity_verified_at is not None:
            organization.identity_verified_at = None
            changed.append("identity_verified_at")
        if organization.source != OrganizationSource.SIGNED_UP:
            organization.source = OrganizationSource.SIGNED_UP
            changed.append("source")
    organization.full_clean(validate_constraints=False)
    code = organization.unified_social_credit_code
    if (
        "unified_social_credit_code" in changed
        and code
        and Organization.objects.filter(unified_social_credit_code=code).exclude(pk=organization.pk).exists()
    ):
        raise ValidationError(
            {"unified_social_credit_code": [_("Another organization is registered with this code.")]}
        )
    try:
        with transaction.atomic():
            organization.save(update_fields=changed)
    except IntegrityError as exc:
        raise ValidationError(
            {"unified_social_credit_code": [_("Another organization is registered with this code.")]}
        ) from exc
    return organization


def _save_account(account: OfficialAccount, *, update_fields: list[str] | None = None) -> None:
    account.full_clean(validate_unique=False, validate_constraints=False)
    duplicates = OfficialAccount.objects.filter(platform=account.platform, platform_uid=account.platform_uid)
    if account.pk:
        duplicates = duplicates.exclude(pk=account.pk)
    if duplicates.exists():
        raise _duplicate_uid_error()
    try:
        with transaction.atomic():
            account.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Another request registered the same uid between the check and the insert.
        raise _duplicate_uid_error() from exc


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
    editable = ACCOUNT_STAFF_EDITABLE_FIELDS if actor.is_staff else ACCOUNT_EDITABLE_FIELDS
    unknown = set(data) - set(editable)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    changed = [field for field, value in data.items() if getattr(account, field) != value]
    if not changed:
        return account
    anchor_errors = official_account_anchor_errors(account=account, changed=changed)
    if anchor_errors:
        raise ValidationError(anchor_errors, code="account_in_use")
    previous_identity = (account.platform, account.platform_uid)
    for field in changed:
        setattr(account, field, data[field])
    update_fields = [*changed, "updated_at"]
    identity_changed = any(field in ACCOUNT_VERIFIED_FIELDS for field in changed)
    if (
        identity_changed
        and not actor.is_staff
        and account.verification_status != VerificationStatus.UNVERIFIED
    ):
        account.verification_status = VerificationStatus.UNVERIFIED
        account.verified_at = None
        update_fields += ["verification_status", "verified_at"]
    _save_account(account, update_fields=update_fields)
    # The cached profile is keyed by platform and uid: forget it under the old identity too.
    profile_forget_changed_accounts([account.pk], [previous_identity])
    return account


def _verification_decision_notify(account_ids: Iterable[int], status: str) -> None:
    from .tasks import send_verification_email

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
        raise ValidationError({"verification_status": [_("Unknown verification status.")]})
    reason = reason.strip()
    if status == VerificationStatus.REJECTED and not reason:
        raise ValidationError({"reason": [_("Give the reason for the rejection; the merchant reads it.")]})
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
def organization_create(*, actor: User, data: Mapping[str, Any]) -> Organization:
    """Staff create an organization (from the admin); it counts as one the directory may use."""
    ensure_staff(user=actor)
    unknown = set(data) - set(ORGANIZATION_STAFF_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    organization = Organization(**data)
    organization.full_clean()
    organization.save()
    return organization


@transaction.atomic
def organization_set_identity_verified(
    *, actor: User, organization: Organization, verified: bool
) -> Organization:
    """Staff confirm (or withdraw) that an organization is who its name and code say."""
    ensure_staff(user=actor)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if (organization.identity_verified_at is not None) == verified:
        return organization
    organization.identity_verified_at = timezone.now() if verified else None
    organization.save(update_fields=["identity_verified_at"])
    return organization


@transaction.atomic
def membership_update(*, actor: User, membership: Membership, role: str) -> Membership:
    """Change a member's role in an organization."""
    ensure_can_manage_organization(user=actor, organization=membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """Take a user out of an organization."""
    ensure_can_manage_organization(user=actor, organization=membership.organization)
    Membership.objects.filter(pk=membership.pk).delete()


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
