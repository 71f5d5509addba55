"""The whitelist API: applications, transitions, events, entries and the public lookup."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership, MembershipRole
from accounts.services import official_account_verify
from tests import factories
from whitelist.models import ReviewEvent, WhitelistApplication, WhitelistEntry

PROBLEM = "application/problem+json"


def problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    for field in fields:
        assert field in body["errors"], body
    return body


def evidence(account_id: int, **overrides) -> dict:
    payload = {
        "account": account_id,
        "has_in_house_team": True,
        "dev_team_size": 12,
        "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
        "services": ["ordering", "payment", "after_sales"],
        "support_channels": ["400-800-1234"],
        "after_sales_policy": "Refunds within 7 days.",
        "description": "Our own team builds and runs our ordering mini program.",
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def eligible_account(merchant, organization, staff):
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="3100000001",
        screen_name="Alice Burgers",
        vertical_code="food_beverage",
        followers_count=2_000_000,
    )
    return official_account_verify(actor=staff, account=account)


@pytest.fixture
def draft(merchant_client, eligible_account) -> dict:
    response = merchant_client.post("/api/v1/applications/", evidence(eligible_account.pk), format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def submitted(merchant_client, draft) -> dict:
    response = merchant_client.post(f"/api/v1/applications/{draft['id']}/submit/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def other_client(other_merchant) -> APIClient:
    client = APIClient()
    client.force_authenticate(other_merchant)
    return client


# Create and edit


@pytest.mark.django_db
def test_create__valid__is_201_draft(draft, eligible_account):
    assert draft["state"] == "draft"
    assert draft["account"] == eligible_account.pk
    assert draft["evaluation"] is None
    assert draft["self_developed_products"] == [
        {"name": "Order app", "url": "https://apps.example.com/order"}
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"dev_team_size": -1}, "dev_team_size"),
        ({"dev_team_size": "ten"}, "dev_team_size"),
        ({"services": ["advertising"]}, "services.0"),
        ({"self_developed_products": [{"name": "x", "url": "not a url"}]}, "self_developed_products.0.url"),
        ({"self_developed_products": "app"}, "self_developed_products"),
        ({"support_channels": ["x" * 201]}, "support_channels.0"),
        ({"description": "d" * 5001}, "description"),
        ({"has_in_house_team": False, "dev_team_size": 5}, "dev_team_size"),
        ({"account": 999999}, "account"),
    ],
)
def test_create__bad_input__is_400_naming_field_and_writes_nothing(
    merchant_client, eligible_account, overrides, field
):
    response = merchant_client.post(
        "/api/v1/applications/", evidence(eligible_account.pk, **overrides), format="json"
    )
    problem(response, 400, field)
    assert not WhitelistApplication.objects.exists()


@pytest.mark.django_db
def test_create__other_merchants_account__is_400_on_account(other_client, eligible_account):
    problem(
        other_client.post("/api/v1/applications/", evidence(eligible_account.pk), format="json"),
        400,
        "account",
    )


@pytest.mark.django_db
def test_create__second_open_application__is_409(merchant_client, draft, eligible_account):
    response = merchant_client.post("/api/v1/applications/", evidence(eligible_account.pk), format="json")
    body = problem(response, 409)
    assert str(draft["id"]) in body["detail"]
    assert WhitelistApplication.objects.count() == 1


@pytest.mark.django_db
def test_patch__draft__updates_evidence(merchant_client, draft):
    response = merchant_client.patch(
        f"/api/v1/applications/{draft['id']}/", {"dev_team_size": 20}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["dev_team_size"] == 20


@pytest.mark.django_db
def test_patch__submitted__is_409_naming_state_and_unchanged(merchant_client, submitted):
    response = merchant_client.patch(
        f"/api/v1/applications/{submitted['id']}/", {"dev_team_size": 1}, format="json"
    )
    body = problem(response, 409)
    assert "Submitted" in body["detail"]
    assert WhitelistApplication.objects.get(pk=submitted["id"]).dev_team_size == 12


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "patch"])
def test_detail__other_merchant__is_404(other_client, draft, method):
    response = getattr(other_client, method)(f"/api/v1/applications/{draft['id']}/", {}, format="json")
    problem(response, 404)


@pytest.mark.django_db
def test_list__merchant__sees_only_own(merchant_client, other_client, draft):
    assert [item["id"] for item in merchant_client.get("/api/v1/applications/").json()["results"]] == [
        draft["id"]
    ]
    assert other_client.get("/api/v1/applications/").json()["results"] == []


# Transitions


@pytest.mark.django_db
def test_submit__eligible__is_200_with_stored_evaluation(submitted):
    assert submitted["state"] == "submitted"
    evaluation = submitted["evaluation"]
    assert evaluation["recommendation"] == "eligible"
    assert evaluation["policy_version"] == 1
    assert [r["criterion"] for r in evaluation["results"]] == [
        "verified_account",
        "open_vertical",
        "audience",
        "independent_development",
        "user_services",
        "good_standing",
    ]
    assert all(r["outcome"] == "pass" and r["reason"] for r in evaluation["results"])


@pytest.mark.django_db
def test_submit__twice__is_409(merchant_client, submitted):
    body = problem(merchant_client.post(f"/api/v1/applications/{submitted['id']}/submit/"), 409)
    assert "Submitted" in body["detail"]


@pytest.mark.django_db
def test_submit__plain_member__is_403(api_client, organization, draft):
    member = factories.StaffUserFactory(username="member1", is_staff=False)
    Membership.objects.create(user=member, organization=organization, role=MembershipRole.MEMBER)
    api_client.force_authenticate(member)
    problem(api_client.post(f"/api/v1/applications/{draft['id']}/submit/"), 403)
    assert WhitelistApplication.objects.get(pk=draft["id"]).state == "draft"


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["approve", "reject", "request-changes"])
def test_staff_transition__by_merchant__is_403_and_unchanged(merchant_client, submitted, action):
    response = merchant_client.post(
        f"/api/v1/applications/{submitted['id']}/{action}/",
        {"message": "ok", "reason_code": "evidence_insufficient"},
        format="json",
    )
    problem(response, 403)
    assert WhitelistApplication.objects.get(pk=submitted["id"]).state == "submitted"


@pytest.mark.django_db
def test_approve__staff__creates_entry_visible_in_entries_and_lookup(
    staff_client, merchant_client, submitted
):
    response = staff_client.post(
        f"/api/v1/applications/{submitted['id']}/approve/", {"message": "Welcome"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "approved"
    entry = WhitelistEntry.objects.get(account_id=submitted["account"])
    entries = merchant_client.get(f"/api/v1/whitelist-entries/?account={submitted['account']}").json()[
        "results"
    ]
    assert entries == [
        {
            "id": entry.pk,
            "account": submitted["account"],
            "state": "active",
            "share_limit_per_hour": 1,
            "valid_from": entries[0]["valid_from"],
            "valid_until": entries[0]["valid_until"],
        }
    ]
    lookup = APIClient().get("/api/v1/whitelist/weibo/3100000001/")
    assert lookup.status_code == 200
    assert lookup.json()["whitelisted"] is True
    assert lookup.json()["state"] == "active"
    assert lookup.json()["share_limit_per_hour"] == 1


@pytest.mark.django_db
def test_reject__without_reason_code__is_400(staff_client, submitted):
    problem(
        staff_client.post(f"/api/v1/applications/{submitted['id']}/reject/", {}, format="json"),
        400,
        "reason_code",
    )


@pytest.mark.django_db
def test_reject__unknown_reason_code__is_400(staff_client, submitted):
    response = staff_client.post(
        f"/api/v1/applications/{submitted['id']}/reject/", {"reason_code": "because"}, format="json"
    )
    problem(response, 400, "reason_code")


@pytest.mark.django_db
def test_reject__with_reason__is_200_and_applicant_sees_reason_event(
    staff_client, merchant_client, submitted
):
    response = staff_client.post(
        f"/api/v1/applications/{submitted['id']}/reject/",
        {"reason_code": "no_independent_development", "message": "We could not confirm the team."},
        format="json",
    )
    assert response.json()["state"] == "rejected"
    events = merchant_client.get(f"/api/v1/applications/{submitted['id']}/events/").json()["results"]
    # Newest first: the rejection leads the timeline.
    assert events[0]["to_state"] == "rejected"
    assert events[0]["reason_code"] == "no_independent_development"
    assert events[0]["actor"] == "Platform staff"


@pytest.mark.django_db
def test_request_changes__then_resubmit__re_evaluates(staff_client, merchant_client, submitted):
    response = staff_client.post(
        f"/api/v1/applications/{submitted['id']}/request-changes/",
        {"message": "Add your app's URL"},
        format="json",
    )
    assert response.json()["state"] == "changes_requested"
    patch = merchant_client.patch(
        f"/api/v1/applications/{submitted['id']}/", {"dev_team_size": 15}, format="json"
    )
    assert patch.status_code == 200
    resubmitted = merchant_client.post(f"/api/v1/applications/{submitted['id']}/resubmit/")
    assert resubmitted.json()["state"] == "submitted"
    assert WhitelistApplication.objects.get(pk=submitted["id"]).evaluations.count() == 2


@pytest.mark.django_db
def test_request_changes__without_message__is_400(staff_client, submitted):
    problem(
        staff_client.post(f"/api/v1/applications/{submitted['id']}/request-changes/", {}, format="json"),
        400,
        "message",
    )


@pytest.mark.django_db
def test_withdraw__submitted__is_200_and_allows_a_new_application(
    merchant_client, submitted, eligible_account
):
    assert (
        merchant_client.post(f"/api/v1/applications/{submitted['id']}/withdraw/").json()["state"]
        == "withdrawn"
    )
    again = merchant_client.post("/api/v1/applications/", evidence(eligible_account.pk), format="json")
    assert again.status_code == 201


@pytest.mark.django_db
def test_events__applicant__does_not_see_staff_only_notes(staff_client, merchant_client, submitted):
    from whitelist.services import application_note

    application = WhitelistApplication.objects.get(pk=submitted["id"])
    staff = factories.StaffUserFactory(username="reviewer")
    application_note(actor=staff, application=application, message="Check the licence scan.")
    applicant_view = merchant_client.get(f"/api/v1/applications/{submitted['id']}/events/").json()["results"]
    staff_view = staff_client.get(f"/api/v1/applications/{submitted['id']}/events/").json()["results"]
    assert "Check the licence scan." not in [event["message"] for event in applicant_view]
    assert "Check the licence scan." in [event["message"] for event in staff_view]
    assert ReviewEvent.objects.filter(application=application).count() == len(staff_view)


@pytest.mark.django_db
def test_evaluate__draft__returns_fresh_evaluation_without_changing_state(merchant_client, draft):
    response = merchant_client.post(f"/api/v1/applications/{draft['id']}/evaluate/")
    assert response.status_code == 200
    assert response.json()["recommendation"] == "eligible"
    assert WhitelistApplication.objects.get(pk=draft["id"]).state == "draft"


@pytest.mark.django_db
def test_evaluate__small_unverified_account__is_ineligible_with_reasons(
    merchant_client, merchant, organization
):
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="3100000002",
        followers_count=500,
        vertical_code="media",
    )
    created = merchant_client.post("/api/v1/applications/", evidence(account.pk), format="json").json()
    body = merchant_client.post(f"/api/v1/applications/{created['id']}/evaluate/").json()
    assert body["recommendation"] == "ineligible"
    failed = {r["criterion"] for r in body["results"] if r["outcome"] == "fail"}
    assert failed == {"verified_account", "open_vertical", "audience"}


# Entries


@pytest.fixture
def entry(staff_client, submitted) -> WhitelistEntry:
    staff_client.post(f"/api/v1/applications/{submitted['id']}/approve/", {}, format="json")
    return WhitelistEntry.objects.get(account_id=submitted["account"])


@pytest.mark.django_db
def test_entry_suspend__staff__takes_account_off_the_whitelist(staff_client, entry):
    response = staff_client.post(
        f"/api/v1/whitelist-entries/{entry.pk}/suspend/", {"reason": "Spam"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "suspended"
    assert APIClient().get("/api/v1/whitelist/weibo/3100000001/").json()["whitelisted"] is False


@pytest.mark.django_db
def test_entry_suspend__without_reason__is_400_and_unchanged(staff_client, entry):
    problem(
        staff_client.post(f"/api/v1/whitelist-entries/{entry.pk}/suspend/", {}, format="json"), 400, "reason"
    )
    entry.refresh_from_db()
    assert entry.state == "active"


@pytest.mark.django_db
def test_entry_reinstate__active__is_409(staff_client, entry):
    problem(
        staff_client.post(f"/api/v1/whitelist-entries/{entry.pk}/reinstate/", {"reason": "x"}, format="json"),
        409,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["suspend", "reinstate", "revoke"])
def test_entry_transition__by_merchant__is_403(merchant_client, entry, action):
    problem(
        merchant_client.post(
            f"/api/v1/whitelist-entries/{entry.pk}/{action}/", {"reason": "x"}, format="json"
        ),
        403,
    )


@pytest.mark.django_db
def test_entry_patch__share_limit_by_staff__is_saved(staff_client, entry):
    response = staff_client.patch(
        f"/api/v1/whitelist-entries/{entry.pk}/", {"share_limit_per_hour": 3}, format="json"
    )
    assert response.json()["share_limit_per_hour"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, -1, "many", None])
def test_entry_patch__bad_share_limit__is_400(staff_client, entry, value):
    response = staff_client.patch(
        f"/api/v1/whitelist-entries/{entry.pk}/", {"share_limit_per_hour": value}, format="json"
    )
    problem(response, 400, "share_limit_per_hour")
    entry.refresh_from_db()
    assert entry.share_limit_per_hour == 1


@pytest.mark.django_db
def test_entry_patch__by_merchant__is_403(merchant_client, entry):
    problem(
        merchant_client.patch(
            f"/api/v1/whitelist-entries/{entry.pk}/", {"share_limit_per_hour": 9}, format="json"
        ),
        403,
    )


@pytest.mark.django_db
def test_entries__other_merchant__sees_none_and_gets_404(other_client, entry):
    assert other_client.get("/api/v1/whitelist-entries/").json()["results"] == []
    problem(other_client.get(f"/api/v1/whitelist-entries/{entry.pk}/"), 404)


@pytest.mark.django_db
def test_entries__bad_account_filter__is_400(merchant_client):
    problem(merchant_client.get("/api/v1/whitelist-entries/?account=abc"), 400, "account")


# Public lookup


@pytest.mark.django_db
def test_lookup__unknown_account__is_404_problem():
    problem(APIClient().get("/api/v1/whitelist/weibo/999/"), 404)


@pytest.mark.django_db
def test_lookup__known_account_without_entry__is_not_whitelisted(account):
    body = APIClient().get(f"/api/v1/whitelist/weibo/{account.platform_uid}/").json()
    assert body == {
        "platform": "weibo",
        "platform_uid": account.platform_uid,
        "whitelisted": False,
        "state": None,
        "share_limit_per_hour": None,
        "valid_until": None,
    }
