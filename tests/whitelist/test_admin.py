"""The staff review screens: queue, decisions with reasons, bulk decisions, policies, entries."""

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.services import official_account_verify
from tests import factories
from whitelist import services
from whitelist.models import CriteriaPolicy, WhitelistApplication, WhitelistEntry

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment"],
    "support_channels": ["hotline"],
}


@pytest.fixture
def admin_client_logged_in(client, db):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    client.superuser = superuser
    return client


def submitted_application(
    merchant, organization, staff, uid: str, followers: int = 500_000
) -> WhitelistApplication:
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid=uid,
        screen_name=f"Shop {uid}",
        vertical_code="commerce",
        followers_count=followers,
    )
    official_account_verify(actor=staff, account=account)
    application = services.application_create(actor=merchant, account=account, data=EVIDENCE)
    return services.application_submit(actor=merchant, application=application)


@pytest.fixture
def two_submitted(merchant, organization, staff):
    return (
        submitted_application(merchant, organization, staff, "4100000001"),
        submitted_application(merchant, organization, staff, "4100000002", followers=10),
    )


@pytest.mark.django_db
def test_queue__submitted_applications__listed_with_recommendation_and_filterable(
    admin_client_logged_in, two_submitted
):
    url = reverse("admin:whitelist_whitelistapplication_changelist")
    response = admin_client_logged_in.get(url, {"state__exact": "submitted"})
    assert response.status_code == 200
    assert "Shop 4100000001" in response.text and "Shop 4100000002" in response.text
    assert "Eligible" in response.text and "Ineligible" in response.text
    ineligible_only = admin_client_logged_in.get(url, {"recommendation": "ineligible"})
    assert "Shop 4100000002" in ineligible_only.text
    assert "Shop 4100000001" not in ineligible_only.text


@pytest.mark.django_db
def test_application_page__shows_evaluation_timeline_and_decision_buttons(
    admin_client_logged_in, two_submitted
):
    application = two_submitted[1]
    response = admin_client_logged_in.get(
        reverse("admin:whitelist_whitelistapplication_change", args=[application.pk])
    )
    assert response.status_code == 200
    assert "fewer than the minimum" in response.text
    assert "draft → submitted" in response.text
    assert reverse("admin:whitelist_application_decide", args=[application.pk, "approve"]) in response.text


