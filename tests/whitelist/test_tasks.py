"""Whitelist tasks: the daily expiry of entries, and applicant emails sent only after commit."""

import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from portal.email_claims import EMAIL_CLAIM_EXPIRY
from tests import factories
from tests.email_backends import WorkerKilled
from whitelist import services
from whitelist.models import ApplicationState, EntryState, ReviewEvent, WhitelistEntry, WhitelistEntryEvent
from whitelist.tasks import expire_whitelist_entries, notify_application_event, send_missed_notifications


@pytest.fixture
def approved_entry(evidence, merchant, organization, reviewer, policy):
    """An active entry for a new account of the merchant, granted through the services."""

    def grant(uid: str) -> WhitelistEntry:
        account = factories.official_account(
            actor=merchant,
            organization=organization,
            platform_uid=uid,
            screen_name=f"Shop {uid}",
            followers_count=300_000,
            verified_by=reviewer,
        )
        application = services.application_create(actor=merchant, account=account, data=evidence)
        services.application_submit(actor=merchant, application=application)
        services.application_approve(actor=reviewer, application=application)
        return WhitelistEntry.objects.get(account=account)

    return grant


def end_validity(entry: WhitelistEntry, *, days_ago: float) -> None:
    now = timezone.now()
    WhitelistEntry.objects.filter(pk=entry.pk).update(
        valid_from=now - timedelta(days=400), valid_until=now - timedelta(days=days_ago)
    )


def expiry_events() -> list[tuple[int, str, str, int | None]]:
    return list(
        WhitelistEntryEvent.objects.filter(action="expire")
        .order_by("entry_id")
        .values_list("entry_id", "from_state", "to_state", "actor")
    )


# Expiry


@pytest.mark.django_db
def test_expire_task__entries_past_validity__only_those_expire_once(reviewer, approved_entry):
    # Given active and suspended entries past their validity, a current one, and a revoked old one
    past_active = approved_entry("5100000001")
    past_suspended = approved_entry("5100000002")
    current = approved_entry("5100000003")
    past_revoked = approved_entry("5100000004")
    services.whitelist_entry_suspend(actor=reviewer, entry=past_suspended, reason="Spam reports.")
    services.whitelist_entry_revoke(actor=reviewer, entry=past_revoked, reason="Fraud.")
    for entry in (past_active, past_suspended, past_revoked):
        end_validity(entry, days_ago=1)

    # When the daily task runs
    expired = expire_whitelist_entries.delay().get()

    # Then only the active and suspended entries past their date expired, each with a history line
    assert expired == 2
    states = dict(WhitelistEntry.objects.values_list("pk", "state"))
    assert states == {
        past_active.pk: EntryState.EXPIRED,
        past_suspended.pk: EntryState.EXPIRED,
        current.pk: EntryState.ACTIVE,
        past_revoked.pk: EntryState.REVOKED,
    }
    assert expiry_events() == [
        (past_active.pk, EntryState.ACTIVE, EntryState.EXPIRED, None),
        (past_suspended.pk, EntryState.SUSPENDED, EntryState.EXPIRED, None),
    ]


@pytest.mark.django_db
def test_expire_task__run_again__changes_nothing_and_returns_zero(approved_entry):
    # Given one entry that the task already expired
    entry = approved_entry("5200000001")
    end_validity(entry, days_ago=2)
    assert expire_whitelist_entries.delay().get() == 1
    events = list(WhitelistEntryEvent.objects.values_list("pk", flat=True))
    updated_at = WhitelistEntry.objects.get(pk=entry.pk).updated_at

    # When it runs again
    expired = expire_whitelist_entries.delay().get()

    # Then nothing more happens
    assert expired == 0
    assert list(WhitelistEntryEvent.objects.values_list("pk", flat=True)) == events
    entry.refresh_from_db()
    assert (entry.state, entry.updated_at) == (EntryState.EXPIRED, updated_at)


@pytest.mark.django_db
def test_entries_expire__at_the_boundary__expires_when_valid_until_is_reached(approved_entry):
    entry = approved_entry("5300000001")
    assert services.whitelist_entries_expire(now=entry.valid_until - timedelta(seconds=1)) == 0
    assert WhitelistEntry.objects.get(pk=entry.pk).state == EntryState.ACTIVE
    assert services.whitelist_entries_expire(now=entry.valid_until) == 1
    assert WhitelistEntry.objects.get(pk=entry.pk).state == EntryState.EXPIRED


# Emails to the applicant organization


@pytest.fixture
def managers(merchant, org_admin, plain_member):
    """The applicant organization's owner and admin; its plain member gets no email."""
    return sorted([merchant.email, org_admin.email])


