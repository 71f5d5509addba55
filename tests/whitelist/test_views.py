"""The merchant's whitelist pages: apply, check eligibility, submit, answer a change request, withdraw."""

import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import MembershipRole, User
from accounts.services import membership_add
from tests import factories, uploads
from whitelist import services
from whitelist.models import Evaluation, ReasonCode, ReviewEvent, WhitelistApplication, WhitelistEntry

LIST_URL = reverse("whitelist:application-list")
CREATE_URL = reverse("whitelist:application-create")
DASHBOARD_URL = reverse("home:dashboard")

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 12,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
    "description": "Our own team builds and runs our ordering mini program.",
}


def url(name: str, application: WhitelistApplication) -> str:
    return reverse(f"whitelist:application-{name}", args=[application.pk])


def form_data(account_id: int | None = None, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "has_in_house_team": "on",
        "dev_team_size": "12",
        "product_name_1": "Order app",
        "product_url_1": "https://apps.example.com/order",
        "product_name_2": "Burger club",
        "product_url_2": "https://club.example.com/",
        "services": ["ordering", "payment", "after_sales"],
        "support_channels": "400-800-1234\r\n\r\n  help@alice.example  \r\n",
        "after_sales_policy": "Refunds within 7 days.",
        "description": "Our own team builds and runs our ordering mini program.",
    }
    if account_id is not None:
        data["account"] = str(account_id)
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def field_error(response, field: str) -> str:  # type: ignore[no-untyped-def]
    """The error text shown next to a form field, or "" when there is none."""
    match = re.search(rf'<span class="field-error" id="id_{field}_error">(.*?)</span>', page(response))
    return match.group(1) if match else ""


def flashes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<p class="flash flash--\w+" role="\w+">(.*?)</p>', page(response), flags=re.S)


def state_of(application: WhitelistApplication) -> str:
    application.refresh_from_db()
    return application.state


@pytest.fixture
def web_account(merchant, organization, staff):  # type: ignore[no-untyped-def]
    """Verified, in an open vertical, with far more followers than policy v1 asks for."""
    return factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="5100000001",
        screen_name="Alice Burgers",
        vertical_code="food_beverage",
        followers_count=2_000_000,
        verified_by=staff,
    )


@pytest.fixture
def web_draft(merchant, web_account) -> WhitelistApplication:  # type: ignore[no-untyped-def]
    return services.application_create(actor=merchant, account=web_account, data=EVIDENCE)


@pytest.fixture
def web_submitted(merchant, web_draft) -> WhitelistApplication:  # type: ignore[no-untyped-def]
    return services.application_submit(actor=merchant, application=web_draft)


@pytest.fixture
def web_changes_requested(staff, web_submitted) -> WhitelistApplication:  # type: ignore[no-untyped-def]
    return services.application_request_changes(
        actor=staff,
        application=web_submitted,
        message="Please list the developers' roles.",
        reason_code=ReasonCode.objects.get(code="evidence_insufficient"),
    )


@pytest.fixture
def web_member(merchant, organization) -> User:  # type: ignore[no-untyped-def]
    """A plain member of Alice's organization, and of no other: may look, may not act."""
    user = User.objects.create_user(username="mallory", email="mallory@merchant.example", password="x")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.MEMBER)
    return user


# Apply


def test_create_page__account_in_query__preselects_it_and_shows_the_sections(client, merchant, web_account):
    client.force_login(merchant)

    response = client.get(CREATE_URL, {"account": web_account.pk})

    assert response.status_code == 200
    body = page(response)
    assert f'<option value="{web_account.pk}" selected>' in body
    for heading in ("Development capability", "User services", "Documents"):
        assert f">{heading}</h2>" in body
    assert 'name="product_url_5"' in body
    assert 'name="product_url_6"' not in body
    assert 'value="membership_cards"' in body
    assert "add documents of evidence (PDF, PNG or JPEG, at most 10 MB each)" in body
    assert "Save draft" in body


