"""Whitelist services: the application state machine, evaluations, the open-application rule, entries."""

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import MembershipRole
from accounts.services import membership_add
from portal.errors import Conflict, Forbidden, InvalidInput
from tests import factories
from whitelist import services
from whitelist.constants import Criterion, Outcome, Recommendation
from whitelist.models import (
    ApplicationState,
    CriteriaPolicy,
    EntryState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

State = ApplicationState
ALL_STATES = tuple(State.values)
APPLICANTS = frozenset({"merchant", "org_admin"})
REVIEWERS = frozenset({"reviewer"})
STAFF = frozenset({"reviewer", "staff_member"})
ACTORS = ("merchant", "org_admin", "plain_member", "other_merchant", "reviewer", "staff_member")

# action: (who may do it, the states it leaves from, the state it goes to; None for a note)
TRANSITIONS: dict[str, tuple[frozenset[str], tuple[str, ...], str | None]] = {
    "submit": (APPLICANTS, (State.DRAFT,), State.SUBMITTED),
    "resubmit": (APPLICANTS, (State.CHANGES_REQUESTED,), State.SUBMITTED),
    "withdraw": (APPLICANTS, (State.SUBMITTED, State.CHANGES_REQUESTED), State.WITHDRAWN),
    "request_changes": (REVIEWERS, (State.SUBMITTED,), State.CHANGES_REQUESTED),
    "approve": (REVIEWERS, (State.SUBMITTED,), State.APPROVED),
    "reject": (REVIEWERS, (State.SUBMITTED,), State.REJECTED),
    "note": (STAFF, ALL_STATES, None),
}


def perform(action, *, actor, application, reason_codes):
    """Call the service of an action with valid arguments, so only the state and the actor decide."""
    if action == "submit":
        return services.application_submit(actor=actor, application=application)
    if action == "resubmit":
        return services.application_resubmit(actor=actor, application=application)
    if action == "withdraw":
        return services.application_withdraw(actor=actor, application=application)
    if action == "request_changes":
        return services.application_request_changes(
            actor=actor, application=application, message="Add the team's contracts."
        )
    if action == "approve":
        return services.application_approve(actor=actor, application=application)
    if action == "reject":
        return services.application_reject(
            actor=actor, application=application, reason_code=reason_codes["no_independent_development"]
        )
    if action == "note":
        return services.application_note(actor=actor, application=application, message="Checked the site.")
    raise AssertionError(action)


def event_ids(application):
    return list(ReviewEvent.objects.filter(application=application).values_list("pk", flat=True))


# The state machine: every action, in every state, by every kind of actor


@pytest.mark.django_db
@pytest.mark.parametrize("actor_name", ACTORS)
@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", TRANSITIONS)
def test_transition__state_by_actor__moves_or_is_refused_with_nothing_written(
    request, application_in_state, reason_codes, action, state, actor_name
):
    # Given an application in the state, and the actor
    application = application_in_state(state)
    actor = request.getfixturevalue(actor_name)
    allowed_actors, allowed_from, to_state = TRANSITIONS[action]
    before = event_ids(application)

    if actor_name not in allowed_actors:
        # Then the wrong actor is refused, whatever the state
        with pytest.raises(Forbidden) as caught:
            perform(action, actor=actor, application=application, reason_codes=reason_codes)
        assert caught.value.status_code == 403
    elif state not in allowed_from:
        # Then the illegal move is a conflict naming the current state
        with pytest.raises(Conflict) as caught:
            perform(action, actor=actor, application=application, reason_codes=reason_codes)
        assert caught.value.status_code == 409
        assert caught.value.code == "invalid-transition"
        assert f"that is {State(state).label}." in caught.value.message
    else:
        # Then the legal move happens and is recorded
        perform(action, actor=actor, application=application, reason_codes=reason_codes)
        application.refresh_from_db()
        assert application.state == (to_state or state)
        event = ReviewEvent.objects.filter(application=application).last()
        assert event.pk not in before
        assert (event.actor, event.from_state, event.to_state) == (
            actor,
            state if to_state else "",
            to_state or "",
        )
        return

    application.refresh_from_db()
    assert application.state == state
    assert event_ids(application) == before


@pytest.mark.django_db
def test_staff_admin_of_applicant_org__may_submit_but_not_decide(merchant, organization, submitted):
    # Given platform staff who is also an admin of the applicant organization
    insider = factories.StaffUserFactory(username="insider_admin")
    membership_add(actor=merchant, organization=organization, user=insider, role=MembershipRole.ADMIN)

    # When they try to approve their own organization's application
    with pytest.raises(Forbidden) as caught:
        services.application_approve(actor=insider, application=submitted)

    # Then another reviewer must decide
    assert "another reviewer must decide" in caught.value.message
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED
    services.application_withdraw(actor=insider, application=submitted)
    assert WhitelistApplication.objects.get(pk=submitted.pk).state == State.WITHDRAWN


# What each transition records


@pytest.mark.django_db
def test_create__draft__records_a_visible_draft_event(merchant, draft):
    [event] = ReviewEvent.objects.filter(application=draft)
    assert (event.actor, event.from_state, event.to_state) == (merchant, "", State.DRAFT)
    assert event.visible_to_applicant
    assert draft.state == State.DRAFT and draft.organization_id == draft.account.organization_id


@pytest.mark.django_db
def test_submit__draft__records_event_with_evaluation_under_active_policy(merchant, draft, policy):
    services.application_submit(actor=merchant, application=draft)

    draft.refresh_from_db()
    assert draft.state == State.SUBMITTED and draft.submitted_at is not None
    event = ReviewEvent.objects.filter(application=draft).last()
    evaluation = Evaluation.objects.get(application=draft)
    assert (event.actor, event.from_state, event.to_state) == (merchant, State.DRAFT, State.SUBMITTED)
    assert (event.reason_code, event.message, event.visible_to_applicant) == (None, "", True)
    assert event.evaluation == evaluation
    assert evaluation.policy == policy and evaluation.policy.version == 1
    assert evaluation.recommendation == Recommendation.ELIGIBLE
    assert [r["criterion"] for r in evaluation.results] == list(Criterion.values)
    assert {r["outcome"] for r in evaluation.results} == {Outcome.PASS}


@pytest.mark.django_db
def test_request_changes__with_message_and_reason__records_both_visible(reviewer, submitted, reason_codes):
    services.application_request_changes(
        actor=reviewer,
        application=submitted,
        message="  Add the team's contracts.  ",
        reason_code=reason_codes["evidence_insufficient"],
    )

    event = ReviewEvent.objects.filter(application=submitted).last()
    assert (event.actor, event.from_state, event.to_state) == (
        reviewer,
        State.SUBMITTED,
        State.CHANGES_REQUESTED,
    )
    assert event.message == "Add the team's contracts."
    assert event.reason_code == reason_codes["evidence_insufficient"]
    assert event.visible_to_applicant and event.evaluation is None


@pytest.mark.django_db
def test_resubmit__changes_requested__is_evaluated_again(merchant, reviewer, submitted):
    services.application_request_changes(actor=reviewer, application=submitted, message="More detail.")

    services.application_resubmit(actor=merchant, application=submitted)

    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED
    first, second = Evaluation.objects.filter(application=submitted).order_by("id")
    submit_event, resubmit_event = ReviewEvent.objects.filter(
        application=submitted, to_state=State.SUBMITTED
    ).order_by("id")
    assert (resubmit_event.actor, resubmit_event.from_state) == (merchant, State.CHANGES_REQUESTED)
    assert (submit_event.evaluation, resubmit_event.evaluation) == (first, second)
    assert second.policy.version == 1


@pytest.mark.django_db
def test_reject__reason_code_without_message__shows_the_canned_text(reviewer, submitted, reason_codes):
    code = reason_codes["services_not_user_facing"]

    services.application_reject(actor=reviewer, application=submitted, reason_code=code)

    submitted.refresh_from_db()
    assert submitted.state == State.REJECTED and submitted.decided_at is not None
    event = ReviewEvent.objects.filter(application=submitted).last()
    assert (event.actor, event.from_state, event.to_state) == (reviewer, State.SUBMITTED, State.REJECTED)
    assert (event.reason_code, event.message, event.visible_to_applicant) == (code, code.text, True)


@pytest.mark.django_db
def test_reject__with_message__keeps_the_message_and_the_code(reviewer, submitted, reason_codes):
    code = reason_codes["vertical_not_open"]
    services.application_reject(
        actor=reviewer, application=submitted, reason_code=code, message="Finance opens next year."
    )
    event = ReviewEvent.objects.filter(application=submitted).last()
    assert (event.reason_code, event.message) == (code, "Finance opens next year.")


@pytest.mark.django_db
def test_withdraw__submitted__records_the_applicants_event(org_admin, submitted):
    services.application_withdraw(actor=org_admin, application=submitted)
    event = ReviewEvent.objects.filter(application=submitted).last()
    assert (event.actor, event.from_state, event.to_state) == (org_admin, State.SUBMITTED, State.WITHDRAWN)
    assert (event.reason_code, event.message, event.visible_to_applicant) == (None, "", True)


@pytest.mark.django_db
def test_approve__with_message__records_decision(reviewer, submitted):
    services.application_approve(actor=reviewer, application=submitted, message=" Welcome aboard. ")
    submitted.refresh_from_db()
    assert submitted.state == State.APPROVED and submitted.decided_at is not None
    event = ReviewEvent.objects.filter(application=submitted).last()
    assert (event.actor, event.from_state, event.to_state) == (reviewer, State.SUBMITTED, State.APPROVED)
    assert (event.reason_code, event.message, event.visible_to_applicant) == (None, "Welcome aboard.", True)


@pytest.mark.django_db
@pytest.mark.parametrize("visible", [False, True])
def test_note__by_staff__is_a_note_hidden_unless_said_otherwise(reviewer, submitted, visible):
    services.application_note(
        actor=reviewer, application=submitted, message="Called the hotline.", visible_to_applicant=visible
    )
    event = ReviewEvent.objects.filter(application=submitted).last()
    assert event.is_note and (event.from_state, event.to_state) == ("", "")
    assert (event.actor, event.message, event.visible_to_applicant) == (
        reviewer,
        "Called the hotline.",
        visible,
    )
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


@pytest.mark.django_db
def test_note__blank__is_refused_naming_message(reviewer, submitted):
    with pytest.raises(InvalidInput) as caught:
        services.application_note(actor=reviewer, application=submitted, message="   ")
    assert "message" in caught.value.errors


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["", "   "])
def test_request_changes__without_message__is_refused_naming_message(reviewer, submitted, message):
    before = event_ids(submitted)
    with pytest.raises(InvalidInput) as caught:
        services.application_request_changes(actor=reviewer, application=submitted, message=message)
    assert "message" in caught.value.errors
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED and event_ids(submitted) == before