@pytest.mark.django_db
def test_submit__email__waits_for_commit_then_goes_to_owners_and_admins(
    django_capture_on_commit_callbacks, mailoutbox, merchant, managers, draft
):
    # When the merchant submits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.application_submit(actor=merchant, application=draft)
        # Then nothing is sent inside the transaction
        assert mailoutbox == []

    # Then after commit one email goes to the owner and the admin
    assert len(callbacks) == 1
    [email] = mailoutbox
    assert sorted(email.to) == managers
    assert email.subject == "Whitelist application for Alice Burgers: Submitted"
    assert f"Your whitelist application #{draft.pk} for Alice Burgers has an update." in email.body
    assert "It is now: Submitted." in email.body


@pytest.mark.django_db
def test_review_cycle__each_visible_event__sends_one_email(
    django_capture_on_commit_callbacks, mailoutbox, merchant, reviewer, managers, draft, reason_codes
):
    # When the application goes through submit, request changes, resubmit and reject
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(actor=merchant, application=draft)
        services.application_request_changes(
            actor=reviewer,
            application=draft,
            message="Add the contracts of the team.",
            reason_code=reason_codes["evidence_insufficient"],
        )
        services.application_resubmit(actor=merchant, application=draft)
        services.application_reject(
            actor=reviewer, application=draft, reason_code=reason_codes["no_independent_development"]
        )
        assert mailoutbox == []

    # Then the managers got one email per event, with the reason and message where there was one
    assert len(mailoutbox) == 4
    assert all(sorted(email.to) == managers for email in mailoutbox)
    changes, rejection = mailoutbox[1], mailoutbox[3]
    assert "Reason: Evidence insufficient" in changes.body
    assert "Add the contracts of the team." in changes.body
    assert "Reason: No independent development capability" in rejection.body
    assert reason_codes["no_independent_development"].text in rejection.body


@pytest.mark.django_db
def test_request_changes__email__shows_the_reviewers_message_as_written(
    django_capture_on_commit_callbacks, mailoutbox, reviewer, managers, submitted
):
    message = "Add the team's contracts & the payroll for <2025>."
    with django_capture_on_commit_callbacks(execute=True):
        services.application_request_changes(actor=reviewer, application=submitted, message=message)

    [email] = mailoutbox
    assert message in email.body


@pytest.mark.django_db
def test_submit__email_subject__shows_the_account_name_as_written(
    evidence,
    django_capture_on_commit_callbacks,
    mailoutbox,
    merchant,
    organization,
    reviewer,
    managers,
    policy,
):
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        screen_name="Bread & Butter",
        followers_count=300_000,
        verified_by=reviewer,
    )
    application = services.application_create(actor=merchant, account=account, data=evidence)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(actor=merchant, application=application)

    [email] = mailoutbox
    assert email.subject == "Whitelist application for Bread & Butter: Submitted"


@pytest.mark.django_db
def test_note__staff_only__sends_nothing(
    django_capture_on_commit_callbacks, mailoutbox, reviewer, managers, submitted
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.application_note(actor=reviewer, application=submitted, message="Looks like a reseller.")

    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_note__visible_to_applicant__sends_one_email_with_the_note(
    django_capture_on_commit_callbacks, mailoutbox, reviewer, managers, submitted
):
    with django_capture_on_commit_callbacks(execute=True):
        services.application_note(
            actor=reviewer,
            application=submitted,
            message="We will call you on Monday.",
            visible_to_applicant=True,
        )

    [email] = mailoutbox
    assert sorted(email.to) == managers
    assert "We will call you on Monday." in email.body


@pytest.mark.django_db
def test_approve__rolled_back__sends_nothing_and_changes_nothing(
    django_capture_on_commit_callbacks, mailoutbox, reviewer, managers, submitted
):
    # When the approval is part of a transaction that fails afterwards
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.application_approve(actor=reviewer, application=submitted)
        raise RuntimeError("the rest of the request failed")

    # Then no email, no approval, no entry
    assert callbacks == []
    assert mailoutbox == []
    submitted.refresh_from_db()
    assert submitted.state == ApplicationState.SUBMITTED
    assert not WhitelistEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_approve__real_commit__email_sent_only_when_the_transaction_commits(
    mailoutbox, reviewer, managers, submitted
):
    # Given the setup's own emails (welcome messages) out of the way
    mailoutbox.clear()

    # When staff approve inside a transaction
    with transaction.atomic():
        services.application_approve(actor=reviewer, application=submitted)
        # Then nothing is sent before the commit
        assert mailoutbox == []

    # Then the commit sends one email to the managers
    [email] = mailoutbox
    assert sorted(email.to) == managers
    assert email.subject == "Whitelist application for Alice Burgers: Approved"


@pytest.mark.django_db
def test_notify_task__staff_only_event__sends_nothing(mailoutbox, reviewer, managers, submitted):
    note = services.application_note(actor=reviewer, application=submitted, message="Internal.")

    assert notify_application_event.delay(event_id=note.pk).get() == 0
    assert mailoutbox == []
    assert ReviewEvent.objects.filter(pk=note.pk, visible_to_applicant=False).exists()


# Each email once, and the sweep of emails that were never sent (the broker was down at commit)


def created(model, pk: int, *, minutes_ago: float) -> None:  # type: ignore[no-untyped-def]
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))


