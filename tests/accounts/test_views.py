"""The merchant web pages: sign-up, log in and out, password reset, dashboard, account forms."""

import re
from html import escape

import pytest
from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import Membership, MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add, official_account_verify
from tests import factories

DASHBOARD_URL = reverse("home:dashboard")
SIGNUP_URL = reverse("accounts:signup")
LOGIN_URL = reverse("login")
CREATE_URL = reverse("accounts:account-create")


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "username": "carol",
        "email": "carol@merchant.example",
        "password": factories.DEFAULT_PASSWORD,
        "password_confirmation": factories.DEFAULT_PASSWORD,
        "organization_name": "Carol Burgers Ltd",
        "organization_kind": "enterprise",
    }
    data.update(overrides)
    return data


def account_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "platform": "weibo",
        "platform_uid": "3000000001",
        "screen_name": "Alice Foods Delivery",
        "kind": "enterprise",
        "vertical": "food_beverage",
        "followers_count": "250000",
    }
    data.update(overrides)
    return data


def edit_url(account: OfficialAccount) -> str:
    return reverse("accounts:account-edit", args=[account.pk])


def field_error(response, field: str) -> str:  # type: ignore[no-untyped-def]
    """The error text shown next to a form field, or "" when there is none."""
    match = re.search(
        rf'<span class="field-error" id="id_{field}_error">(.*?)</span>', response.content.decode()
    )
    return match.group(1) if match else ""


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.fixture
def member(organization, merchant):  # type: ignore[no-untyped-def]
    """A user who is a plain member of Alice's organization and manages none."""
    user = User.objects.create_user(username="dave", email="dave@merchant.example", password="x")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.MEMBER)
    return user


# Sign up


def test_signup_page__anonymous__shows_the_form(client, db):
    response = client.get(SIGNUP_URL)

    assert response.status_code == 200
    for field in ("username", "email", "password", "password_confirmation", "organization_name"):
        assert f'name="{field}"' in page(response)
    assert '<option value="government">Government body</option>' in page(response)


def test_signup__valid__creates_user_organization_owner_and_logs_in(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP_URL, signup_data(), follow=True)

    assert response.redirect_chain == [(DASHBOARD_URL, 302)]
    assert "Welcome, carol!" in page(response)
    assert "Carol Burgers Ltd" in page(response)
    user = User.objects.get(username="carol")
    assert response.wsgi_request.user == user
    membership = Membership.objects.get(user=user)
    assert membership.role == MembershipRole.OWNER
    assert membership.organization.name == "Carol Burgers Ltd"
    assert membership.organization.kind == "enterprise"
    assert [message.to for message in mail.outbox] == [["carol@merchant.example"]]


def test_signup__weak_password__rerenders_with_password_error_and_creates_nothing(client, db):
    response = client.post(SIGNUP_URL, signup_data(password="12345", password_confirmation="12345"))

    assert response.status_code == 200
    assert "This password is too short" in field_error(response, "password")
    assert 'value="carol"' in page(response)
    assert not User.objects.filter(username="carol").exists()
    assert not Organization.objects.filter(name="Carol Burgers Ltd").exists()


def test_signup__duplicate_username__rerenders_with_username_error_and_creates_nothing(client, merchant):
    response = client.post(SIGNUP_URL, signup_data(username="alice", email="other@merchant.example"))

    assert response.status_code == 200
    assert "already exists" in field_error(response, "username")
    assert User.objects.filter(username="alice").count() == 1
    assert not Organization.objects.filter(name="Carol Burgers Ltd").exists()


def test_signup__email_taken_in_other_case__rerenders_with_email_error(client, merchant):
    response = client.post(SIGNUP_URL, signup_data(email="ALICE@merchant.example"))

    assert response.status_code == 200
    assert "already exists" in field_error(response, "email")
    assert not User.objects.filter(username="carol").exists()


def test_signup__mismatched_confirmation__rerenders_with_confirmation_error_and_creates_nothing(client, db):
    response = client.post(SIGNUP_URL, signup_data(password_confirmation="another-long-passphrase-9"))

    assert response.status_code == 200
    assert field_error(response, "password_confirmation") == "The two passwords do not match."
    assert not User.objects.exists()
    assert not Organization.objects.exists()


def test_signup__blank_organization_name__rerenders_with_field_error(client, db):
    response = client.post(SIGNUP_URL, signup_data(organization_name=""))

    assert response.status_code == 200
    assert field_error(response, "organization_name") == "This field is required."
    assert not User.objects.exists()


# Log in, log out, password reset


def test_login_page__anonymous__shows_the_form(client, db):
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    assert f'<form method="post" action="{LOGIN_URL}"' in page(response)
    assert 'name="username"' in page(response)
    assert 'name="password"' in page(response)
    assert reverse("password_reset") in page(response)


