"""Whitelist emails go to the organization's owners and admins whose address is confirmed, no one else."""

import pytest
from django.core import mail

from accounts.models import MembershipRole
from accounts.services import membership_add
from tests import factories
from whitelist import services


@pytest.mark.django_db
def test_application_email__skips_an_admin_whose_address_is_unconfirmed(
    django_capture_on_commit_callbacks, merchant, organization, draft
):
    # Given an admin who signed up with an address it never confirmed
    unconfirmed, _own = factories.merchant_register("ursula", confirmed=False)
    membership_add(actor=merchant, organization=organization, user=unconfirmed, role=MembershipRole.ADMIN)
    # When the owner submits
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(actor=merchant, application=draft)
    # Then only the confirmed owner is emailed
    [email] = mail.outbox
    assert email.to == [merchant.email]