def test_create__valid__saves_the_draft_and_opens_its_page(client, merchant, web_account):
    client.force_login(merchant)

    response = client.post(CREATE_URL, form_data(web_account.pk), follow=True)

    application = WhitelistApplication.objects.get()
    assert response.redirect_chain == [(url("detail", application), 302)]
    assert "Draft saved." in " ".join(flashes(response))
    assert application.state == "draft"
    assert application.account == web_account
    assert application.created_by == merchant
    assert application.has_in_house_team is True
    assert application.dev_team_size == 12
    assert application.self_developed_products == [
        {"name": "Order app", "url": "https://apps.example.com/order"},
        {"name": "Burger club", "url": "https://club.example.com/"},
    ]
    assert application.services == ["ordering", "payment", "after_sales"]
    assert application.support_channels == ["400-800-1234", "help@alice.example"]
    body = page(response)
    assert '<span class="badge badge--draft badge--large">Draft</span>' in body
    assert "Yes, 12 developers" in body
    assert 'href="https://club.example.com/"' in body
    assert "Ordering, Payment, After-sales" in body
    assert "Not checked yet." in body
    assert "Draft started" in body


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"dev_team_size": "-1"}, "dev_team_size", "Ensure this value is greater than or equal to 0."),
        ({"dev_team_size": "ten"}, "dev_team_size", "Enter a whole number."),
        ({"product_url_1": "not a url"}, "product_url_1", "Enter a valid URL."),
        ({"product_url_2": ""}, "product_url_2", "Give the product&#x27;s link too."),
        ({"product_name_2": ""}, "product_name_2", "Name the product too."),
        ({"services": ["advertising"]}, "services", "Select a valid choice."),
        ({"support_channels": "x" * 201}, "support_channels", "Keep each support channel to 200 characters."),
        ({"description": "d" * 5001}, "description", "Ensure this value has at most 5000 characters"),
        # The service holds this rule; the page shows it next to the field all the same.
        (
            {"has_in_house_team": None, "dev_team_size": "5"},
            "dev_team_size",
            "Declare an in-house team before giving its size.",
        ),
        ({"account": "999999"}, "account", "Select a valid choice."),
    ],
)
def test_create__bad_input__rerenders_with_the_field_error_and_writes_nothing(
    client, merchant, web_account, overrides, field, error
):
    client.force_login(merchant)

    response = client.post(CREATE_URL, form_data(web_account.pk, **overrides))

    assert response.status_code == 200
    assert error in field_error(response, field)
    assert "Some answers need attention" in page(response)
    assert 'value="Order app"' in page(response)
    assert not WhitelistApplication.objects.exists()
    assert not ReviewEvent.objects.exists()


def test_create__other_merchants_account__is_not_offered_and_cannot_be_posted(
    client, merchant, web_account, other_account
):
    client.force_login(merchant)

    form_page = client.get(CREATE_URL, {"account": other_account.pk})
    response = client.post(CREATE_URL, form_data(other_account.pk))

    assert form_page.status_code == 200
    assert "Bob Retail" not in page(form_page)
    assert "Alice Burgers" in page(form_page)
    assert "Select a valid choice" in field_error(response, "account")
    assert not WhitelistApplication.objects.exists()


def test_create__account_with_open_application__leads_to_that_application(client, merchant, web_draft):
    client.force_login(merchant)

    response = client.get(CREATE_URL, {"account": web_draft.account_id}, follow=True)
    form_page = client.get(CREATE_URL)

    assert response.redirect_chain == [(url("detail", web_draft), 302)]
    assert "Alice Burgers already has an open application" in " ".join(flashes(response))
    assert "No account can apply right now" in page(form_page)
    assert 'name="has_in_house_team"' not in page(form_page)


def test_create__plain_member__is_403_with_the_reason_and_writes_nothing(client, web_member, web_account):
    client.force_login(web_member)

    get_response = client.get(CREATE_URL)
    post_response = client.post(CREATE_URL, form_data(web_account.pk))

    assert get_response.status_code == 403
    assert post_response.status_code == 403
    assert "Only the owners and admins of an organization can apply" in page(post_response)
    assert not WhitelistApplication.objects.exists()