@pytest.mark.django_db
def test_reject__without_reason_code__is_refused_naming_reason_code(reviewer, submitted):
    with pytest.raises(InvalidInput) as caught:
        services.application_reject(actor=reviewer, application=submitted, reason_code=None, message="No.")
    assert "reason_code" in caught.value.errors
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


# Evaluations are kept with the policy they were made under


@pytest.mark.django_db
def test_evaluation__policy_changes_later__old_one_unchanged_and_new_one_uses_new_policy(
    merchant, reviewer, submitted, policy
):
    # Given an application evaluated as eligible under policy v1 (250,000 followers, minimum 100,000)
    old = Evaluation.objects.get(application=submitted)
    old_results = list(old.results)
    assert old.recommendation == Recommendation.ELIGIBLE

    # When staff make v2 ask for a million followers and activate it
    v2 = services.policy_create_version(
        actor=reviewer, data={"min_followers": 1_000_000}, open_verticals=None
    )
    services.policy_activate(actor=reviewer, policy=v2)

    # Then v1 is kept, inactive, and the old evaluation still reads as it did
    policy.refresh_from_db()
    v2.refresh_from_db()
    assert (policy.is_active, v2.is_active, v2.version) == (False, True, 2)
    assert v2.activated_at is not None
    assert list(CriteriaPolicy.objects.filter(is_active=True)) == [v2]
    old.refresh_from_db()
    assert (old.policy, old.results, old.recommendation) == (policy, old_results, Recommendation.ELIGIBLE)

    # And the next evaluation of the same application is made under v2
    services.application_request_changes(actor=reviewer, application=submitted, message="Re-check please.")
    services.application_resubmit(actor=merchant, application=submitted)
    new = Evaluation.objects.filter(application=submitted).latest()
    assert new.pk != old.pk and new.policy == v2
    audience = next(r for r in new.results if r["criterion"] == Criterion.AUDIENCE)
    assert audience["outcome"] == Outcome.FAIL
    assert "fewer than the minimum of 1,000,000" in audience["reason"]
    assert new.recommendation == Recommendation.INELIGIBLE


