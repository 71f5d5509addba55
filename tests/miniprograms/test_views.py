"""The merchant's mini program pages: register, link to accounts, share within the quota, unlink."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import MembershipRole, User
from accounts.services import membership_add
from miniprograms import services
from miniprograms.models import MiniProgram, ProfileLink, Share
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry

LIST_URL = reverse("miniprograms:list")
CREATE_URL = reverse("miniprograms:create")


def detail_url(miniprogram: MiniProgram) -> str:
    return reverse("miniprograms:detail", args=[miniprogram.pk])


def link_url(name: str, link: ProfileLink) -> str:
    return reverse(f"miniprograms:{name}", args=[link.miniprogram_id, link.pk])


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def field_error(response, field: str) -> str:  # type: ignore[no-untyped-def]
    """The error text shown next to a form field, or "" when there is none."""
    match = re.search(rf'<span class="field-error" id="id_{field}_error">(.*?)</span>', page(response))
    return match.group(1) if match else ""


def flashes(response, level: str = r"\w+") -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(rf'<p class="flash flash--{level}" role="\w+">(.*?)</p>', page(response), flags=re.S)


def quota_cell(response, link: ProfileLink) -> str:  # type: ignore[no-untyped-def]
    match = re.search(
        rf'<tr id="link-{link.pk}">.*?<td class="share-quota"[^>]*>(.*?)</td>', page(response), flags=re.S
    )
    assert match, "the link's row is not on the page"
    return " ".join(match.group(1).split())


def register_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "app_id": "2021000000000555",
        "name": "Burger Club",
        "description": "Points and coupons.",
        "category": "life_service",
        "capabilities": ["card", "content"],
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def empty_cache():  # type: ignore[no-untyped-def]
    """The preview reads the cached public profile; these tests do not run the hooks that forget it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def live_link(pending_link: ProfileLink, staff) -> ProfileLink:  # type: ignore[no-untyped-def]
    return services.profile_link_approve(actor=staff, link=pending_link)


@pytest.fixture
def database_backend(settings):  # type: ignore[no-untyped-def]
    settings.SHARE_QUOTA_BACKEND = "database"


# List


def test_list__nothing_registered__shows_the_empty_state_with_the_register_button(client, merchant):
    client.force_login(merchant)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert "No mini programs yet" in page(response)
    assert f'href="{CREATE_URL}" role="button">Register a mini program' in page(response)


def test_list__shows_state_category_capabilities_and_links(client, merchant, live_link):
    client.force_login(merchant)
    response = client.get(LIST_URL)
    body = page(response)
    assert response.status_code == 200
    assert f'href="{detail_url(live_link.miniprogram)}">Burger Order</a>' in body
    assert '<span class="badge badge--active">Active</span>' in body
    assert "Business" in body and "Payment, Card" in body
    assert "Shop 7100000001" in body
    assert '<span class="badge badge--live">Live</span>' in body
    assert "position 1" in body


def test_list__other_organizations_miniprograms__are_not_listed(client, merchant, other_miniprogram):
    client.force_login(merchant)
    response = client.get(LIST_URL)
    assert "Bob Mart" not in page(response)


# Register


def test_register__valid__creates_it_and_opens_its_page(client, merchant, organization):
    client.force_login(merchant)
    response = client.post(CREATE_URL, register_data(), follow=True)
    miniprogram = MiniProgram.objects.get(app_id="2021000000000555")
    assert response.redirect_chain == [(detail_url(miniprogram), 302)]
    assert miniprogram.organization == organization
    assert miniprogram.created_by == merchant
    assert miniprogram.name == "Burger Club" and miniprogram.category == "life_service"
    assert miniprogram.capabilities == ["card", "content"]
    assert flashes(response, "success") == [
        "Burger Club is registered. Ask for a link to show it on a whitelisted account&#x27;s profile."
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"app_id": "12345"}, "app_id", "The app id is exactly 16 digits."),
        ({"app_id": "20210000000005\uff15\uff15"}, "app_id", "The app id is exactly 16 digits."),
        ({"name": "x" * 41}, "name", "Ensure this value has at most 40 characters (it has 41)."),
        ({"name": "   "}, "name", "This field is required."),
        ({"capabilities": ["teleport"]}, "capabilities", "Select a valid choice."),
    ],
)
def test_register__invalid_field__shows_the_error_next_to_it_and_writes_nothing(
    client, merchant, overrides, field, message
):
    client.force_login(merchant)
    response = client.post(CREATE_URL, register_data(**overrides))
    assert response.status_code == 200
    assert field_error(response, field).startswith(message)
    assert not MiniProgram.objects.exists()