def test_create__anonymous__redirects_to_login(client, db):
    response = client.get(CREATE_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# Check eligibility, submit


def test_evaluate__draft__shows_each_criterion_with_its_outcome(client, merchant, web_draft):
    client.force_login(merchant)

    response = client.post(url("evaluate", web_draft), follow=True)

    assert response.redirect_chain == [(url("detail", web_draft) + "#eligibility", 302)]
    assert "Eligibility checked: Eligible." in " ".join(flashes(response))
    body = page(response)
    assert '<span class="badge badge--eligible">Eligible</span>' in body
    for criterion in (
        "Verified account",
        "Open vertical",
        "Audience",
        "Independent development capability",
        "User-facing services",
        "Good standing",
    ):
        assert f'<th scope="row">{criterion}</th>' in body
    assert body.count('<span class="badge badge--pass">Pass</span>') == 6
    assert "The account has 2,000,000 followers; the minimum is 100,000." in body
    assert state_of(web_draft) == "draft"
    assert Evaluation.objects.filter(application=web_draft).count() == 1


def test_evaluate__small_team__shows_the_failing_criterion_and_why(client, merchant, web_draft):
    services.application_update(actor=merchant, application=web_draft, data={"dev_team_size": 1})
    client.force_login(merchant)

    response = client.post(url("evaluate", web_draft), follow=True)

    body = page(response)
    assert "Eligibility checked: Ineligible." in " ".join(flashes(response))
    assert '<span class="badge badge--fail">Fail</span>' in body
    assert "The in-house team has 1 developer; at least 3 are needed." in body


def test_evaluate__then_edit__says_the_check_is_out_of_date(client, merchant, web_draft):
    client.force_login(merchant)
    client.post(url("evaluate", web_draft))

    client.post(url("edit", web_draft), form_data(dev_team_size="20"))
    response = client.get(url("detail", web_draft))

    assert "This check is older than the application's last change" in page(response)


def test_evaluate__submitted__is_refused_with_a_message_and_keeps_no_result(client, merchant, web_submitted):
    client.force_login(merchant)
    before = Evaluation.objects.count()

    response = client.post(url("evaluate", web_submitted), follow=True)

    assert response.status_code == 200
    assert "eligibility is checked while it can still be edited" in " ".join(flashes(response))
    assert Evaluation.objects.count() == before


def test_submit__draft__is_submitted_and_the_page_says_so(client, merchant, web_draft):
    client.force_login(merchant)
    detail = client.get(url("detail", web_draft))
    assert f'action="{url("submit", web_draft)}"' in page(detail)

    response = client.post(url("submit", web_draft), follow=True)

    assert response.redirect_chain == [(url("detail", web_draft), 302)]
    assert "Your application was submitted." in " ".join(flashes(response))
    body = page(response)
    assert '<span class="badge badge--submitted badge--large">Submitted</span>' in body
    assert "Submitted for review" in body
    assert f'action="{url("submit", web_draft)}"' not in body
    assert url("edit", web_draft) not in body
    assert url("withdraw", web_draft) in body
    assert state_of(web_draft) == "submitted"


def test_submit__already_submitted__shows_the_conflict_as_an_error_not_a_500(client, merchant, web_submitted):
    client.force_login(merchant)

    response = client.post(url("submit", web_submitted), follow=True)

    assert response.status_code == 200
    assert (
        '<p class="flash flash--error" role="alert">Cannot submit an application that is Submitted.</p>'
        in (page(response))
    )
    assert state_of(web_submitted) == "submitted"


@pytest.mark.parametrize("action", ["submit", "resubmit", "evaluate"])
def test_transition__get__is_405_and_changes_nothing(client, merchant, web_draft, action):
    client.force_login(merchant)

    response = client.get(url(action, web_draft))

    assert response.status_code == 405
    assert state_of(web_draft) == "draft"
    assert not Evaluation.objects.exists()


def test_edit__submitted__is_refused_with_a_message(client, merchant, web_submitted):
    client.force_login(merchant)

    response = client.get(url("edit", web_submitted), follow=True)

    assert response.redirect_chain == [(url("detail", web_submitted), 302)]
    assert "This application is submitted, so it can no longer be edited." in " ".join(flashes(response))


# Change requests


def test_change_request__merchant_reads_it_edits_and_resubmits(client, merchant, web_changes_requested):
    application = web_changes_requested
    client.force_login(merchant)

    # The detail page shows the request, by "Platform staff", not by the reviewer's name
    detail = page(client.get(url("detail", application)))
    assert "Platform staff asked for changes" in detail
    assert "Please list the developers&#x27; roles." in detail
    assert "Evidence insufficient" in detail
    assert "Platform staff ·" in detail
    assert "reviewer" not in detail
    assert f'action="{url("resubmit", application)}"' in detail

    # The edit form is prefilled and repeats the request at the top
    form_page = page(client.get(url("edit", application)))
    assert form_page.index("Please list the developers&#x27; roles.") < form_page.index(
        'name="dev_team_size"'
    )
    assert 'value="Order app"' in form_page
    assert "400-800-1234</textarea>" in form_page
    assert '<input type="checkbox" name="services" value="payment"' in form_page
    assert "checked" in re.search(r'<input[^>]*value="payment"[^>]*>', form_page).group(0)

    saved = client.post(
        url("edit", application),
        form_data(dev_team_size="15", description="Five backend, six frontend and four QA engineers."),
        follow=True,
    )
    assert "Your changes were saved." in " ".join(flashes(saved))
    application.refresh_from_db()
    assert application.dev_team_size == 15
    assert application.description == "Five backend, six frontend and four QA engineers."
    assert application.state == "changes_requested"

    resubmitted = client.post(url("resubmit", application), follow=True)

    assert "sent back to platform staff for review" in " ".join(flashes(resubmitted))
    assert "Resubmitted for review" in page(resubmitted)
    assert state_of(application) == "submitted"


def test_edit__team_size_without_team__shows_the_field_error_and_changes_nothing(client, merchant, web_draft):
    client.force_login(merchant)

    response = client.post(url("edit", web_draft), form_data(has_in_house_team=None, dev_team_size="4"))

    assert response.status_code == 200
    assert field_error(response, "dev_team_size") == "Declare an in-house team before giving its size."
    web_draft.refresh_from_db()
    assert web_draft.has_in_house_team is True
    assert web_draft.dev_team_size == 12


def test_edit__nothing_changed__says_so(client, merchant, web_draft):
    client.force_login(merchant)

    response = client.post(
        url("edit", web_draft),
        form_data(product_name_2="", product_url_2="", support_channels="400-800-1234"),
        follow=True,
    )

    assert "Nothing changed." in " ".join(flashes(response))


def test_staff_only_note__is_not_shown_to_the_applicant(client, merchant, staff, web_submitted):
    services.application_note(
        actor=staff, application=web_submitted, message="Internal: the licence looks edited."
    )
    services.application_note(
        actor=staff,
        application=web_submitted,
        message="We are checking your products.",
        visible_to_applicant=True,
    )
    client.force_login(merchant)

    body = page(client.get(url("detail", web_submitted)))

    assert "We are checking your products." in body
    assert "Internal: the licence looks edited." not in body


# Decisions


def test_approval__shown_on_the_detail_page_and_the_dashboard(client, merchant, staff, web_submitted):
    services.application_approve(actor=staff, application=web_submitted, message="Welcome aboard.")
    entry = WhitelistEntry.objects.get(account=web_submitted.account)
    client.force_login(merchant)

    detail = page(client.get(url("detail", web_submitted)))
    dashboard = page(client.get(DASHBOARD_URL))

    assert '<span class="badge badge--approved badge--large">Approved</span>' in detail
    assert "Alice Burgers is whitelisted until" in detail
    assert "with 1 share per hour" in detail
    assert "Welcome aboard." in detail
    assert url("withdraw", web_submitted) not in detail
    assert ">Whitelist</th>" in dashboard
    assert f'href="{url("detail", web_submitted)}"' in dashboard
    assert '<span class="badge badge--active">Active</span>' in dashboard
    assert entry.valid_until.strftime("%Y") in dashboard


def test_dashboard__open_application__shows_its_state_and_no_apply_link(
    client, merchant, web_draft, organization
):
    other = factories.official_account(
        actor=merchant, organization=organization, platform_uid="5100000002", screen_name="Alice Noodles"
    )
    client.force_login(merchant)

    body = page(client.get(DASHBOARD_URL))

    assert f'href="{url("detail", web_draft)}"' in body
    assert '<span class="badge badge--draft">Draft</span>' in body
    assert f"{CREATE_URL}?account={web_draft.account_id}" not in body
    assert f"{CREATE_URL}?account={other.pk}" in body
    assert "Not applied" in body


def test_dashboard__query_count_does_not_grow_with_accounts(
    client, merchant, organization, staff, django_assert_max_num_queries
):
    def add_account_with_history(number: int) -> None:
        account = factories.official_account(
            actor=merchant,
            organization=organization,
            platform_uid=f"52000000{number:02d}",
            screen_name=f"Branch {number}",
            vertical_code="food_beverage",
            followers_count=500_000,
            verified_by=staff,
        )
        application = services.application_create(actor=merchant, account=account, data=EVIDENCE)
        if number % 2:
            services.application_submit(actor=merchant, application=application)
            services.application_approve(actor=staff, application=application)

    # Given one account with an approved application, and the queries its dashboard takes
    add_account_with_history(1)
    client.force_login(merchant)
    with CaptureQueriesContext(connection) as one_account:
        assert client.get(DASHBOARD_URL).status_code == 200

    # When there are eight accounts, with drafts and entries
    for number in range(2, 9):
        add_account_with_history(number)

    # Then the dashboard takes no more queries
    with django_assert_max_num_queries(len(one_account.captured_queries)):
        response = client.get(DASHBOARD_URL)
    assert page(response).count('<span class="badge badge--active">Active</span>') == 4
    assert page(response).count('<span class="badge badge--draft">Draft</span>') == 4


# Withdraw


def test_withdraw__get__asks_for_confirmation_and_changes_nothing(client, merchant, web_submitted):
    client.force_login(merchant)

    response = client.get(url("withdraw", web_submitted))

    assert response.status_code == 200
    assert "Are you sure you want to withdraw this application?" in page(response)
    assert '<form method="post">' in page(response)
    assert state_of(web_submitted) == "submitted"


def test_withdraw__confirmed__withdraws(client, merchant, web_submitted):
    client.force_login(merchant)

    response = client.post(url("withdraw", web_submitted), follow=True)

    assert response.redirect_chain == [(url("detail", web_submitted), 302)]
    assert "Your application was withdrawn." in " ".join(flashes(response))
    assert '<span class="badge badge--withdrawn badge--large">Withdrawn</span>' in page(response)
    assert state_of(web_submitted) == "withdrawn"


def test_withdraw__draft__is_refused_with_a_message(client, merchant, web_draft):
    client.force_login(merchant)

    confirmation = client.get(url("withdraw", web_draft), follow=True)
    response = client.post(url("withdraw", web_draft), follow=True)

    assert "This application is draft, so it cannot be withdrawn." in " ".join(flashes(confirmation))
    assert "Cannot withdraw an application that is Draft." in " ".join(flashes(response))
    assert state_of(web_draft) == "draft"


# Who may see and act


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "detail"),
        ("get", "edit"),
        ("post", "edit"),
        ("post", "evaluate"),
        ("post", "submit"),
        ("post", "resubmit"),
        ("get", "withdraw"),
        ("post", "withdraw"),
    ],
)
def test_other_merchant__any_page_of_the_application__is_404_and_changes_nothing(
    client, other_merchant, web_draft, method, name
):
    client.force_login(other_merchant)

    response = getattr(client, method)(url(name, web_draft), form_data(dev_team_size="1"))

    assert response.status_code == 404
    assert "Alice Burgers" not in page(response)
    web_draft.refresh_from_db()
    assert web_draft.state == "draft"
    assert web_draft.dev_team_size == 12
    assert not Evaluation.objects.exists()