# One open application per account


@pytest.mark.django_db
def test_create__second_open_application__is_conflict_and_nothing_created(
    evidence, merchant, draft, eligible_account
):
    with pytest.raises(Conflict) as caught:
        services.application_create(actor=merchant, account=eligible_account, data=evidence)
    assert caught.value.status_code == 409
    assert f"#{draft.pk}" in caught.value.message
    assert WhitelistApplication.objects.filter(account=eligible_account).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("second_state", [State.DRAFT, State.SUBMITTED, State.CHANGES_REQUESTED])
def test_open_application__second_open_row_behind_the_services_back__is_refused_by_database(
    merchant, draft, eligible_account, second_state
):
    with pytest.raises(IntegrityError), transaction.atomic():
        WhitelistApplication.objects.create(
            account=eligible_account,
            organization=eligible_account.organization,
            created_by=merchant,
            state=second_state,
        )


@pytest.mark.django_db
def test_create__after_withdraw__is_allowed(evidence, merchant, submitted, eligible_account):
    services.application_withdraw(actor=merchant, application=submitted)

    second = services.application_create(actor=merchant, account=eligible_account, data=evidence)

    assert second.pk != submitted.pk and second.state == State.DRAFT
    assert list(
        WhitelistApplication.objects.filter(account=eligible_account)
        .order_by("id")
        .values_list("state", flat=True)
    ) == [State.WITHDRAWN, State.DRAFT]