def test_login__right_password__opens_the_dashboard(client, merchant):
    response = client.post(
        LOGIN_URL, {"username": "alice", "password": factories.DEFAULT_PASSWORD}, follow=True
    )

    assert response.redirect_chain == [(DASHBOARD_URL, 302)]
    assert response.wsgi_request.user == merchant


def test_login__wrong_password__shows_an_error(client, merchant):
    response = client.post(LOGIN_URL, {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in page(response)
    assert not response.wsgi_request.user.is_authenticated


def test_logout__post__logs_out_and_shows_the_login_page(client, merchant):
    client.force_login(merchant)

    response = client.post(reverse("logout"), follow=True)

    assert response.redirect_chain == [(LOGIN_URL, 302)]
    assert "You have logged out." in page(response)
    assert client.get(DASHBOARD_URL).status_code == 302


def test_logout__get__is_refused_and_keeps_the_session(client, merchant):
    client.force_login(merchant)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert client.get(DASHBOARD_URL).status_code == 200


def test_password_reset__known_email__sends_a_link_that_sets_a_new_password(
    client, merchant, settings, django_capture_on_commit_callbacks
):
    # Given the merchant asks for a reset link
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "alice@merchant.example"}, follow=True)
    assert response.redirect_chain == [(reverse("password_reset_done"), 302)]
    assert "Check your email" in page(response)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@merchant.example"]
    assert mail.outbox[0].subject == "Reset your password on the mini program portal"
    link = re.search(rf"{settings.PORTAL_BASE_URL}(/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)

    # When the merchant opens the link and chooses a new password
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in page(form_page)
    set_password_url = form_page.redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase-77"
    done = client.post(
        set_password_url, {"new_password1": new_password, "new_password2": new_password}, follow=True
    )

    # Then the new password works and the old one does not
    assert done.redirect_chain == [(reverse("password_reset_complete"), 302)]
    assert "Password changed" in page(done)
    merchant.refresh_from_db()
    assert merchant.check_password(new_password)
    assert client.login(request=HttpRequest(), username="alice", password=new_password)


def test_password_reset__unknown_email__sends_nothing_but_says_the_same(
    client, merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "nobody@merchant.example"}, follow=True)

    assert "Check your email" in page(response)
    assert mail.outbox == []


def test_password_reset_confirm__bad_token__says_the_link_no_longer_works(client, merchant):
    response = client.get(reverse("password_reset_confirm", args=["MQ", "bad-token"]))

    assert response.status_code == 200
    assert "This link no longer works" in page(response)


# Dashboard


def test_dashboard__anonymous__redirects_to_login(client, db):
    response = client.get(DASHBOARD_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={DASHBOARD_URL}"


def test_dashboard__merchant__lists_own_accounts_only(client, merchant, account, other_account):
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL)

    assert response.status_code == 200
    body = page(response)
    assert "Alice Foods Co" in body
    assert "Alice Foods" in body
    assert "1000000001" in body
    assert "150,000" in body
    assert '<span class="badge badge--unverified">Unverified</span>' in body
    assert edit_url(account) in body
    assert "Bob Retail" not in body
    assert "2000000001" not in body


def test_dashboard__staff__lists_every_organizations_accounts(client, staff, account, other_account):
    client.force_login(staff)

    response = client.get(DASHBOARD_URL)

    assert "Alice Foods" in page(response)
    assert "Bob Retail" in page(response)
    assert reverse("admin:index") in page(response)


def test_dashboard__search_by_screen_name__shows_matching_accounts(client, merchant, organization, account):
    factories.official_account(
        actor=merchant, organization=organization, platform_uid="1000000777", screen_name="Alice Travel"
    )
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL, {"search": "travel"})

    assert "Alice Travel" in page(response)
    assert "1000000001" not in page(response)
    assert 'value="travel"' in page(response)


def test_dashboard__search_by_exact_uid__shows_that_account(client, merchant, organization, account):
    factories.official_account(
        actor=merchant, organization=organization, platform_uid="1000000777", screen_name="Alice Travel"
    )
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL, {"search": "1000000777"})

    assert "Alice Travel" in page(response)
    assert "1000000001" not in page(response)


def test_dashboard__filter_by_verification_and_vertical__shows_matching_accounts(
    client, merchant, organization, account, staff
):
    verified = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="1000000778",
        screen_name="Alice Verified Shop",
        vertical_code="retail",
        verified_by=staff,
    )
    client.force_login(merchant)

    by_status = client.get(DASHBOARD_URL, {"verification_status": "verified"})
    by_vertical = client.get(DASHBOARD_URL, {"vertical": "commerce"})

    assert verified.screen_name in page(by_status)
    assert '<span class="badge badge--verified">Verified</span>' in page(by_status)
    assert "1000000001" not in page(by_status)
    assert "1000000001" in page(by_vertical)
    assert verified.screen_name not in page(by_vertical)