def test_plain_member__sees_the_application_but_no_actions(client, web_member, web_draft):
    client.force_login(web_member)

    body = page(client.get(url("detail", web_draft)))

    assert "Alice Burgers" in body
    assert "Only the owners and admins of Alice Foods Co can edit, submit or withdraw" in body
    assert f'action="{url("submit", web_draft)}"' not in body
    assert url("edit", web_draft) not in body


def test_plain_member__submit__is_refused_with_a_clear_error_and_no_state_change(
    client, web_member, web_draft
):
    client.force_login(web_member)

    submit = client.post(url("submit", web_draft), follow=True)
    evaluate = client.post(url("evaluate", web_draft), follow=True)
    edit = client.post(url("edit", web_draft), form_data(dev_team_size="1"))

    refusal = "Only the owners and admins of the applicant organization can do this."
    assert refusal in " ".join(flashes(submit))
    assert refusal in " ".join(flashes(evaluate))
    assert edit.status_code == 403
    assert refusal in page(edit)
    web_draft.refresh_from_db()
    assert web_draft.state == "draft"
    assert web_draft.dev_team_size == 12
    assert not Evaluation.objects.exists()


# The list


def test_list__shows_own_applications_with_state_recommendation_and_date(
    client, merchant, web_submitted, other_merchant_and_org, staff
):
    other_user, other_organization = other_merchant_and_org
    other = factories.official_account(
        actor=other_user, organization=other_organization, screen_name="Bob Retail", verified_by=staff
    )
    services.application_create(actor=other_user, account=other, data=EVIDENCE)
    client.force_login(merchant)

    response = client.get(LIST_URL)

    body = page(response)
    assert response.status_code == 200
    assert f'href="{url("detail", web_submitted)}"' in body
    assert "Alice Burgers" in body
    assert '<span class="badge badge--submitted">Submitted</span>' in body
    assert '<span class="badge badge--eligible">Eligible</span>' in body
    # The instant, in the merchant's time zone (Asia/Shanghai by default)
    submitted = timezone.localtime(web_submitted.submitted_at, ZoneInfo("Asia/Shanghai"))
    assert f'datetime="{submitted.isoformat()}"' in body
    assert "Bob Retail" not in body


