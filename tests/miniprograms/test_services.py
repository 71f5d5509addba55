"""Mini program services: registration rules, link requests, the link state machine, limits, delisting."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from miniprograms import services
from miniprograms.models import MiniProgram, ProfileLink, ProfileLinkEvent, ProfileLinkState
from portal.errors import Conflict, Forbidden, InvalidInput
from tests import factories
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry

LinkState = ProfileLinkState


def create_payload(**overrides):
    payload = {
        "app_id": "2021000000000001",
        "name": "Burger Order",
        "category": "business",
        "description": "Order ahead.",
        "capabilities": ["payment", "search"],
    }
    payload.update(overrides)
    return payload


def link_events(link):
    return list(
        ProfileLinkEvent.objects.filter(link=link).values_list("from_state", "to_state", "reason", "actor")
    )


# Registering and editing mini programs


@pytest.mark.django_db
def test_miniprogram_create__valid__is_stored_active(merchant, organization):
    miniprogram = services.miniprogram_create(actor=merchant, organization=organization, **create_payload())

    stored = MiniProgram.objects.get(pk=miniprogram.pk)
    assert (stored.organization, stored.app_id, stored.name, stored.category) == (
        organization,
        "2021000000000001",
        "Burger Order",
        "business",
    )
    assert stored.capabilities == ["payment", "search"]
    assert stored.state == "active"
    assert stored.created_by == merchant


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"app_id": "202100000000001"}, "app_id"),
        ({"app_id": "20210000000000011"}, "app_id"),
        ({"app_id": "2021abc000000001"}, "app_id"),
        ({"app_id": "٢٠٢١٠٠٠٠٠٠٠٠٠٠٠١"}, "app_id"),
        ({"name": "n" * 41}, "name"),
        ({"name": ""}, "name"),
        ({"category": "games"}, "category"),
        ({"capabilities": ["payment", "teleport"]}, "capabilities"),
        ({"capabilities": ["payment", "payment"]}, "capabilities"),
    ],
)
def test_miniprogram_create__bad_input__names_field_and_writes_nothing(
    merchant, organization, overrides, field
):
    with pytest.raises(InvalidInput) as caught:
        services.miniprogram_create(actor=merchant, organization=organization, **create_payload(**overrides))

    assert field in caught.value.errors
    assert not MiniProgram.objects.exists()


@pytest.mark.django_db
def test_miniprogram_create__app_id_taken_by_another_organization__names_app_id(
    merchant, organization, other_miniprogram
):
    with pytest.raises(InvalidInput) as caught:
        services.miniprogram_create(
            actor=merchant, organization=organization, **create_payload(app_id=other_miniprogram.app_id)
        )

    assert "already registered" in caught.value.errors["app_id"][0]
    assert MiniProgram.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("actor_name", ["plain_member", "other_merchant"])
def test_miniprogram_create__not_owner_or_admin__is_forbidden(request, organization, actor_name):
    actor = request.getfixturevalue(actor_name)
    with pytest.raises(Forbidden):
        services.miniprogram_create(actor=actor, organization=organization, **create_payload())
    assert not MiniProgram.objects.exists()


@pytest.mark.django_db
def test_miniprogram_create__org_admin__is_allowed(org_admin, organization):
    miniprogram = services.miniprogram_create(actor=org_admin, organization=organization, **create_payload())
    assert miniprogram.created_by == org_admin


@pytest.mark.django_db
def test_miniprogram_update__editable_fields__are_saved(merchant, miniprogram):
    services.miniprogram_update(
        actor=merchant,
        miniprogram=miniprogram,
        data={"name": "Burger Order Pro", "category": "life_service", "capabilities": ["topic"]},
    )

    miniprogram.refresh_from_db()
    assert (miniprogram.name, miniprogram.category, miniprogram.capabilities) == (
        "Burger Order Pro",
        "life_service",
        ["topic"],
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"app_id": "2021000000000002"}, "app_id"),
        ({"name": "n" * 41}, "name"),
        ({"category": "games"}, "category"),
        ({"capabilities": ["card", "card"]}, "capabilities"),
    ],
)
def test_miniprogram_update__bad_input__names_field_and_changes_nothing(merchant, miniprogram, data, field):
    with pytest.raises(InvalidInput) as caught:
        services.miniprogram_update(actor=merchant, miniprogram=miniprogram, data=data)

    assert field in caught.value.errors
    stored = MiniProgram.objects.get(pk=miniprogram.pk)
    assert (stored.app_id, stored.name, stored.category, stored.capabilities) == (
        "2021000000000001",
        "Burger Order",
        "business",
        ["payment", "card"],
    )


@pytest.mark.django_db
def test_miniprogram_update__delisted__is_conflict(merchant, miniprogram):
    services.miniprogram_delist(actor=merchant, miniprogram=miniprogram)

    with pytest.raises(Conflict):
        services.miniprogram_update(actor=merchant, miniprogram=miniprogram, data={"name": "Back"})
    assert MiniProgram.objects.get(pk=miniprogram.pk).name == "Burger Order"


# Requesting a link


@pytest.mark.django_db
def test_link_request__whitelisted_account__is_pending_last_with_event(
    merchant, make_miniprogram, listed_account
):
    first = services.profile_link_request(
        actor=merchant, miniprogram=make_miniprogram("2021000000000001"), account=listed_account
    )
    second = services.profile_link_request(
        actor=merchant, miniprogram=make_miniprogram("2021000000000002"), account=listed_account
    )

    assert (first.state, first.position) == (LinkState.PENDING_REVIEW, 1)
    assert (second.state, second.position) == (LinkState.PENDING_REVIEW, 2)
    assert link_events(first) == [("", LinkState.PENDING_REVIEW, "", merchant.pk)]


def _no_entry(account, staff):
    return factories.official_account(
        actor=account.organization.memberships.get().user,
        organization=account.organization,
        platform_uid="7199999999",
        verified_by=staff,
    )


def _suspended(account, staff):
    whitelist_services.whitelist_entry_suspend(
        actor=staff, entry=WhitelistEntry.objects.get(account=account), reason="Spam."
    )
    return account


def _revoked(account, staff):
    whitelist_services.whitelist_entry_revoke(
        actor=staff, entry=WhitelistEntry.objects.get(account=account), reason="Fraud."
    )
    return account


def _past_validity(account, staff):
    # The expiry job has not run yet: the entry still says active, but its date is past.
    WhitelistEntry.objects.filter(account=account).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(days=1)
    )
    return account


def _expired(account, staff):
    _past_validity(account, staff)
    assert whitelist_services.whitelist_entries_expire() == 1
    return account


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_unlisted", "words"),
    [
        (_no_entry, "not whitelisted"),
        (_suspended, "Suspended"),
        (_revoked, "Revoked"),
        (_past_validity, "expired on"),
        (_expired, "Expired"),
    ],
)
def test_link_request__account_not_whitelisted__is_conflict_with_reason(
    merchant, staff, miniprogram, listed_account, make_unlisted, words
):
    account = make_unlisted(listed_account, staff)

    with pytest.raises(Conflict) as caught:
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=account)

    assert caught.value.status_code == 409
    assert words in caught.value.message
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_link_request__account_of_another_organization__names_account(
    merchant, miniprogram, other_listed_account
):
    with pytest.raises(InvalidInput) as caught:
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=other_listed_account)

    assert "account" in caught.value.errors
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_link_request__delisted_miniprogram__is_conflict(merchant, miniprogram, listed_account):
    services.miniprogram_delist(actor=merchant, miniprogram=miniprogram)

    with pytest.raises(Conflict) as caught:
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)

    assert "Delisted" in caught.value.message
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("decided", [None, "approve"])
def test_link_request__open_link_exists__is_conflict(
    merchant, staff, miniprogram, listed_account, pending_link, decided
):
    if decided:
        services.profile_link_approve(actor=staff, link=pending_link)

    with pytest.raises(Conflict) as caught:
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)

    assert f"#{pending_link.pk}" in caught.value.message
    assert ProfileLink.objects.count() == 1


@pytest.mark.django_db
def test_link_request__after_rejection__is_allowed_again(
    merchant, staff, miniprogram, listed_account, pending_link
):
    services.profile_link_reject(actor=staff, link=pending_link, reason="Icon missing.")

    again = services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)

    assert again.state == LinkState.PENDING_REVIEW
    assert ProfileLink.objects.count() == 2


@pytest.mark.django_db
def test_link_request__plain_member__is_forbidden(plain_member, miniprogram, listed_account):
    with pytest.raises(Forbidden):
        services.profile_link_request(actor=plain_member, miniprogram=miniprogram, account=listed_account)
    assert not ProfileLink.objects.exists()


# The link state machine


def link_in_state(link, state, *, merchant, staff):
    if state == LinkState.LIVE:
        return services.profile_link_approve(actor=staff, link=link)
    if state == LinkState.REJECTED:
        return services.profile_link_reject(actor=staff, link=link, reason="Not user-facing.")
    if state == LinkState.UNLINKED:
        return services.profile_link_unlink(actor=merchant, link=link)
    return link


LINK_MOVES = {
    "approve": ((LinkState.PENDING_REVIEW,), LinkState.LIVE),
    "reject": ((LinkState.PENDING_REVIEW,), LinkState.REJECTED),
    "unlink": ((LinkState.PENDING_REVIEW, LinkState.LIVE), LinkState.UNLINKED),
}


MOVE_REASONS = {"approve": "Looks good.", "reject": "Looks bad.", "unlink": "Looks old."}


def perform(action, *, link, staff, merchant):
    if action == "approve":
        return services.profile_link_approve(actor=staff, link=link, reason=MOVE_REASONS[action])
    if action == "reject":
        return services.profile_link_reject(actor=staff, link=link, reason=MOVE_REASONS[action])
    return services.profile_link_unlink(actor=merchant, link=link, reason=MOVE_REASONS[action])


@pytest.mark.django_db
@pytest.mark.parametrize("state", LinkState.values)
@pytest.mark.parametrize("action", LINK_MOVES)
def test_link_move__each_state__moves_or_is_conflict(
    merchant, second_reviewer, staff, pending_link, action, state
):
    # Given a link in the state
    link = link_in_state(pending_link, state, merchant=merchant, staff=staff)
    allowed_from, to_state = LINK_MOVES[action]
    events_before = link_events(link)

    if state in allowed_from:
        # Then the move happens, with who and why in the history
        actor = merchant if action == "unlink" else second_reviewer
        perform(action, link=link, staff=second_reviewer, merchant=merchant)
        link.refresh_from_db()
        assert link.state == to_state
        assert link_events(link)[-1] == (state, to_state, MOVE_REASONS[action], actor.pk)
        return

    # Then the move is a conflict naming the state, and nothing changes
    with pytest.raises(Conflict) as caught:
        perform(action, link=link, staff=second_reviewer, merchant=merchant)
    assert caught.value.code == "invalid-transition"
    assert str(LinkState(state).label) in caught.value.message
    assert ProfileLink.objects.get(pk=link.pk).state == state
    assert link_events(link) == events_before


@pytest.mark.django_db
def test_link_approve__staff__records_decision_and_reason(staff, pending_link):
    services.profile_link_approve(actor=staff, link=pending_link, reason=" Fine. ")

    pending_link.refresh_from_db()
    assert (pending_link.state, pending_link.reason, pending_link.decided_by) == (
        LinkState.LIVE,
        "Fine.",
        staff,
    )
    assert pending_link.decided_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   "])
def test_link_reject__without_reason__names_reason_and_changes_nothing(staff, pending_link, reason):
    with pytest.raises(InvalidInput) as caught:
        services.profile_link_reject(actor=staff, link=pending_link, reason=reason)

    assert "reason" in caught.value.errors
    assert ProfileLink.objects.get(pk=pending_link.pk).state == LinkState.PENDING_REVIEW


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("actor_name", ["merchant", "org_admin", "plain_member", "other_merchant"])
def test_link_decision__not_staff__is_forbidden(request, pending_link, action, actor_name):
    actor = request.getfixturevalue(actor_name)
    with pytest.raises(Forbidden):
        perform(action, link=pending_link, staff=actor, merchant=actor)
    assert ProfileLink.objects.get(pk=pending_link.pk).state == LinkState.PENDING_REVIEW


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor_name", "allowed"),
    [
        ("merchant", True),
        ("org_admin", True),
        ("staff", True),
        ("plain_member", False),
        ("other_merchant", False),
    ],
)
def test_link_unlink__by_actor__is_allowed_only_to_owner_admin_or_staff(
    request, staff, pending_link, actor_name, allowed
):
    link = services.profile_link_approve(actor=staff, link=pending_link)
    actor = request.getfixturevalue(actor_name)

    if allowed:
        services.profile_link_unlink(actor=actor, link=link)
        assert ProfileLink.objects.get(pk=link.pk).state == LinkState.UNLINKED
    else:
        with pytest.raises(Forbidden):
            services.profile_link_unlink(actor=actor, link=link)
        assert ProfileLink.objects.get(pk=link.pk).state == LinkState.LIVE


@pytest.mark.django_db
def test_link_approve__entry_suspended_since_request__is_conflict(staff, pending_link, listed_account):
    _suspended(listed_account, staff)

    with pytest.raises(Conflict) as caught:
        services.profile_link_approve(actor=staff, link=pending_link)

    assert "Suspended" in caught.value.message
    assert ProfileLink.objects.get(pk=pending_link.pk).state == LinkState.PENDING_REVIEW


# The live-links limit


@pytest.fixture
def limit_of_two(staff, policy):
    """A new active policy version that allows two live links per account."""
    version = whitelist_services.policy_create_version(
        actor=staff, data={"max_live_links_per_account": 2}, open_verticals=None
    )
    return whitelist_services.policy_activate(actor=staff, policy=version)


@pytest.mark.django_db
def test_link_approve__account_full__is_conflict_until_a_link_is_unlinked(
    merchant, staff, make_miniprogram, listed_account, limit_of_two
):
    # Given three pending links on one account and a limit of two live links
    links = [
        services.profile_link_request(
            actor=merchant, miniprogram=make_miniprogram(f"202100000000000{n}"), account=listed_account
        )
        for n in range(1, 4)
    ]
    services.profile_link_approve(actor=staff, link=links[0])
    services.profile_link_approve(actor=staff, link=links[1])

    # When staff approve the third, it is refused and stays pending
    with pytest.raises(Conflict) as caught:
        services.profile_link_approve(actor=staff, link=links[2])
    assert caught.value.code == "live-links-limit"
    assert ProfileLink.objects.get(pk=links[2].pk).state == LinkState.PENDING_REVIEW

    # Then once one live link is unlinked, the third fits
    services.profile_link_unlink(actor=merchant, link=links[0])
    services.profile_link_approve(actor=staff, link=links[2])
    assert ProfileLink.objects.filter(account=listed_account, state=LinkState.LIVE).count() == 2


# Delisting


@pytest.mark.django_db
def test_delist__unlinks_live_and_pending_links_with_events(
    merchant, staff, miniprogram, make_whitelisted, listed_account
):
    # Given one live, one pending and one rejected link of the mini program
    live = services.profile_link_approve(
        actor=staff,
        link=services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account),
    )
    pending = services.profile_link_request(
        actor=merchant, miniprogram=miniprogram, account=make_whitelisted("7100000002")
    )
    rejected = services.profile_link_reject(
        actor=staff,
        link=services.profile_link_request(
            actor=merchant, miniprogram=miniprogram, account=make_whitelisted("7100000003")
        ),
        reason="No.",
    )

    # When the merchant delists it
    services.miniprogram_delist(actor=merchant, miniprogram=miniprogram, reason="Service closed.")

    # Then the open links are unlinked with the reason, the closed one is untouched
    assert MiniProgram.objects.get(pk=miniprogram.pk).state == "delisted"
    states = dict(ProfileLink.objects.values_list("pk", "state"))
    assert states == {live.pk: "unlinked", pending.pk: "unlinked", rejected.pk: "rejected"}
    assert link_events(live)[-1] == ("live", "unlinked", "Service closed.", merchant.pk)
    assert link_events(pending)[-1] == ("pending_review", "unlinked", "Service closed.", merchant.pk)


@pytest.mark.django_db
def test_delist__twice__is_conflict(merchant, miniprogram):
    services.miniprogram_delist(actor=merchant, miniprogram=miniprogram)
    with pytest.raises(Conflict):
        services.miniprogram_delist(actor=merchant, miniprogram=miniprogram)


@pytest.mark.django_db
def test_delist__plain_member__is_forbidden(plain_member, miniprogram):
    with pytest.raises(Forbidden):
        services.miniprogram_delist(actor=plain_member, miniprogram=miniprogram)
    assert MiniProgram.objects.get(pk=miniprogram.pk).state == "active"


# Concurrency, on PostgreSQL


def run_at_once(*calls):
    """Run the calls in threads released together; return each one's outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            call()
            outcomes.append("done")
        except Conflict as exc:
            outcomes.append(f"conflict:{exc.code}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_link_approve__two_staff_at_once_on_postgres__one_wins_other_gets_conflict(
    postgres, staff, second_reviewer, pending_link
):
    # When two reviewers approve the same pending link at the same moment
    outcomes = run_at_once(
        lambda: services.profile_link_approve(actor=staff, link=ProfileLink.objects.get(pk=pending_link.pk)),
        lambda: services.profile_link_approve(
            actor=second_reviewer, link=ProfileLink.objects.get(pk=pending_link.pk)
        ),
    )

    # Then one approval happened and the other was told the link is no longer pending
    assert outcomes == ["conflict:invalid-transition", "done"]
    assert ProfileLink.objects.get(pk=pending_link.pk).state == LinkState.LIVE
    assert ProfileLinkEvent.objects.filter(link=pending_link, to_state=LinkState.LIVE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_link_approve__two_links_at_once_on_full_account_on_postgres__limit_holds(
    postgres, merchant, staff, second_reviewer, make_miniprogram, listed_account, limit_of_two
):
    # Given one live link and two pending ones on an account allowed two live links
    links = [
        services.profile_link_request(
            actor=merchant, miniprogram=make_miniprogram(f"202100000000000{n}"), account=listed_account
        )
        for n in range(1, 4)
    ]
    services.profile_link_approve(actor=staff, link=links[0])

    # When two reviewers approve the two pending links at the same moment
    outcomes = run_at_once(
        lambda: services.profile_link_approve(actor=staff, link=links[1]),
        lambda: services.profile_link_approve(actor=second_reviewer, link=links[2]),
    )

    # Then only one fits
    assert outcomes == ["conflict:live-links-limit", "done"]
    assert ProfileLink.objects.filter(account=listed_account, state=LinkState.LIVE).count() == 2