def test_dashboard__more_than_a_page__paginates_and_keeps_the_filters(client, merchant, organization):
    for number in range(26):
        factories.official_account(
            actor=merchant,
            organization=organization,
            platform_uid=f"10000009{number:02d}",
            screen_name=f"Branch {number:02d}",
        )
    client.force_login(merchant)

    first = client.get(DASHBOARD_URL, {"search": "branch"})
    second = client.get(DASHBOARD_URL, {"search": "branch", "page": "2"})

    assert page(first).count("<tr>") == 26  # the header row and 25 accounts
    assert "Page 1 of 2 (26 accounts)" in page(first)
    assert escape("?search=branch&page=2") in page(first)
    assert page(second).count("<tr>") == 2
    assert "Branch 00" in page(second)  # the oldest account comes last
    assert escape("?search=branch&page=1") in page(second)


def test_dashboard__no_accounts__invites_to_add_the_first_one(client, merchant):
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL)

    assert "No official accounts yet" in page(response)
    assert "Add your first account" in page(response)
    assert f'href="{CREATE_URL}"' in page(response)


def test_dashboard__filters_match_nothing__says_so_and_offers_to_clear(client, merchant, account):
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL, {"search": "no such account"})

    assert "No official accounts match these filters." in page(response)
    assert "No official accounts yet" not in page(response)
    assert "Clear filters" in page(response)


def test_dashboard__unknown_filter_value__is_ignored_not_a_500(client, merchant, account):
    client.force_login(merchant)

    response = client.get(DASHBOARD_URL, {"verification_status": "bogus", "page": "999"})

    assert response.status_code == 200
    assert "1000000001" in page(response)
    assert "Some filters were not understood" in page(response)


def test_dashboard__plain_member__sees_accounts_without_edit_links(client, member, account):
    client.force_login(member)

    response = client.get(DASHBOARD_URL)

    assert "Alice Foods" in page(response)
    assert edit_url(account) not in page(response)


# Add an account


def test_account_create__valid__adds_an_unverified_account(client, merchant, organization):
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(), follow=True)

    assert response.redirect_chain == [(DASHBOARD_URL, 302)]
    assert "Alice Foods Delivery was added." in page(response)
    created = OfficialAccount.objects.get(platform_uid="3000000001")
    assert created.organization == organization
    assert created.verification_status == "unverified"
    assert created.vertical.code == "food_beverage"
    assert created.followers_count == 250_000


def test_account_create__one_managed_organization__shows_it_without_a_choice(client, merchant):
    client.force_login(merchant)

    response = client.get(CREATE_URL)

    assert response.status_code == 200
    assert 'name="organization"' not in page(response)
    assert "Alice Foods Co" in page(response)
    assert '<option value="food_beverage">Food and beverage</option>' in page(response)


def test_account_create__two_managed_organizations__lets_the_user_choose(
    client, merchant, organization, other_merchant_and_org
):
    other_owner, other_organization = other_merchant_and_org
    membership_add(
        actor=other_owner, organization=other_organization, user=merchant, role=MembershipRole.ADMIN
    )
    client.force_login(merchant)

    form_page = client.get(CREATE_URL)
    response = client.post(CREATE_URL, account_data(organization=str(other_organization.pk)))

    assert 'name="organization"' in page(form_page)
    assert "Bob Retail Ltd" in page(form_page)
    assert response.status_code == 302
    assert OfficialAccount.objects.get(platform_uid="3000000001").organization == other_organization


def test_account_create__organization_not_managed__is_a_form_error(
    client, merchant, organization, other_merchant_and_org
):
    _, other_organization = other_merchant_and_org
    # Given Alice manages two organizations, so the form offers a choice
    second_owner, second_organization = factories.merchant_register(
        "alice2", organization_name="Alice Two Co"
    )
    membership_add(
        actor=second_owner, organization=second_organization, user=merchant, role=MembershipRole.OWNER
    )
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(organization=str(other_organization.pk)))

    assert response.status_code == 200
    assert "Select a valid choice" in field_error(response, "organization")
    assert not OfficialAccount.objects.filter(platform_uid="3000000001").exists()


def test_account_create__negative_followers__shows_field_error_and_adds_nothing(client, merchant):
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(followers_count="-5"))

    assert response.status_code == 200
    assert "greater than or equal to 0" in field_error(response, "followers_count")
    assert not OfficialAccount.objects.exists()