def test_register__app_id_already_registered__shows_the_error_on_the_app_id(client, merchant, miniprogram):
    client.force_login(merchant)
    response = client.post(CREATE_URL, register_data(app_id=miniprogram.app_id))
    assert response.status_code == 200
    assert field_error(response, "app_id") == "A mini program with this app id is already registered."
    assert MiniProgram.objects.count() == 1


@pytest.fixture
def member_only(merchant, organization) -> User:  # type: ignore[no-untyped-def]
    """A plain member of Alice's organization, and of no other: may look, may not act."""
    user = User.objects.create_user(username="mallory", email="mallory@merchant.example", password="x")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.MEMBER)
    return user


def test_register__plain_member_of_every_organization__is_403_with_the_reason_and_writes_nothing(
    client, member_only
):
    client.force_login(member_only)
    assert client.get(CREATE_URL).status_code == 403
    response = client.post(CREATE_URL, register_data())
    assert response.status_code == 403
    assert "Only the owners and admins of an organization can register its mini programs." in page(response)
    assert not MiniProgram.objects.exists()


def test_register__plain_member_here_owner_elsewhere__registers_only_for_the_organization_managed(
    client, plain_member, organization
):
    # Given Carl, a plain member of Alice's organization who owns his own
    client.force_login(plain_member)
    # When he registers, naming Alice's organization
    response = client.post(CREATE_URL, register_data(organization=organization.pk))
    # Then the mini program is his own organization's
    miniprogram = MiniProgram.objects.get()
    assert response.status_code == 302
    assert miniprogram.organization != organization
    assert miniprogram.organization.memberships.filter(user=plain_member, role="owner").exists()


# Detail and other organizations


def test_detail__own_miniprogram__shows_facts_link_form_and_links(client, merchant, pending_link):
    client.force_login(merchant)
    response = client.get(detail_url(pending_link.miniprogram))
    body = page(response)
    assert response.status_code == 200
    assert "Burger Order" in body and "2021000000000001" in body
    assert 'name="account"' in body
    assert '<span class="badge badge--pending_review">Pending review</span>' in body
    assert link_url("link-unlink", pending_link) in body
    # Only a live link can be shared.
    assert link_url("share", pending_link) not in body


@pytest.mark.parametrize("method", ["get_detail", "post_link", "get_unlink", "post_unlink", "post_share"])
def test_other_merchants_miniprogram__is_404_and_changes_nothing(
    client, merchant, other_link, staff, database_backend, method
):
    # Given a live link of another organization
    services.profile_link_approve(actor=staff, link=other_link)
    client.force_login(merchant)
    # When the merchant reaches for it
    requests = {
        "get_detail": lambda: client.get(detail_url(other_link.miniprogram)),
        "post_link": lambda: client.post(
            reverse("miniprograms:link-request", args=[other_link.miniprogram_id]),
            {"account": other_link.account_id},
        ),
        "get_unlink": lambda: client.get(link_url("link-unlink", other_link)),
        "post_unlink": lambda: client.post(link_url("link-unlink", other_link)),
        "post_share": lambda: client.post(link_url("share", other_link)),
    }
    response = requests[method]()
    # Then nothing leaks and nothing changes
    assert response.status_code == 404
    assert "Bob Mart" not in page(response)
    other_link.refresh_from_db()
    assert other_link.state == "live"
    assert ProfileLink.objects.count() == 1
    assert not Share.objects.exists()


# Link requests


def test_link_request__whitelisted_account__creates_a_pending_link(
    client, merchant, miniprogram, listed_account
):
    client.force_login(merchant)
    response = client.post(
        reverse("miniprograms:link-request", args=[miniprogram.pk]),
        {"account": listed_account.pk},
        follow=True,
    )
    assert response.redirect_chain == [(f"{detail_url(miniprogram)}#links", 302)]
    link = ProfileLink.objects.get(miniprogram=miniprogram, account=listed_account)
    assert link.state == "pending_review" and link.position == 1
    assert flashes(response, "success") == [
        "A link to Shop 7100000001 is requested; platform staff will review it."
    ]