@pytest.mark.django_db
def test_notify_task__run_twice__sends_once(mailoutbox, managers, submitted):
    event = ReviewEvent.objects.get(application=submitted, to_state=ApplicationState.SUBMITTED)
    assert notify_application_event.delay(event_id=event.pk).get() == 2
    assert notify_application_event.delay(event_id=event.pk).get() == 0
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_notification_sweep__sends_only_recent_unsent_events_the_organization_is_told_of_and_once(
    mailoutbox, merchant, reviewer, managers, submitted, approved_entry
):
    # Given events whose emails never went out (the test transaction never commits), at various ages
    entry = approved_entry("5400000001")
    services.whitelist_entry_suspend(actor=reviewer, entry=entry, reason="Spam reports.")
    services.application_note(actor=reviewer, application=submitted, message="Internal.")
    services.application_note(
        actor=reviewer, application=submitted, message="We call you Monday.", visible_to_applicant=True
    )
    for event in ReviewEvent.objects.all():
        created(ReviewEvent, event.pk, minutes_ago=11)
    for event in WhitelistEntryEvent.objects.all():
        created(WhitelistEntryEvent, event.pk, minutes_ago=11)
    submitted_event = ReviewEvent.objects.get(application=submitted, to_state=ApplicationState.SUBMITTED)
    created(ReviewEvent, submitted_event.pk, minutes_ago=3 * 24 * 60)  # past the horizon
    services.application_note(
        actor=reviewer, application=submitted, message="Just now.", visible_to_applicant=True
    )

    # When the sweep runs, twice
    first = send_missed_notifications.delay().get()
    second = send_missed_notifications.delay().get()

    # Then the visible note, the other account's submission and approval and the suspension are told,
    # once each; not the drafts, the staff-only note, the grant, the old submission, nor the note of
    # a minute ago (its own task may still come)
    subjects = sorted(email.subject for email in mailoutbox)
    assert subjects == sorted(
        [
            "Whitelist application for Alice Burgers: a note from the reviewers",
            "Whitelist application for Shop 5400000001: Submitted",
            "Whitelist application for Shop 5400000001: Approved",
            "Whitelisting of Shop 5400000001: Suspended",
        ]
    ), subjects
    assert (first, second) == (4, 0)


# At least once: a claim left by a killed worker expires and the sweep sends the email


@pytest.mark.django_db
def test_notify_task__worker_killed_between_claim_and_send__sweep_sends_it_once_the_claim_expired(
    settings, mailoutbox, managers, submitted
):
    # Given a worker that claimed the submission's email and died before sending it
    event = ReviewEvent.objects.get(application=submitted, to_state=ApplicationState.SUBMITTED)
    created(ReviewEvent, event.pk, minutes_ago=11)
    settings.EMAIL_BACKEND = "tests.email_backends.KilledMidSendBackend"
    with pytest.raises(WorkerKilled):
        notify_application_event.run(event_id=event.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # When the sweep runs while the claim is fresh (the worker might still be sending)
    assert send_missed_notifications.delay().get() == 0
    # And again after the claim expired
    ReviewEvent.objects.filter(pk=event.pk).update(
        notify_claimed_at=timezone.now() - EMAIL_CLAIM_EXPIRY - timedelta(seconds=1)
    )
    first = send_missed_notifications.delay().get()
    second = send_missed_notifications.delay().get()
    # Then the email went out, once
    assert (first, second) == (1, 0)
    [email] = mailoutbox
    assert sorted(email.to) == managers
    assert ReviewEvent.objects.get(pk=event.pk).notified_at is not None


@pytest.mark.django_db(transaction=True)
def test_notify_task__two_workers_at_once_on_a_slow_mail_server__send_once(
    postgres, settings, managers, submitted
):
    from django.core import mail
    from django.db import connection

    # Given a mail server that takes half a second, and the submission's email not yet sent
    settings.EMAIL_BACKEND = "tests.email_backends.SlowBackend"
    event = ReviewEvent.objects.get(application=submitted, to_state=ApplicationState.SUBMITTED)
    ReviewEvent.objects.filter(pk=event.pk).update(notified_at=None, notify_claimed_at=None)
    mail.outbox = []
    barrier = threading.Barrier(4)
    results: list[int] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(notify_application_event.run(event_id=event.pk))
        finally:
            connection.close()

    # When four workers run its task at once
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one sent it, to both managers, and the sweep sends nothing more
    assert sorted(results) == [0, 0, 0, 2]
    assert len(mail.outbox) == 1
    created(ReviewEvent, event.pk, minutes_ago=11)
    assert send_missed_notifications.delay().get() == 0
    assert len(mail.outbox) == 1
