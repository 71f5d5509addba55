"""Dates inside messages are in the reader's zone: the merchants' one, not UTC."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from portal.errors import Conflict
from tests.whitelist.test_criteria import PASSING, RULES
from whitelist import criteria, services
from whitelist.models import EntryState, WhitelistEntry

# 20:00 in UTC is 04:00 the next day in Shanghai.
LATE_EVENING_UTC = datetime(2026, 5, 2, 20, 0, tzinfo=UTC)


def test_good_standing_reason__revoked_late_evening_utc__names_the_merchants_date(settings):
    settings.MERCHANT_TIME_ZONE = "Asia/Shanghai"
    facts = criteria.Facts(**{**PASSING.__dict__, "last_revoked_at": LATE_EVENING_UTC})

    # Whatever zone the evaluation runs in (a staff re-evaluation in the admin is in UTC)
    with timezone.override(UTC):
        result = criteria.good_standing(facts, RULES)

    assert result.reason == "The account's whitelisting was revoked on 2026-05-03, less than 180 days ago."


@pytest.mark.django_db
def test_reinstate_refusal__validity_ended_late_evening_utc__names_the_date_in_the_readers_zone(
    reviewer, entry
):
    services.whitelist_entry_suspend(actor=reviewer, entry=entry, reason="Checking a complaint.")
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=LATE_EVENING_UTC - timedelta(days=365), valid_until=LATE_EVENING_UTC
    )
    entry.refresh_from_db()
    assert entry.state == EntryState.SUSPENDED

    with timezone.override("Asia/Shanghai"), pytest.raises(Conflict) as caught:
        services.whitelist_entry_reinstate(actor=reviewer, entry=entry, reason="Appeal accepted.")

    assert "ended on 2026-05-03;" in caught.value.message