def test_link_request__account_not_whitelisted__shows_the_reason_and_writes_nothing(
    client, merchant, miniprogram, account
):
    client.force_login(merchant)
    response = client.post(
        reverse("miniprograms:link-request", args=[miniprogram.pk]), {"account": account.pk}, follow=True
    )
    assert response.status_code == 200
    assert flashes(response, "error") == ["Alice Foods is not whitelisted; apply for the whitelist first."]
    assert not ProfileLink.objects.exists()


def test_link_request__no_account_chosen__shows_the_field_error(client, merchant, miniprogram):
    client.force_login(merchant)
    response = client.post(reverse("miniprograms:link-request", args=[miniprogram.pk]), {"account": ""})
    assert response.status_code == 200
    assert field_error(response, "account") == "This field is required."
    assert not ProfileLink.objects.exists()


def test_link_request__another_organizations_account__is_refused_on_the_field(
    client, merchant, miniprogram, other_listed_account
):
    client.force_login(merchant)
    response = client.post(
        reverse("miniprograms:link-request", args=[miniprogram.pk]), {"account": other_listed_account.pk}
    )
    assert response.status_code == 200
    assert field_error(response, "account").startswith("Select a valid choice.")
    assert not ProfileLink.objects.exists()


# Shares


def test_share__first_in_the_hour__is_recorded_and_shows_one_of_one_used(
    client, merchant, live_link, database_backend
):
    client.force_login(merchant)
    response = client.post(link_url("share", live_link), follow=True)
    assert response.redirect_chain == [(f"{detail_url(live_link.miniprogram)}#links", 302)]
    assert flashes(response, "success") == [
        "Burger Order is shared from Shop 7100000001: 1 of 1 share used this hour."
    ]
    assert Share.objects.filter(link=live_link, created_by=merchant).count() == 1
    cell = quota_cell(response, live_link)
    assert cell.startswith('<span class="quota-used">1 / 1 this hour</span>')
    # In the merchant's time zone (Asia/Shanghai by default)
    assert re.search(
        r"Next share possible at \d\d:00 Asia/Shanghai \(<span class=\"countdown\"[^>]*>in \d+ min</span>\)",
        cell,
    )
    # The page's script counts down to the end of the hour (tests/e2e watch it tick).
    assert re.search(r'data-countdown-until="\d{4}-\d\d-\d\dT\d\d:00:00\+00:00"', cell)


def test_share__second_in_the_same_hour__shows_the_refusal_with_the_next_time_and_records_nothing(
    pinned_hour, client, merchant, live_link, database_backend
):
    # Given the account's one share of this hour is used
    client.force_login(merchant)
    client.post(link_url("share", live_link))
    share = Share.objects.get()
    # The next hour as the merchant reads it: in its time zone, Asia/Shanghai by default (UTC+8)
    next_time = (share.window_start + timedelta(hours=1 + 8)).strftime("%H:%M")
    # When the merchant shares again
    response = client.post(link_url("share", live_link), follow=True)
    # Then the page says when the next share is possible, and no share is recorded
    assert response.status_code == 200
    assert flashes(response, "error") == [
        f"This account has used its 1 share for this hour; the next is possible at {next_time} Asia/Shanghai."
    ]
    assert Share.objects.count() == 1
    assert f"Next share possible at {next_time} Asia/Shanghai" in quota_cell(response, live_link)


def test_share__same_button_posted_twice__shares_once_and_says_so(
    pinned_hour, client, merchant, live_link, database_backend
):
    # Given the detail page with its Share button and the key it carries
    client.force_login(merchant)
    detail = page(client.get(detail_url(live_link.miniprogram)))
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', detail).group(1)  # type: ignore[union-attr]
    # When the same form is posted twice (a double click, a resent form)
    client.post(link_url("share", live_link), {"idempotency_key": key})
    response = client.post(link_url("share", live_link), {"idempotency_key": key}, follow=True)
    # Then one share is recorded and the second post is not refused as over quota
    assert Share.objects.count() == 1
    assert flashes(response, "info") == ["This share was already recorded; it was not shared again."]


def test_share__plain_member_of_the_organization__may_share(
    client, plain_member, live_link, database_backend
):
    client.force_login(plain_member)
    response = client.post(link_url("share", live_link), follow=True)
    assert flashes(response, "success")
    assert Share.objects.filter(created_by=plain_member).count() == 1


def test_detail__live_link_before_any_share__shows_zero_used_and_no_next_time(
    client, merchant, live_link, database_backend
):
    client.force_login(merchant)
    response = client.get(detail_url(live_link.miniprogram))
    cell = quota_cell(response, live_link)
    assert "0 / 1 this hour" in cell
    assert "Next share possible" not in cell
    assert link_url("share", live_link) in page(response)


