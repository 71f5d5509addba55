"""Writes to users: sign-up, API tokens, password reset requests and preferences."""

import hashlib
from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from portal.errors import InvalidInput
from portal.models import model_update

from ..authentication import token_is_expired
from ..models import Membership, MembershipRole, Organization, User
from .common import rate_spent, refuse_fields_not_editable

USER_PREFERENCE_FIELDS = ("language", "time_zone")


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
    from ..tasks import send_welcome_email

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
        # Through Django's error, so that the user's non-field errors are named as the API names them.
        raise InvalidInput.from_django(ValidationError(errors))

    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # A concurrent sign-up took the username or the email between the checks and the insert.
        if email and User.objects.filter(email__iexact=email).exists():
            raise InvalidInput({"email": [_("A user with this email address already exists.")]}) from exc
        raise InvalidInput({"username": [_("A user with that username already exists.")]}) from exc
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


@transaction.atomic
def password_reset_request(*, email: str, ip_address: str | None) -> None:
    """Queue the password reset email for an address, within the rates per client address and per email.

    The caller answers the same page whatever happens here: the address is looked up by the worker
    (accounts.tasks.send_password_reset_emails) after the response, and a request over a rate queues
    nothing. Both rates count every request, so neither can be probed through the other.
    """
    from ..tasks import send_password_reset_emails

    email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    over_address = rate_spent(f"password-reset:address:{ip_address}", settings.PASSWORD_RESET_ADDRESS_RATE)
    over_email = rate_spent(f"password-reset:email:{email_digest}", settings.PASSWORD_RESET_EMAIL_RATE)
    if over_address or over_email:
        return
    transaction.on_commit(lambda: send_password_reset_emails.delay(email=email), robust=True)


def user_preferences_update(*, user: User, data: Mapping[str, str]) -> User:
    """Change the language and the time zone of a user's merchant pages and emails."""
    refuse_fields_not_editable(data, USER_PREFERENCE_FIELDS)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, value in data.items():
        try:
            model_field = cast("models.Field[Any, Any]", User._meta.get_field(field))
            cleaned[field] = model_field.clean(value, user)
        except ValidationError as exc:
            errors[field] = list(exc.messages)
    if errors:
        raise InvalidInput(errors)
    model_update(instance=user, data=cleaned)
    return user