@pytest.mark.django_db
def test_create__by_plain_member__is_forbidden(evidence, plain_member, eligible_account, policy):
    with pytest.raises(Forbidden):
        services.application_create(actor=plain_member, account=eligible_account, data=evidence)
    assert not WhitelistApplication.objects.exists()


# Approval grants, and later renews, the entry


@pytest.mark.django_db
def test_approve__first_time__creates_active_entry_from_policy_defaults(reviewer, submitted, policy):
    before = timezone.now()
    services.application_approve(actor=reviewer, application=submitted)
    after = timezone.now()

    entry = WhitelistEntry.objects.get(account=submitted.account)
    assert entry.state == EntryState.ACTIVE
    assert entry.application_id == submitted.pk
    assert entry.share_limit_per_hour == policy.default_share_limit_per_hour == 1
    validity = timedelta(days=policy.entry_validity_days)
    assert before + validity <= entry.valid_until <= after + validity
    assert entry.valid_until - entry.valid_from == validity
    [event] = WhitelistEntryEvent.objects.filter(entry=entry)
    assert (event.action, event.from_state, event.to_state, event.actor) == (
        "granted",
        "",
        EntryState.ACTIVE,
        reviewer,
    )
    assert event.details == {"policy": 1}


@pytest.mark.django_db
def test_approve__new_application_after_approval__renews_the_same_entry(
    evidence, merchant, reviewer, second_reviewer, submitted, eligible_account
):
    # Given an entry granted by a first approval, near its end
    services.application_approve(actor=reviewer, application=submitted)
    entry = WhitelistEntry.objects.get(account=eligible_account)
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=timezone.now() - timedelta(days=360), valid_until=timezone.now() + timedelta(days=5)
    )

    # When a new application is approved
    renewal = services.application_create(actor=merchant, account=eligible_account, data=evidence)
    services.application_submit(actor=merchant, application=renewal)
    services.application_approve(actor=second_reviewer, application=renewal)

    # Then the one entry now runs a full period from the renewal
    assert WhitelistEntry.objects.filter(account=eligible_account).count() == 1
    renewed = WhitelistEntry.objects.get(account=eligible_account)
    assert renewed.pk == entry.pk
    assert renewed.application_id == renewal.pk
    assert renewed.state == EntryState.ACTIVE
    assert renewed.valid_until > timezone.now() + timedelta(days=364)
    assert list(
        WhitelistEntryEvent.objects.filter(entry=entry).values_list("action", "from_state", "actor")
    ) == [
        ("granted", "", reviewer.pk),
        ("renewed", EntryState.ACTIVE, second_reviewer.pk),
    ]


