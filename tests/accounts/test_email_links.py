"""Every email an organization gets carries an absolute link (PORTAL_BASE_URL) to the page it is about."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import resolve

from accounts.services import official_account_reject, official_account_verify
from tests import factories
from tests.miniprograms.conftest import EVIDENCE
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry

pytestmark = pytest.mark.django_db


def links_in(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


def portal_link(body: str) -> str:
    """The one portal link of an email, as a path; it must start with PORTAL_BASE_URL."""
    links = [link for link in links_in(body) if link.startswith(settings.PORTAL_BASE_URL)]
    assert links, body
    return links[-1][len(settings.PORTAL_BASE_URL) :]


def test_welcome_email__links_to_the_home_page(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user, _organization = factories.merchant_register("dora", confirmed=False)
    [welcome] = [message for message in mail.outbox if user.email in message.to]
    assert resolve(portal_link(welcome.body)).view_name == "home:dashboard"


@pytest.mark.parametrize("decide", [official_account_verify, official_account_reject])
def test_verification_email__links_to_the_accounts_page(
    decide, merchant, account, staff, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        decide(actor=staff, account=account, reason="Checked against the licence.")
    [message] = mail.outbox
    match = resolve(portal_link(message.body))
    assert (match.view_name, match.kwargs) == ("accounts:account-edit", {"pk": account.pk})


def test_application_and_entry_emails__link_to_the_application(
    merchant, organization, staff, policy, django_capture_on_commit_callbacks
):
    account = factories.official_account(
        actor=merchant, organization=organization, followers_count=250_000, verified_by=staff
    )
    application = whitelist_services.application_create(actor=merchant, account=account, data=EVIDENCE)
    whitelist_services.application_submit(actor=merchant, application=application)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        whitelist_services.application_approve(actor=staff, application=application)
        entry = WhitelistEntry.objects.get(account=account)
        whitelist_services.whitelist_entry_suspend(actor=staff, entry=entry, reason="Complaints to check.")

    assert len(mail.outbox) >= 2, [message.subject for message in mail.outbox]
    for message in mail.outbox:
        match = resolve(portal_link(message.body))
        assert (match.view_name, match.kwargs) == ("whitelist:application-detail", {"pk": application.pk})
