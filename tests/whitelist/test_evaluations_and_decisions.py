"""Evaluations cannot be forged, and approval re-runs the criteria: the API, the services and the admin."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import OfficialAccount, Organization, User, VerificationStatus
from accounts.services import official_account_set_verification, official_account_update
from portal.errors import Conflict, Forbidden, InvalidInput
from tests import factories
from whitelist import services
from whitelist.models import (
    ApplicationState,
    Evaluation,
    EvaluationTrigger,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
)


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _overrider(username: str = "overrider") -> User:
    """Staff holding the "override criteria" permission (and nothing else)."""
    user = factories.StaffUserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="override_criteria"))
    return User.objects.get(pk=user.pk)  # a fresh instance: permissions are cached on the object


@pytest.fixture
def small_account(
    merchant: User, organization: Organization, reviewer: User, policy: object
) -> OfficialAccount:
    """Verified, in an open vertical, with fewer followers than policy v1's 100,000."""
    return factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="3100000077",
        screen_name="Small Shop",
        vertical_code="food_beverage",
        followers_count=20_000,
        verified_by=reviewer,
    )


@pytest.fixture
def small_submitted(merchant: User, small_account: OfficialAccount, evidence: dict) -> WhitelistApplication:
    draft = services.application_create(actor=merchant, account=small_account, data=evidence)
    return services.application_submit(actor=merchant, application=draft)


@pytest.fixture
def unverified_submitted(merchant: User, organization: Organization, evidence: dict, policy: object):
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="3100000088",
        vertical_code="food_beverage",
        followers_count=500_000,
    )
    draft = services.application_create(actor=merchant, account=account, data=evidence)
    return services.application_submit(actor=merchant, application=draft)


# 1. No forged evaluations


@pytest.mark.django_db
def test_forged_evaluation__raise_followers_evaluate_set_back__is_409_and_staff_see_the_submission(
    merchant_client, small_submitted, reviewer
):
    # Given a submitted application whose account has too few followers
    application = small_submitted
    account_url = f"/api/v1/accounts/{application.account_id}/"
    # When the merchant raises the figure, asks for an evaluation, and sets the figure back
    assert (
        merchant_client.patch(account_url, {"followers_count": 9_000_000}, format="json").status_code == 200
    )
    evaluate = merchant_client.post(f"/api/v1/applications/{application.pk}/evaluate/")
    merchant_client.patch(account_url, {"followers_count": 20_000}, format="json")
    # Then the evaluation is refused and nothing was recorded
    assert evaluate.status_code == 409
    assert evaluate["Content-Type"].startswith("application/problem+json")
    assert evaluate.json()["type"] == "urn:portal:problem:invalid-transition"
    assert application.evaluations.count() == 1
    # And staff see the submission's evaluation, ineligible, in the API and the admin's filter
    shown = _client(reviewer).get(f"/api/v1/applications/{application.pk}/").json()["evaluation"]
    assert (shown["recommendation"], shown["trigger"]) == ("ineligible", "submission")
    assert shown["facts"]["followers_count"] == 20_000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "state",
    [
        ApplicationState.SUBMITTED,
        ApplicationState.APPROVED,
        ApplicationState.REJECTED,
        ApplicationState.WITHDRAWN,
    ],
)
def test_applicant_evaluate__application_not_editable__is_409_and_records_nothing(
    merchant_client, application_in_state: Callable[[str], WhitelistApplication], state
):
    application = application_in_state(state)
    before = Evaluation.objects.count()
    response = merchant_client.post(f"/api/v1/applications/{application.pk}/evaluate/")
    assert response.status_code == 409
    assert Evaluation.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("state", [ApplicationState.DRAFT, ApplicationState.CHANGES_REQUESTED])
def test_applicant_evaluate__editable_application__is_a_check_that_shows_until_sent(
    merchant_client, application_in_state: Callable[[str], WhitelistApplication], state
):
    application = application_in_state(state)
    response = merchant_client.post(f"/api/v1/applications/{application.pk}/evaluate/")
    assert response.status_code == 200
    assert response.json()["trigger"] == "applicant"
    shown = merchant_client.get(f"/api/v1/applications/{application.pk}/").json()["evaluation"]
    assert shown["trigger"] == "applicant"


