"""Emails about whitelist entries, and the 30-day expiry warning, sent after commit and only once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.services import official_account_verify
from tests import factories
from whitelist import services
from whitelist.models import WhitelistEntry
from whitelist.tasks import expire_whitelist_entries

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "App", "url": "https://example.com/app"}],
    "services": ["ordering"],
    "support_channels": ["hotline"],
}


@pytest.fixture
def entry(merchant, organization, staff) -> WhitelistEntry:
    account = factories.official_account(
        actor=merchant, organization=organization, platform_uid="7100000001", vertical_code="commerce"
    )
    official_account_verify(actor=staff, account=account)
    application = services.application_create(actor=merchant, account=account, data=EVIDENCE)
    services.application_submit(actor=merchant, application=application)
    services.application_approve(actor=staff, application=application)
    return WhitelistEntry.objects.get(account=account)


@pytest.mark.django_db
def test_suspend__after_commit__emails_the_owner_with_the_reason(
    entry, staff, merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.whitelist_entry_suspend(actor=staff, entry=entry, reason="Spam reports from followers")
        assert mail.outbox == []
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [merchant.email]
    assert "suspended" in message.subject.lower()
    assert "Spam reports from followers" in message.body


@pytest.mark.django_db
def test_expiry_task__entry_30_days_from_end__warned_once(entry, django_capture_on_commit_callbacks):
    WhitelistEntry.objects.filter(pk=entry.pk).update(valid_until=timezone.now() + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_whitelist_entries.apply().get() == 0
    with django_capture_on_commit_callbacks(execute=True):
        expire_whitelist_entries.apply().get()
    assert len(mail.outbox) == 1
    assert "expires soon" in mail.outbox[0].subject
    entry.refresh_from_db()
    assert entry.expiry_warning_sent_at is not None
    assert entry.events.filter(action="expiry_warning").count() == 1


@pytest.mark.django_db
def test_expiry_task__past_end__expires_and_emails(entry, django_capture_on_commit_callbacks):
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_whitelist_entries.apply().get() == 1
    entry.refresh_from_db()
    assert entry.state == "expired"
    assert [m.subject for m in mail.outbox] == ["Whitelisting of Demo account: Expired"]


@pytest.mark.django_db
def test_expiry_warning__entry_far_from_end__not_warned(entry):
    assert services.whitelist_entries_warn_expiring() == 0
    assert mail.outbox == []
