"""Previewing a new policy version: which entries and open applications would flip."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import official_account_verify
from tests import factories
from whitelist import services
from whitelist.models import CriteriaPolicy, PolicyPreview

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "App", "url": "https://example.com/app"}],
    "services": ["ordering"],
    "support_channels": ["hotline"],
}


def application_for(merchant, organization, staff, uid: str, followers: int):
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid=uid,
        vertical_code="commerce",
        followers_count=followers,
    )
    official_account_verify(actor=staff, account=account)
    application = services.application_create(actor=merchant, account=account, data=EVIDENCE)
    return services.application_submit(actor=merchant, application=application)


@pytest.fixture
def programme(merchant, organization, staff):
    big = application_for(merchant, organization, staff, "6100000001", 500_000)
    medium = application_for(merchant, organization, staff, "6100000002", 150_000)
    services.application_approve(actor=staff, application=big)
    services.application_approve(actor=staff, application=medium)
    small = application_for(merchant, organization, staff, "6100000003", 80_000)
    return big, medium, small


def candidate(staff, min_followers: int) -> CriteriaPolicy:
    return services.policy_create_version(
        actor=staff, data={"min_followers": min_followers}, open_verticals=None
    )


@pytest.mark.django_db
def test_preview__higher_audience_bar__lists_the_entry_that_would_lose_eligibility(staff, programme):
    _, medium, _ = programme
    preview = services.policy_preview_run(
        preview=PolicyPreview.objects.create(
            policy=candidate(staff, 200_000),
            compared_with=CriteriaPolicy.objects.get(is_active=True),
            requested_by=staff,
        ),
        batch_size=1,
    )
    assert preview.status == "done"
    assert (preview.total, preview.checked) == (3, 3)
    assert (preview.became_ineligible, preview.became_eligible) == (1, 0)
    assert preview.changes == [
        {
            "kind": "entry",
            "id": medium.account.whitelist_entry.pk,
            "account": medium.account.screen_name,
            "platform_uid": "6100000002",
            "before": "eligible",
            "after": "ineligible",
        }
    ]


@pytest.mark.django_db
def test_preview__lower_audience_bar__lists_the_application_that_would_gain(staff, programme):
    _, _, small = programme
    preview = services.policy_preview_run(
        preview=PolicyPreview.objects.create(
            policy=candidate(staff, 50_000),
            compared_with=CriteriaPolicy.objects.get(is_active=True),
            requested_by=staff,
        )
    )
    assert (preview.became_ineligible, preview.became_eligible) == (0, 1)
    assert preview.changes[0]["kind"] == "application" and preview.changes[0]["id"] == small.pk


@pytest.mark.django_db
def test_preview__from_admin_action__runs_as_task_and_shows_counts(
    client, staff, programme, django_capture_on_commit_callbacks
):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    version = candidate(staff, 200_000)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:whitelist_criteriapolicy_changelist"),
            {"action": "preview", "_selected_action": [version.pk]},
        )
    preview = PolicyPreview.objects.get(policy=version)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:whitelist_policypreview_change", args=[preview.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "3 / 3 (100%)" in page.text
    assert "6100000002" in page.text
    # The preview changed nothing: version 1 is still the active one.
    assert CriteriaPolicy.objects.get(is_active=True).version == 1
