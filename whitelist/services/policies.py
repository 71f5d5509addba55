"""Writes of criteria policies: a new version, an edit before it was ever active, activation."""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import ensure_staff
from portal.errors import Conflict, InvalidInput

from ..constants import Criterion
from ..models import CriteriaPolicy
from ..selectors import policy_active

POLICY_FIELDS = (
    "min_followers",
    "min_dev_team_size",
    "min_user_services",
    "support_channel_required",
    "required_criteria",
    "entry_validity_days",
    "default_share_limit_per_hour",
    "max_live_links_per_account",
    "notes",
)


# Concurrent "new version" requests each take the next free number: the unique version is the arbiter,
# and a request that lost the race tries the number after.
POLICY_VERSION_ATTEMPTS = 20


def _policy_values_clean(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values["required_criteria"]) - set(Criterion.values))
    if unknown:
        raise InvalidInput(
            {"required_criteria": [_("Unknown criteria: %(names)s.") % {"names": ", ".join(unknown)}]}
        )
    return values


@transaction.atomic
def policy_create_version(
    *, actor: User, data: Mapping[str, Any], open_verticals: Any, based_on: CriteriaPolicy | None = None
) -> CriteriaPolicy:
    """A new, inactive version numbered after the newest; unset values are copied from the active policy."""
    ensure_staff(user=actor)
    base = based_on or policy_active()
    values = _policy_values_clean({name: data.get(name, getattr(base, name)) for name in POLICY_FIELDS})
    for _attempt in range(POLICY_VERSION_ATTEMPTS):
        # Each statement sees what committed before it, so a retry reads the number that won the race.
        newest = CriteriaPolicy.objects.aggregate(newest=Max("version"))["newest"] or 0
        policy = CriteriaPolicy(version=newest + 1, created_by=actor, **values)
        # The version's uniqueness is left to the database, which settles concurrent inserts.
        policy.full_clean(exclude=["open_verticals", "version"], validate_unique=False)
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError:
            if not CriteriaPolicy.objects.filter(version=policy.version).exists():
                raise
            continue
        policy.open_verticals.set(open_verticals if open_verticals is not None else base.open_verticals.all())
        return policy
    raise Conflict(_("Other versions are being created at the same time; try again."))


@transaction.atomic
def policy_update(
    *, actor: User, policy: CriteriaPolicy, data: Mapping[str, Any], open_verticals: Any = None
) -> CriteriaPolicy:
    """Edit a version that was never active; one that ever was explains past evaluations, so it is frozen."""
    ensure_staff(user=actor)
    unknown = set(data) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    policy = CriteriaPolicy.objects.select_for_update(of=("self",)).get(pk=policy.pk)
    if policy.is_frozen or policy.is_active:
        raise Conflict(
            _("Version %(version)d was active once and can no longer change; create a new version.")
            % {"version": policy.version},
            code="policy-frozen",
        )
    values = _policy_values_clean({name: data.get(name, getattr(policy, name)) for name in POLICY_FIELDS})
    changed = [name for name, value in values.items() if getattr(policy, name) != value]
    for name in changed:
        setattr(policy, name, values[name])
    policy.full_clean(exclude=["open_verticals"])
    if changed:
        policy.save(update_fields=changed)
    if open_verticals is not None:
        policy.open_verticals.set(open_verticals)
    return policy


@transaction.atomic
def policy_activate(*, actor: User, policy: CriteriaPolicy) -> CriteriaPolicy:
    """Make this version the one active policy; the previous one stays, frozen, for old evaluations."""
    ensure_staff(user=actor)
    policies = list(
        CriteriaPolicy.objects.select_for_update(of=("self",)).filter(Q(is_active=True) | Q(pk=policy.pk))
    )
    policy = next(p for p in policies if p.pk == policy.pk)
    if policy.is_active:
        return policy
    CriteriaPolicy.objects.filter(is_active=True).update(is_active=False)
    policy.is_active = True
    policy.activated_at = policy.activated_at or timezone.now()
    policy.save(update_fields=["is_active", "activated_at"])
    return policy