def test_list__filter_by_state__shows_only_that_state(client, merchant, web_submitted):
    client.force_login(merchant)

    submitted = page(client.get(LIST_URL, {"state": "submitted"}))
    drafts = page(client.get(LIST_URL, {"state": "draft"}))
    bogus = client.get(LIST_URL, {"state": "bogus"})

    assert "Alice Burgers" in submitted
    assert "Alice Burgers" not in drafts
    assert "No applications in this state." in drafts
    assert bogus.status_code == 200
    assert "Alice Burgers" in page(bogus)


def test_list__more_than_a_page__paginates_by_25(client, merchant, organization):
    for number in range(26):
        account = factories.official_account(
            actor=merchant, organization=organization, platform_uid=f"53000000{number:02d}"
        )
        services.application_create(actor=merchant, account=account, data={})
    client.force_login(merchant)

    first = page(client.get(LIST_URL))
    second = page(client.get(LIST_URL, {"page": "2"}))

    assert first.count("<tr>") == 26  # the header row and 25 applications
    assert "Page 1 of 2 (26 applications)" in first
    assert second.count("<tr>") == 2


def test_list__no_applications__explains_the_criteria_and_links_to_apply(client, merchant):
    client.force_login(merchant)

    body = page(client.get(LIST_URL))

    assert "No whitelist applications yet" in body
    assert "at least 100,000 followers." in body
    assert "an in-house team of at least 3 developers" in body
    assert "Food and beverage" in body
    assert f'href="{CREATE_URL}"' in body


