"""Writes to organizations and their memberships."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import InvalidInput
from portal.models import model_update, save_checked

from ..models import Membership, Organization, OrganizationSource, User
from ..permissions import ensure_can_manage_organization, ensure_staff
from .common import full_clean, refuse_fields_not_editable

ORGANIZATION_EDITABLE_FIELDS = ("name", "kind", "unified_social_credit_code")
# Staff also set where an organization came from and whether its identity was verified.
ORGANIZATION_STAFF_EDITABLE_FIELDS = (*ORGANIZATION_EDITABLE_FIELDS, "source", "identity_verified_at")
# A merchant changing these makes the organization another one: staff must verify it again.
ORGANIZATION_IDENTITY_FIELDS = ("name", "unified_social_credit_code")


def _credit_code_taken() -> InvalidInput:
    return InvalidInput(
        {"unified_social_credit_code": [_("Another organization is registered with this code.")]}
    )


@transaction.atomic
def organization_create(*, actor: User, data: Mapping[str, Any]) -> Organization:
    """Staff create an organization (from the admin); it counts as one the directory may use."""
    ensure_staff(user=actor)
    refuse_fields_not_editable(data, ORGANIZATION_STAFF_EDITABLE_FIELDS)
    organization = Organization(**data)
    full_clean(organization)
    organization.save()
    return organization


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, data: Mapping[str, Any]) -> Organization:
    """Edit an organization's name, kind or unified social credit code.

    A merchant's change of the name or the code makes them the merchant's word: the directory no longer
    trusts the organization until staff verify its identity again.
    """
    ensure_can_manage_organization(user=actor, organization=organization)
    refuse_fields_not_editable(
        data, ORGANIZATION_STAFF_EDITABLE_FIELDS if actor.is_staff else ORGANIZATION_EDITABLE_FIELDS
    )
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    changed = model_update(instance=organization, data=data, save=False)
    if not changed:
        return organization
    if not actor.is_staff and any(field in ORGANIZATION_IDENTITY_FIELDS for field in changed):
        # The name and code are now the merchant's word, not the directory's or the staff's.
        changed += model_update(
            instance=organization,
            data={"identity_verified_at": None, "source": OrganizationSource.SIGNED_UP},
            save=False,
        )
    code = organization.unified_social_credit_code
    if "unified_social_credit_code" in changed and code:
        save_checked(
            organization,
            unique={"unified_social_credit_code": code},
            duplicate=_credit_code_taken,
            update_fields=changed,
        )
        return organization
    # No new code to check: the partial unique index on the code cannot refuse this save.
    full_clean(organization, validate_constraints=False)
    organization.save(update_fields=changed)
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
def membership_add(*, actor: User, organization: Organization, user: User, role: str) -> Membership:
    ensure_can_manage_organization(user=actor, organization=organization)
    membership = Membership(organization=organization, user=user, role=role)
    full_clean(membership)
    membership.save()
    return membership


@transaction.atomic
def membership_update(*, actor: User, membership: Membership, role: str) -> Membership:
    """Change a member's role in an organization."""
    ensure_can_manage_organization(user=actor, organization=membership.organization)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    membership.role = role
    full_clean(membership)
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """Take a user out of an organization."""
    ensure_can_manage_organization(user=actor, organization=membership.organization)
    Membership.objects.filter(pk=membership.pk).delete()
