"""Dates inside mini program messages are in the merchant's zone, not UTC."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from miniprograms import services
from portal.errors import Conflict
from whitelist.models import WhitelistEntry

# 20:00 in UTC is 04:00 the next day in Shanghai.
LATE_EVENING_UTC = datetime(2026, 5, 2, 20, 0, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "date"), [("Asia/Shanghai", "2026-05-03"), ("UTC", "2026-05-02")])
def test_link_request_refusal__entry_expired_late_evening_utc__names_the_date_in_the_merchants_zone(
    merchant, miniprogram, listed_account, zone, date
):
    # Given an entry that is still active but whose validity ended at 20:00 UTC
    WhitelistEntry.objects.filter(account=listed_account).update(
        valid_from=LATE_EVENING_UTC - timedelta(days=365), valid_until=LATE_EVENING_UTC
    )

    # When the merchant asks for a link from a page in their zone (MerchantLocaleMiddleware activates it)
    with timezone.override(zone), pytest.raises(Conflict) as caught:
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)

    # Then the date is the merchant's
    assert f"expired on {date}." in caught.value.message