@pytest.mark.django_db(transaction=True)
def test_approve__two_reviewers_at_once_on_postgres__one_wins_other_gets_conflict(
    postgres, reviewer, second_reviewer, submitted
):
    # Given two staff reviewers deciding the same submitted application at the same moment
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(actor) -> None:  # type: ignore[no-untyped-def]
        application = WhitelistApplication.objects.get(pk=submitted.pk)
        barrier.wait()
        try:
            services.application_approve(actor=actor, application=application)
            outcomes.append("approved")
        except Conflict as exc:
            outcomes.append(f"conflict:{exc.message}")
        finally:
            connection.close()

    # When both approve
    threads = [threading.Thread(target=approve, args=(actor,)) for actor in (reviewer, second_reviewer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then exactly one approval happened, the other was told the application is already approved
    assert sorted(outcomes) == ["approved", "conflict:Cannot approve an application that is Approved."]
    assert WhitelistEntry.objects.filter(account_id=submitted.account_id).count() == 1
    assert ReviewEvent.objects.filter(application=submitted, to_state=State.APPROVED).count() == 1
    assert WhitelistEntryEvent.objects.filter(entry__account_id=submitted.account_id).count() == 1


# Entries: suspension, reinstatement, revocation, share limits, history


def entry_to_state(entry, state, *, actor):
    """Bring an active entry to a state through the services."""
    if state == EntryState.SUSPENDED:
        return services.whitelist_entry_suspend(actor=actor, entry=entry, reason="Spam reports.")
    if state == EntryState.REVOKED:
        return services.whitelist_entry_revoke(actor=actor, entry=entry, reason="Fraud.")
    if state == EntryState.EXPIRED:
        WhitelistEntry.objects.filter(pk=entry.pk).update(
            valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(days=1)
        )
        assert services.whitelist_entries_expire() == 1
        return WhitelistEntry.objects.get(pk=entry.pk)
    return entry


ENTRY_MOVES = {
    "suspend": (services.whitelist_entry_suspend, (EntryState.ACTIVE,), EntryState.SUSPENDED),
    "reinstate": (services.whitelist_entry_reinstate, (EntryState.SUSPENDED,), EntryState.ACTIVE),
    "revoke": (
        services.whitelist_entry_revoke,
        (EntryState.ACTIVE, EntryState.SUSPENDED),
        EntryState.REVOKED,
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("state", EntryState.values)
@pytest.mark.parametrize("action", ENTRY_MOVES)
def test_entry_move__each_state__moves_or_is_conflict(reviewer, second_reviewer, entry, action, state):
    # Given an entry in the state
    entry = entry_to_state(entry, state, actor=reviewer)
    service, allowed_from, to_state = ENTRY_MOVES[action]
    events_before = WhitelistEntryEvent.objects.filter(entry=entry).count()

    if state in allowed_from:
        # Then the move happens with its reason in the history
        service(actor=second_reviewer, entry=entry, reason=" Checked again. ")
        entry.refresh_from_db()
        assert entry.state == to_state
        event = WhitelistEntryEvent.objects.filter(entry=entry).last()
        assert (event.action, event.from_state, event.to_state, event.reason, event.actor) == (
            action,
            state,
            to_state,
            "Checked again.",
            second_reviewer,
        )
        return

    # Then the move is a conflict and nothing changes
    with pytest.raises(Conflict) as caught:
        service(actor=second_reviewer, entry=entry, reason="Checked again.")
    assert caught.value.status_code == 409
    entry.refresh_from_db()
    assert entry.state == state
    assert WhitelistEntryEvent.objects.filter(entry=entry).count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("action", ENTRY_MOVES)
@pytest.mark.parametrize("reason", ["", "  "])
def test_entry_move__without_reason__is_refused_naming_reason(reviewer, entry, action, reason):
    if action == "reinstate":
        entry = entry_to_state(entry, EntryState.SUSPENDED, actor=reviewer)
    state = entry.state
    events_before = WhitelistEntryEvent.objects.filter(entry=entry).count()
    service = ENTRY_MOVES[action][0]

    with pytest.raises(InvalidInput) as caught:
        service(actor=reviewer, entry=entry, reason=reason)

    assert "reason" in caught.value.errors
    entry.refresh_from_db()
    assert entry.state == state
    assert WhitelistEntryEvent.objects.filter(entry=entry).count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_entry_move__by_the_merchant__is_forbidden(merchant, entry, action):
    with pytest.raises(Forbidden):
        ENTRY_MOVES[action][0](actor=merchant, entry=entry, reason="I want to.")
    entry.refresh_from_db()
    assert entry.state == EntryState.ACTIVE


@pytest.mark.django_db
def test_reinstate__suspended_past_validity__is_conflict_naming_the_end(reviewer, entry):
    # Given a suspended entry whose validity ended before the daily expiry ran
    entry = entry_to_state(entry, EntryState.SUSPENDED, actor=reviewer)
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(days=1)
    )
    entry.refresh_from_db()

    with pytest.raises(Conflict) as caught:
        services.whitelist_entry_reinstate(actor=reviewer, entry=entry, reason="Appeal accepted.")

    assert "needs a new application" in caught.value.message
    assert entry.valid_until.date().isoformat() in caught.value.message
    entry.refresh_from_db()
    assert entry.state == EntryState.SUSPENDED


@pytest.mark.django_db
def test_reinstate__by_merchant_on_entry_past_validity__is_forbidden(merchant, reviewer, entry):
    entry = entry_to_state(entry, EntryState.SUSPENDED, actor=reviewer)
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(days=1)
    )
    entry.refresh_from_db()

    with pytest.raises(Forbidden):
        services.whitelist_entry_reinstate(actor=merchant, entry=entry, reason="Please.")


@pytest.mark.django_db
def test_revoke__then_new_application__fails_good_standing_and_is_ineligible(
    evidence, merchant, reviewer, entry, eligible_account
):
    # Given a whitelisting revoked today
    before = timezone.now()
    services.whitelist_entry_revoke(actor=reviewer, entry=entry, reason="Fraud confirmed.")
    entry.refresh_from_db()
    assert entry.state == EntryState.REVOKED
    assert entry.revoked_at is not None and entry.revoked_at >= before

    # When the account applies again
    again = services.application_create(actor=merchant, account=eligible_account, data=evidence)
    services.application_submit(actor=merchant, application=again)

    # Then the evaluation says why it is ineligible
    evaluation = Evaluation.objects.get(application=again)
    standing = next(r for r in evaluation.results if r["criterion"] == Criterion.GOOD_STANDING)
    assert standing["outcome"] == Outcome.FAIL
    # (the date the merchant reads is the one in the merchant's zone, which is a day ahead of UTC
    # from 16:00 UTC)
    revoked_on = timezone.localtime(entry.revoked_at, ZoneInfo(settings.MERCHANT_TIME_ZONE)).date()
    assert f"revoked on {revoked_on.isoformat()}, less than 180 days ago" in standing["reason"]
    assert evaluation.recommendation == Recommendation.INELIGIBLE


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [0, -3])
def test_set_share_limit__below_one__is_refused_and_unchanged(reviewer, entry, limit):
    with pytest.raises(InvalidInput) as caught:
        services.whitelist_entry_set_share_limit(actor=reviewer, entry=entry, share_limit_per_hour=limit)
    assert "share_limit_per_hour" in caught.value.errors
    entry.refresh_from_db()
    assert entry.share_limit_per_hour == 1
    assert not WhitelistEntryEvent.objects.filter(entry=entry, action="share_limit").exists()


@pytest.mark.django_db
def test_set_share_limit__by_merchant__is_forbidden(merchant, entry):
    with pytest.raises(Forbidden):
        services.whitelist_entry_set_share_limit(actor=merchant, entry=entry, share_limit_per_hour=50)
    entry.refresh_from_db()
    assert entry.share_limit_per_hour == 1


@pytest.mark.django_db
def test_set_share_limit__same_value__records_nothing(reviewer, entry):
    services.whitelist_entry_set_share_limit(actor=reviewer, entry=entry, share_limit_per_hour=1)
    assert not WhitelistEntryEvent.objects.filter(entry=entry, action="share_limit").exists()


@pytest.mark.django_db
def test_entry_history__every_change__is_recorded_in_order(
    evidence, merchant, reviewer, second_reviewer, entry, eligible_account
):
    # Given an entry that staff change in every way, then renew after revocation
    services.whitelist_entry_set_share_limit(actor=reviewer, entry=entry, share_limit_per_hour=5)
    services.whitelist_entry_suspend(actor=reviewer, entry=entry, reason="Spam reports.")
    services.whitelist_entry_reinstate(actor=second_reviewer, entry=entry, reason="Cleared.")
    services.whitelist_entry_revoke(actor=reviewer, entry=entry, reason="Fraud.")
    again = services.application_create(actor=merchant, account=eligible_account, data=evidence)
    services.application_submit(actor=merchant, application=again)
    # (The revocation fails good standing: renewing so soon takes an override.)
    second_reviewer.user_permissions.add(Permission.objects.get(codename="override_criteria"))
    second_reviewer = type(second_reviewer).objects.get(pk=second_reviewer.pk)
    services.application_approve(
        actor=second_reviewer, application=again, override=True, message="Fraud was the reseller's."
    )

    # Then the history tells each change, by whom, from and to which state, and why
    history = list(
        WhitelistEntryEvent.objects.filter(entry=entry)
        .order_by("id")
        .values_list("action", "from_state", "to_state", "reason", "actor", "details")
    )
    assert history == [
        ("granted", "", "active", "", reviewer.pk, {"policy": 1}),
        ("share_limit", "active", "active", "", reviewer.pk, {"from": 1, "to": 5}),
        ("suspend", "active", "suspended", "Spam reports.", reviewer.pk, {}),
        ("reinstate", "suspended", "active", "Cleared.", second_reviewer.pk, {}),
        ("revoke", "active", "revoked", "Fraud.", reviewer.pk, {}),
        ("renewed", "revoked", "active", "", second_reviewer.pk, {"policy": 1}),
    ]
    entry.refresh_from_db()
    assert (entry.state, entry.share_limit_per_hour, entry.application_id) == (EntryState.ACTIVE, 5, again.pk)
    assert entry.revoked_at is not None