@pytest.mark.django_db
def test_decide_approve__posted__approves_and_creates_entry(admin_client_logged_in, two_submitted):
    application = two_submitted[0]
    url = reverse("admin:whitelist_application_decide", args=[application.pk, "approve"])
    response = admin_client_logged_in.post(url, {"message": "Welcome aboard"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "approved"
    assert WhitelistEntry.objects.filter(account=application.account, state="active").exists()
    # Decided: its page offers a note, no longer a decision.
    page = admin_client_logged_in.get(
        reverse("admin:whitelist_whitelistapplication_change", args=[application.pk])
    )
    assert reverse("admin:whitelist_application_decide", args=[application.pk, "note"]) in page.text
    for decision in ("approve", "reject", "request_changes"):
        assert reverse("admin:whitelist_application_decide", args=[application.pk, decision]) not in page.text


@pytest.mark.django_db
def test_decide_reject__without_reason_code__shows_error_and_changes_nothing(
    admin_client_logged_in, two_submitted
):
    application = two_submitted[1]
    url = reverse("admin:whitelist_application_decide", args=[application.pk, "reject"])
    response = admin_client_logged_in.post(url, {"message": "No"})
    assert response.status_code == 200
    assert "Choose the reason" in response.text
    application.refresh_from_db()
    assert application.state == "submitted"


@pytest.mark.django_db
def test_decide__twice__second_is_a_clear_conflict(admin_client_logged_in, two_submitted):
    application = two_submitted[0]
    url = reverse("admin:whitelist_application_decide", args=[application.pk, "approve"])
    admin_client_logged_in.post(url, {})
    response = admin_client_logged_in.post(url, {})
    assert response.status_code == 200
    assert "Cannot approve an application that is Approved" in response.text
    assert WhitelistEntry.objects.count() == 1


@pytest.mark.django_db
def test_bulk_reject__with_one_reason__rejects_all_selected(admin_client_logged_in, two_submitted):
    url = reverse("admin:whitelist_whitelistapplication_changelist")
    ids = [application.pk for application in two_submitted]
    confirm = admin_client_logged_in.post(url, {"action": "bulk_reject", "_selected_action": ids})
    assert confirm.status_code == 200 and "This applies to 2 items" in confirm.text
    admin_client_logged_in.post(
        url,
        {
            "action": "bulk_reject",
            "_selected_action": ids,
            "apply": "1",
            "reason_code": "evidence_insufficient",
        },
    )
    assert set(WhitelistApplication.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
        "rejected"
    }


@pytest.mark.django_db
def test_policy__new_version_from_admin_then_activate__old_stays_frozen(admin_client_logged_in):
    # Given version 1 active
    v1 = CriteriaPolicy.objects.get(is_active=True)
    # When staff add a version with a lower follower minimum and activate it
    add = admin_client_logged_in.post(
        reverse("admin:whitelist_criteriapolicy_add"),
        {
            "open_verticals": list(v1.open_verticals.values_list("pk", flat=True)),
            "min_followers": 50_000,
            "min_dev_team_size": 3,
            "min_user_services": 1,
            "support_channel_required": "on",
            "required_criteria": '["verified_account", "open_vertical", "audience"]',
            "entry_validity_days": 365,
            "default_share_limit_per_hour": 1,
            "notes": "Lower audience bar",
        },
    )
    assert add.status_code == 302, add.content
    v2 = CriteriaPolicy.objects.get(version=v1.version + 1)
    assert not v2.is_active and v2.min_followers == 50_000 and v2.open_verticals.count() == 4
    admin_client_logged_in.post(
        reverse("admin:whitelist_criteriapolicy_changelist"),
        {"action": "activate", "_selected_action": [v2.pk]},
    )
    # Then v2 is the one active policy and v1 can no longer be changed
    assert list(CriteriaPolicy.objects.filter(is_active=True)) == [v2]
    v1_page = admin_client_logged_in.get(reverse("admin:whitelist_criteriapolicy_change", args=[v1.pk]))
    assert v1_page.status_code == 200
    assert 'name="min_followers"' not in v1_page.text


@pytest.mark.django_db
def test_entry_suspend_action__with_reason__suspends_and_records_history(
    admin_client_logged_in, two_submitted, staff
):
    application = services.application_approve(actor=staff, application=two_submitted[0])
    entry = WhitelistEntry.objects.get(account=application.account)
    url = reverse("admin:whitelist_whitelistentry_changelist")
    admin_client_logged_in.post(
        url, {"action": "suspend", "_selected_action": [entry.pk], "apply": "1", "reason": "Spam reports"}
    )
    entry.refresh_from_db()
    assert entry.state == "suspended"
    assert entry.events.filter(action="suspend", reason="Spam reports").exists()


@pytest.mark.django_db
def test_review_event_list__filtered_by_transition_or_note__lists_only_those(
    admin_client_logged_in, two_submitted, staff
):
    # Given one approval and one staff note on top of the two submissions
    approved, noted = two_submitted
    services.application_approve(actor=staff, application=approved)
    services.application_note(actor=staff, application=noted, message="Called the merchant back.")
    url = reverse("admin:whitelist_reviewevent_changelist")
    approved_cell = '<td class="field-to_state">approved</td>'
    # When staff filter the events by the state they moved to, then by notes
    approvals = admin_client_logged_in.get(url, {"to_state": "approved"})
    notes = admin_client_logged_in.get(url, {"to_state": "note"})
    # Then each list holds only its kind of event
    assert approvals.status_code == 200 and notes.status_code == 200
    assert approvals.text.count(approved_cell) == 1
    assert "1 review event" in approvals.text
    assert approved_cell not in notes.text
    assert "1 review event" in notes.text