def test_account_create__uid_already_registered__shows_field_error_and_adds_nothing(
    client, merchant, other_account
):
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(platform_uid=other_account.platform_uid))

    assert response.status_code == 200
    assert "already registered" in field_error(response, "platform_uid")
    assert OfficialAccount.objects.filter(platform_uid=other_account.platform_uid).count() == 1
    assert 'value="Alice Foods Delivery"' in page(response)


def test_account_create__unknown_vertical__shows_field_error_and_adds_nothing(client, merchant):
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(vertical="space_travel"))

    assert response.status_code == 200
    assert "Select a valid choice" in field_error(response, "vertical")
    assert not OfficialAccount.objects.exists()


def test_account_create__blank_screen_name__shows_field_error(client, merchant):
    client.force_login(merchant)

    response = client.post(CREATE_URL, account_data(screen_name="   "))

    assert response.status_code == 200
    assert field_error(response, "screen_name") == "This field is required."
    assert not OfficialAccount.objects.exists()


def test_account_create__user_managing_no_organization__is_403(client, member):
    client.force_login(member)

    response = client.post(CREATE_URL, account_data())

    assert response.status_code == 403
    assert "Only the owners and admins" in page(response)
    assert not OfficialAccount.objects.exists()


def test_account_create__anonymous__redirects_to_login(client, db):
    response = client.get(CREATE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


# Edit an account


def test_account_edit__own_account__shows_the_form_and_the_identity_warning(client, merchant, account):
    client.force_login(merchant)

    response = client.get(edit_url(account))

    assert response.status_code == 200
    assert 'value="Alice Foods"' in page(response)
    assert '<option value="commerce" selected>' in page(response)
    assert "Changing the platform, platform uid or kind" in page(response)


def test_account_edit__other_merchants_account__is_404(client, merchant, other_account):
    client.force_login(merchant)

    get_response = client.get(edit_url(other_account))
    post_response = client.post(edit_url(other_account), account_data(screen_name="Hijacked"))

    assert get_response.status_code == 404
    assert post_response.status_code == 404
    assert "Bob Retail" not in page(get_response)
    other_account.refresh_from_db()
    assert other_account.screen_name == "Bob Retail"


def test_account_edit__plain_member__is_403_and_changes_nothing(client, member, account):
    client.force_login(member)

    response = client.post(edit_url(account), account_data(screen_name="Changed"))

    assert response.status_code == 403
    assert "Only the owners and admins of Alice Foods Co" in page(response)
    account.refresh_from_db()
    assert account.screen_name == "Alice Foods"


def test_account_edit__identity_of_verified_account__sends_it_back_to_unverified(
    client, merchant, account, staff
):
    official_account_verify(actor=staff, account=account)
    client.force_login(merchant)
    form_page = client.get(edit_url(account))
    assert "sends this account back to “unverified”" in page(form_page)

    response = client.post(
        edit_url(account),
        account_data(platform_uid="1000000099", screen_name="Alice Foods", vertical="commerce"),
        follow=True,
    )

    assert response.redirect_chain == [(DASHBOARD_URL, 302)]
    assert "so it is unverified until platform staff verify it again" in page(response)
    account.refresh_from_db()
    assert account.platform_uid == "1000000099"
    assert account.verification_status == "unverified"
    assert account.verified_at is None


def test_account_edit__screen_name_of_verified_account__keeps_it_verified(client, merchant, account, staff):
    official_account_verify(actor=staff, account=account)
    client.force_login(merchant)

    response = client.post(
        edit_url(account),
        account_data(
            platform_uid="1000000001",
            screen_name="Alice Foods Official",
            vertical="commerce",
            followers_count=str(account.followers_count),
        ),
        follow=True,
    )

    assert "Alice Foods Official was saved." in page(response)
    account.refresh_from_db()
    assert account.screen_name == "Alice Foods Official"
    assert account.verification_status == "verified"


def test_account_edit__uid_of_another_account__shows_field_error_and_changes_nothing(
    client, merchant, account, other_account
):
    client.force_login(merchant)

    response = client.post(
        edit_url(account), account_data(platform_uid=other_account.platform_uid, vertical="commerce")
    )

    assert response.status_code == 200
    assert "already registered" in field_error(response, "platform_uid")
    account.refresh_from_db()
    assert account.platform_uid == "1000000001"
    assert account.screen_name == "Alice Foods"


def test_account_edit__nothing_changed__says_so(client, merchant, account):
    client.force_login(merchant)

    response = client.post(
        edit_url(account),
        account_data(
            platform_uid="1000000001",
            screen_name="Alice Foods",
            vertical="commerce",
            followers_count="150000",
        ),
        follow=True,
    )

    assert "Nothing changed." in page(response)


@pytest.mark.django_db
def test_account_create__staff__is_sent_to_the_admin_form(client, staff):
    client.force_login(staff)
    response = client.get(reverse("accounts:account-create"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_officialaccount_add")