def test_nav__logged_in__links_to_the_applications(client, merchant):
    client.force_login(merchant)

    body = page(client.get(LIST_URL))

    assert f'<a href="{LIST_URL}" aria-current="page">Applications</a>' in body


@pytest.mark.django_db
def test_detail_upload__pdf_on_draft__is_attached_and_listed(client, merchant, web_draft):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(merchant)
    response = client.post(
        reverse("whitelist:application-attachment-upload", args=[web_draft.pk]),
        {"file": SimpleUploadedFile("licence.pdf", uploads.PDF, content_type="application/pdf")},
        follow=True,
    )
    assert response.status_code == 200
    assert "licence.pdf is attached" in response.content.decode()
    assert web_draft.attachments.count() == 1


@pytest.mark.django_db
def test_detail_upload__not_a_document__shows_error_and_attaches_nothing(client, merchant, web_draft):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(merchant)
    response = client.post(
        reverse("whitelist:application-attachment-upload", args=[web_draft.pk]),
        {"file": SimpleUploadedFile("virus.pdf", b"MZ\x90\x00", content_type="application/pdf")},
        follow=True,
    )
    assert "Only PDF, PNG and JPEG files are accepted" in response.content.decode()
    assert web_draft.attachments.count() == 0


@pytest.mark.django_db
def test_detail_upload__other_merchant__is_404(client, other_merchant, web_draft):
    client.force_login(other_merchant)
    response = client.post(reverse("whitelist:application-attachment-upload", args=[web_draft.pk]), {})
    assert response.status_code == 404
