"""Staff read shares, quotas and the reset runs in the admin."""

import pytest
from django.urls import reverse

from accounts.models import User
from miniprograms import services


@pytest.fixture
def chief_client(client, db):
    client.force_login(User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456"))
    return client


@pytest.mark.django_db
def test_share_admin__lists_shares_and_reset_runs(chief_client, merchant, staff, pending_link, settings):
    settings.SHARE_QUOTA_BACKEND = "database"
    link = services.profile_link_approve(actor=staff, link=pending_link)
    services.share_record(actor=merchant, miniprogram=link.miniprogram, account=link.account)
    services.share_quotas_reset()
    shares = chief_client.get(
        reverse("admin:miniprograms_share_changelist"), {"q": link.account.platform_uid}
    )
    assert shares.status_code == 200 and link.miniprogram.name in shares.text
    runs = chief_client.get(reverse("admin:miniprograms_quotaresetrun_changelist"))
    assert runs.status_code == 200 and "1 quota reset run" in runs.text
    quotas = chief_client.get(reverse("admin:miniprograms_sharequota_changelist"))
    assert quotas.status_code == 200 and link.account.screen_name in quotas.text
    # Nothing here can be edited by hand.
    assert chief_client.get(reverse("admin:miniprograms_share_add")).status_code == 403