@pytest.mark.django_db
def test_applicant_check_after_submission__an_older_row__never_stands_for_the_application(
    merchant, reviewer, staff_client, small_submitted
):
    # Given a check row written after submission (as the API allowed before), claiming eligibility
    submission = small_submitted.evaluations.get()
    Evaluation.objects.create(
        application=small_submitted,
        policy=submission.policy,
        results=[],
        recommendation="eligible",
        trigger=EvaluationTrigger.APPLICANT,
    )
    # Then the API, the admin queue and its recommendation filter still show the submission's
    shown = staff_client.get(f"/api/v1/applications/{small_submitted.pk}/").json()["evaluation"]
    assert shown["recommendation"] == "ineligible"
    listed = staff_client.get("/api/v1/applications/").json()["results"]
    assert [row["evaluation"]["recommendation"] for row in listed] == ["ineligible"]
    admin = APIClient()
    admin.force_login(User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456"))
    changelist = reverse("admin:whitelist_whitelistapplication_changelist")
    assert "Small Shop" not in admin.get(changelist, {"recommendation": "eligible"}).content.decode()
    assert "Small Shop" in admin.get(changelist, {"recommendation": "ineligible"}).content.decode()


@pytest.mark.django_db
def test_staff_evaluate__submitted_application__is_shown_and_in_the_timeline_with_who_ran_it(
    merchant_client, staff_client, reviewer, small_submitted
):
    # Given staff raised the account's figure (staff and the directory are its sources of truth)
    official_account_update(
        actor=reviewer, account=small_submitted.account, data={"followers_count": 300_000}
    )
    # When staff re-evaluate
    response = staff_client.post(f"/api/v1/applications/{small_submitted.pk}/evaluate/")
    # Then the new evaluation is the one shown, and the timeline says who ran it, for staff only
    assert response.status_code == 200
    assert (response.json()["trigger"], response.json()["recommendation"]) == ("staff", "eligible")
    shown = merchant_client.get(f"/api/v1/applications/{small_submitted.pk}/").json()["evaluation"]
    assert (shown["trigger"], shown["facts"]["followers_count"]) == ("staff", 300_000)
    event = ReviewEvent.objects.get(application=small_submitted, evaluation__trigger="staff")
    assert (event.actor, event.visible_to_applicant, event.to_state) == (reviewer, False, "")
    assert "Eligible" in event.message
    staff_events = staff_client.get(f"/api/v1/applications/{small_submitted.pk}/events/").json()["results"]
    assert staff_events[0]["actor"] == reviewer.username
    applicant_events = merchant_client.get(f"/api/v1/applications/{small_submitted.pk}/events/").json()
    assert all(row["id"] != event.pk for row in applicant_events["results"])


@pytest.mark.django_db
def test_evaluation__keeps_the_facts_it_read__after_the_account_changes(reviewer, submitted):
    # Given a submitted application evaluated with 250,000 followers of a verified account
    # When staff later change the figure and the vertical
    official_account_update(
        actor=reviewer,
        account=submitted.account,
        data={"followers_count": 1_000, "vertical": factories.vertical("media")},
    )
    # Then the evaluation still tells what was true when it ran
    facts = submitted.evaluations.get().facts
    assert (facts["followers_count"], facts["vertical_code"], facts["account_verified"]) == (
        250_000,
        "food_beverage",
        True,
    )


# 2. No approval past a failed required criterion


@pytest.mark.django_db
def test_approve__unverified_account__is_409_criteria_not_met_and_changes_nothing(
    staff_client, unverified_submitted
):
    evaluations_before = Evaluation.objects.count()
    response = staff_client.post(
        f"/api/v1/applications/{unverified_submitted.pk}/approve/", {}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "urn:portal:problem:criteria-not-met"
    assert list(body["errors"]) == ["verified_account"]
    assert "Verified account" in body["detail"]
    unverified_submitted.refresh_from_db()
    assert unverified_submitted.state == ApplicationState.SUBMITTED
    assert not WhitelistEntry.objects.filter(account=unverified_submitted.account).exists()
    assert Evaluation.objects.count() == evaluations_before


@pytest.mark.django_db
def test_approve__account_unverified_after_submission__is_refused_at_decision_time(reviewer, submitted):
    # Given an application eligible when submitted, whose account staff un-verify afterwards
    assert submitted.evaluations.get().recommendation == "eligible"
    official_account_set_verification(
        actor=reviewer, account=submitted.account, status=VerificationStatus.UNVERIFIED
    )
    # Then approving it is refused on the criteria as they are now
    with pytest.raises(services.CriteriaNotMet) as refused:
        services.application_approve(actor=reviewer, application=submitted)
    assert refused.value.failing == ["verified_account"]


@pytest.mark.django_db
def test_approve_override__without_the_permission__is_403(staff_client, unverified_submitted):
    response = staff_client.post(
        f"/api/v1/applications/{unverified_submitted.pk}/approve/",
        {"override": True, "message": "Directory is late."},
        format="json",
    )
    assert response.status_code == 403
    unverified_submitted.refresh_from_db()
    assert unverified_submitted.state == ApplicationState.SUBMITTED


@pytest.mark.django_db
def test_approve_override__without_a_message__is_400_naming_message(unverified_submitted):
    with pytest.raises(InvalidInput) as refused:
        services.application_approve(actor=_overrider(), application=unverified_submitted, override=True)
    assert "message" in refused.value.errors


@pytest.mark.django_db
def test_approve_override__with_the_permission__approves_and_records_it_for_staff_only(
    merchant_client, unverified_submitted
):
    # Given staff allowed to override the criteria
    overrider = _overrider()
    # When they approve an unverified account's application, saying why
    response = _client(overrider).post(
        f"/api/v1/applications/{unverified_submitted.pk}/approve/",
        {"override": True, "message": "Verification is pending with the directory."},
        format="json",
    )
    # Then it is approved, and the timeline keeps the override and its failing criteria for staff
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert WhitelistEntry.objects.filter(account=unverified_submitted.account, state="active").exists()
    override = ReviewEvent.objects.get(application=unverified_submitted, visible_to_applicant=False)
    assert override.actor == overrider
    assert "verified_account" in override.message
    assert "Verification is pending with the directory." in override.message
    assert override.evaluation is not None and override.evaluation.trigger == "decision"
    applicant_events = merchant_client.get(f"/api/v1/applications/{unverified_submitted.pk}/events/").json()
    assert all("directory" not in row["message"] for row in applicant_events["results"])


@pytest.mark.django_db
def test_approve_override__nothing_fails__is_a_plain_approval(submitted):
    services.application_approve(actor=_overrider(), application=submitted, override=True, message="Sure.")
    submitted.refresh_from_db()
    assert submitted.state == ApplicationState.APPROVED
    assert not ReviewEvent.objects.filter(application=submitted, visible_to_applicant=False).exists()


@pytest.mark.django_db
def test_merchant_account_edit__followers_or_vertical_of_verified_account__sends_it_back_to_unverified(
    merchant, eligible_account
):
    for data in ({"followers_count": 9_000_000}, {"vertical": factories.vertical("media")}):
        account = OfficialAccount.objects.get(pk=eligible_account.pk)
        official_account_set_verification(
            actor=factories.StaffUserFactory(), account=account, status=VerificationStatus.VERIFIED
        )
        account = official_account_update(actor=merchant, account=account, data=data)
        account.refresh_from_db()
        assert account.verification_status == VerificationStatus.UNVERIFIED, data
        assert account.verified_at is None


@pytest.mark.django_db
def test_merchant_account_edit__screen_name_only__keeps_verification(merchant, eligible_account):
    account = official_account_update(actor=merchant, account=eligible_account, data={"screen_name": "New"})
    account.refresh_from_db()
    assert account.verification_status == VerificationStatus.VERIFIED


# The admin


@pytest.fixture
def chief(client, db):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    return client


@pytest.fixture
def plain_reviewer_client(db):
    """Staff who may decide applications but not override the criteria."""
    from django.test import Client

    user = factories.StaffUserFactory(username="plain_reviewer")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_whitelistapplication", "change_whitelistapplication"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_admin_bulk_approve__skips_and_names_those_whose_criteria_fail(
    chief, submitted, unverified_submitted
):
    url = reverse("admin:whitelist_whitelistapplication_changelist")
    response = chief.post(
        url,
        {"action": "bulk_approve", "_selected_action": [submitted.pk, unverified_submitted.pk], "apply": "1"},
        follow=True,
    )
    assert response.status_code == 200
    states = dict(
        WhitelistApplication.objects.filter(pk__in=[submitted.pk, unverified_submitted.pk]).values_list(
            "pk", "state"
        )
    )
    assert states == {submitted.pk: "approved", unverified_submitted.pk: "submitted"}
    text = response.content.decode()
    assert f"#{unverified_submitted.pk}" in text and "required criteria are not met" in text
    assert "1 done." in text


@pytest.mark.django_db
def test_admin_approve__criteria_fail__shows_the_refusal_and_offers_the_override(chief, unverified_submitted):
    url = reverse("admin:whitelist_application_decide", args=[unverified_submitted.pk, "approve"])
    refused = chief.post(url, {"message": ""})
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "required criteria are not met" in text and "verified_account" in text
    assert 'name="override"' in text
    # When the superuser (who holds every permission) overrides with a reason
    approved = chief.post(url, {"message": "Directory is late.", "override": "on"})
    assert approved.status_code == 302
    unverified_submitted.refresh_from_db()
    assert unverified_submitted.state == ApplicationState.APPROVED


@pytest.mark.django_db
def test_admin_approve__reviewer_without_the_permission__gets_no_override(
    plain_reviewer_client, unverified_submitted
):
    url = reverse("admin:whitelist_application_decide", args=[unverified_submitted.pk, "approve"])
    refused = plain_reviewer_client.post(url, {"message": "Directory is late.", "override": "on"})
    assert refused.status_code == 200
    text = refused.content.decode()
    assert 'name="override"' not in text
    assert "Only staff allowed to override the criteria" in text
    unverified_submitted.refresh_from_db()
    assert unverified_submitted.state == ApplicationState.SUBMITTED


@pytest.mark.django_db
def test_admin_re_evaluate__any_state__records_who_ran_it(chief, application_in_state):
    application = application_in_state(ApplicationState.APPROVED)
    page = chief.get(reverse("admin:whitelist_whitelistapplication_change", args=[application.pk]))
    url = reverse("admin:whitelist_application_decide", args=[application.pk, "re_evaluate"])
    assert url in page.content.decode()
    response = chief.post(url, {})
    assert response.status_code == 302
    event = ReviewEvent.objects.filter(application=application).latest("id")
    assert event.actor.username == "chief" and event.evaluation.trigger == "staff"


# 3. Policies are edited through the service


@pytest.mark.django_db
def test_policy_update__version_ever_active__is_409(staff, policy):
    with pytest.raises(Conflict):
        services.policy_update(actor=staff, policy=policy, data={"min_followers": 1})
    policy.refresh_from_db()
    assert policy.min_followers == 100_000


@pytest.mark.django_db
def test_policy_update__by_merchant__is_forbidden(merchant, staff, policy):
    draft = services.policy_create_version(actor=staff, data={}, open_verticals=None)
    with pytest.raises(Forbidden):
        services.policy_update(actor=merchant, policy=draft, data={"min_followers": 1})


def _policy_form(policy, **changes) -> dict:
    form = {
        "open_verticals": list(policy.open_verticals.values_list("pk", flat=True)),
        "min_followers": policy.min_followers,
        "min_dev_team_size": policy.min_dev_team_size,
        "min_user_services": policy.min_user_services,
        "support_channel_required": "on",
        "required_criteria": '["verified_account", "open_vertical", "audience"]',
        "entry_validity_days": policy.entry_validity_days,
        "default_share_limit_per_hour": policy.default_share_limit_per_hour,
        "max_live_links_per_account": policy.max_live_links_per_account,
        "notes": "",
    }
    return {**form, **changes}


@pytest.mark.django_db
def test_admin_policy_change__draft_version__is_saved_through_the_service(chief, staff, policy):
    draft = services.policy_create_version(actor=staff, data={}, open_verticals=None)
    url = reverse("admin:whitelist_criteriapolicy_change", args=[draft.pk])
    response = chief.post(url, _policy_form(draft, min_followers=42_000))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.min_followers == 42_000


@pytest.mark.django_db
def test_admin_policy_change__version_activated_meanwhile__is_reported_never_saved_nor_500(
    chief, policy, monkeypatch
):
    # Given a form opened while the version could change (the page's own check passed), then activated
    from whitelist.admin import CriteriaPolicyAdmin

    monkeypatch.setattr(CriteriaPolicyAdmin, "has_change_permission", lambda self, request, obj=None: True)
    url = reverse("admin:whitelist_criteriapolicy_change", args=[policy.pk])
    # When it is saved
    response = chief.post(url, _policy_form(policy, min_followers=1), follow=True)
    # Then the refusal is told and the frozen version is unchanged
    assert response.status_code == 200
    assert "can no longer change" in response.content.decode()
    policy.refresh_from_db()
    assert policy.min_followers == 100_000
