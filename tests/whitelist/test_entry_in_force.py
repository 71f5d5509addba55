"""The one rule of "whitelisted now": `WhitelistEntry.is_in_force` and `in_force()` agree."""

from datetime import timedelta

import pytest
from django.utils import timezone

from whitelist.models import EntryState, WhitelistEntry


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "until", "in_force"),
    [
        (EntryState.ACTIVE, timedelta(days=1), True),
        (EntryState.ACTIVE, timedelta(seconds=0), False),
        (EntryState.ACTIVE, -timedelta(days=1), False),
        (EntryState.SUSPENDED, timedelta(days=1), False),
        (EntryState.REVOKED, timedelta(days=1), False),
        (EntryState.EXPIRED, timedelta(days=1), False),
    ],
)
def test_entry_in_force__method_and_queryset__agree(entry, state, until, in_force):
    now = timezone.now()
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        state=state, valid_from=now - timedelta(days=400), valid_until=now + until
    )
    stored = WhitelistEntry.objects.get(pk=entry.pk)
    assert stored.is_in_force(now) is in_force
    assert WhitelistEntry.objects.in_force(now).filter(pk=entry.pk).exists() is in_force