# Unlink


def test_unlink__get__asks_for_confirmation_and_changes_nothing(client, merchant, live_link):
    client.force_login(merchant)
    response = client.get(link_url("link-unlink", live_link))
    assert response.status_code == 200
    assert "Unlink Burger Order from Shop 7100000001?" in page(response)
    live_link.refresh_from_db()
    assert live_link.state == "live"


def test_unlink__post__takes_the_live_link_off_the_profile(client, merchant, live_link):
    client.force_login(merchant)
    response = client.post(link_url("link-unlink", live_link), follow=True)
    live_link.refresh_from_db()
    assert live_link.state == "unlinked"
    assert live_link.events.last().actor == merchant  # type: ignore[union-attr]
    assert flashes(response, "success") == [
        "Burger Order is no longer shown on the profile of Shop 7100000001."
    ]
    assert link_url("link-unlink", live_link) not in page(response)


def test_unlink__already_unlinked__shows_the_refusal(client, merchant, live_link):
    services.profile_link_unlink(actor=merchant, link=live_link)
    client.force_login(merchant)
    response = client.post(link_url("link-unlink", live_link), follow=True)
    assert response.status_code == 200
    assert flashes(response, "error") == ["Cannot unlink a link that is Unlinked."]


# Plain members


def test_plain_member__link_request__is_refused_with_the_reason_and_writes_nothing(
    client, plain_member, miniprogram, listed_account
):
    client.force_login(plain_member)
    response = client.post(
        reverse("miniprograms:link-request", args=[miniprogram.pk]),
        {"account": listed_account.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert flashes(response, "error") == ["Only the owners and admins of Alice Foods Co can change its data."]
    assert not ProfileLink.objects.exists()


def test_plain_member__unlink__is_refused_with_the_reason_and_the_link_stays(client, plain_member, live_link):
    client.force_login(plain_member)
    confirmation = client.get(link_url("link-unlink", live_link))
    response = client.post(link_url("link-unlink", live_link), follow=True)
    assert confirmation.status_code == 403
    assert "Only the owners and admins of Alice Foods Co can change its data." in page(confirmation)
    assert flashes(response, "error") == ["Only the owners and admins of Alice Foods Co can change its data."]
    live_link.refresh_from_db()
    assert live_link.state == "live"


def test_plain_member__detail__shows_no_link_form_nor_unlink(client, plain_member, live_link):
    client.force_login(plain_member)
    response = client.get(detail_url(live_link.miniprogram))
    body = page(response)
    assert response.status_code == 200
    assert 'name="account"' not in body
    assert link_url("link-unlink", live_link) not in body
    assert "Only the owners and admins of Alice Foods Co can change its data." in body


# Profile preview


def test_profile_preview__lists_the_accounts_live_miniprograms_in_position_order(
    client, merchant, staff, listed_account, live_link, make_miniprogram
):
    # Given a second mini program, live after the first, and a third still pending
    second = make_miniprogram(
        "2021000000000002", name="Coffee Club", category="life_service", capabilities=[]
    )
    services.profile_link_approve(
        actor=staff,
        link=services.profile_link_request(actor=merchant, miniprogram=second, account=listed_account),
    )
    third = make_miniprogram("2021000000000003", name="Pending Pizza")
    services.profile_link_request(actor=merchant, miniprogram=third, account=listed_account)
    client.force_login(merchant)
    # When the merchant opens the second one's page
    response = client.get(detail_url(second))
    # Then the preview shows the profile as followers see it
    preview = page(response).split('id="preview-heading"')[1]
    assert preview.index("Burger Order") < preview.index("Coffee Club")
    assert "Pending Pizza" not in preview
    assert "Life service" in preview and "Payment" in preview
    assert re.search(r'class="is-current" aria-current="true">\s*<strong>Coffee Club', preview)


def test_profile_preview__suspended_whitelist_entry__shows_nothing_and_says_why(
    client, merchant, staff, live_link
):
    entry = WhitelistEntry.objects.get(account=live_link.account)
    whitelist_services.whitelist_entry_suspend(actor=staff, entry=entry, reason="Complaints under review.")
    client.force_login(merchant)
    response = client.get(detail_url(live_link.miniprogram))
    preview = page(response).split('id="preview-heading"')[1]
    assert "The whitelist entry of Shop 7100000001 is Suspended." in preview
    assert "profile-preview__list" not in preview
