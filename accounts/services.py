"""Every write to users, organizations and official accounts."""

from collections.abc import Iterable, Mapping
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from miniprograms.profile import profile_forget_after_commit

from .models import (
    Membership,
    MembershipRole,
    OfficialAccount,
    Organization,
    User,
    VerificationStatus,
    Vertical,
)
from .permissions import ensure_can_manage_organization, ensure_staff

# Changing one of these changes who the account is, so staff must verify it again.
ACCOUNT_IDENTITY_FIELDS = ("platform", "platform_uid", "kind")
# A merchant's change of these sends a verified account back to unverified: staff and the directory vouch
# for them, and the whitelist criteria read them.
ACCOUNT_VERIFIED_FIELDS = (*ACCOUNT_IDENTITY_FIELDS, "vertical", "followers_count")
ACCOUNT_EDITABLE_FIELDS = ("platform", "platform_uid", "screen_name", "kind", "vertical", "followers_count")


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


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, data: Mapping[str, Any]) -> Organization:
    """Edit an organization's name, kind or unified social credit code."""
    ensure_can_manage_organization(user=actor, organization=organization)
    unknown = set(data) - set(ORGANIZATION_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    changed = [field for field, value in data.items() if getattr(organization, field) != value]
    if not changed:
        return organization
    for field in changed:
        setattr(organization, field, data[field])
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


@transaction.atomic
def official_account_update(
    *, actor: User, account: OfficialAccount, data: Mapping[str, Any]
) -> OfficialAccount:
    """Edit an account; a merchant's change of its identity, vertical or followers sends it back to
    unverified."""
    ensure_can_manage_organization(user=actor, organization=account.organization)
    unknown = set(data) - set(ACCOUNT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    account = OfficialAccount.objects.select_for_update().get(pk=account.pk)
    changed = [field for field, value in data.items() if getattr(account, field) != value]
    if not changed:
        return account
    # The cached profile is keyed by platform and uid: forget it under the old identity too.
    profile_forget_after_commit([(account.platform, account.platform_uid)])
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
    profile_forget_after_commit([(account.platform, account.platform_uid)])
    return account


@transaction.atomic
def official_account_set_verification(
    *, actor: User, account: OfficialAccount, status: str
) -> OfficialAccount:
    """Staff mark an account verified, rejected or unverified."""
    ensure_staff(user=actor)
    if status not in VerificationStatus.values:
        raise ValidationError({"verification_status": [_("Unknown verification status.")]})
    account = OfficialAccount.objects.select_for_update().get(pk=account.pk)
    if account.verification_status == status:
        return account
    account.verification_status = status
    account.verified_at = timezone.now() if status == VerificationStatus.VERIFIED else None
    account.save(update_fields=["verification_status", "verified_at", "updated_at"])
    return account


def official_account_verify(*, actor: User, account: OfficialAccount) -> OfficialAccount:
    return official_account_set_verification(actor=actor, account=account, status=VerificationStatus.VERIFIED)


@transaction.atomic
def official_accounts_mark_verified(*, actor: User, accounts: Iterable[OfficialAccount]) -> int:
    """Staff bulk action: verify every account given that is not verified yet; returns how many."""
    ensure_staff(user=actor)
    ids = [account.pk for account in accounts]
    return (
        OfficialAccount.objects.filter(pk__in=ids)
        .exclude(verification_status=VerificationStatus.VERIFIED)
        .update(
            verification_status=VerificationStatus.VERIFIED,
            verified_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )
