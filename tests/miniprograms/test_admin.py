"""Staff screens: mini program lists, and link decisions and delisting with a reason page."""

import pytest
from django.urls import reverse

from accounts.models import User
from miniprograms import services
from miniprograms.models import MiniProgram, ProfileLink, ProfileLinkEvent


@pytest.fixture
def admin_client_logged_in(client, db):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    client.superuser = superuser
    return client


def run_action(client, model: str, action: str, pks: list[int], **form):
    """Post the changelist action; with form data, also press the intermediate page's button."""
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **form}
    if form:
        data["apply"] = "1"
    return client.post(reverse(f"admin:miniprograms_{model}_changelist"), data)


@pytest.mark.django_db
def test_miniprogram_list__filters_by_category_and_searches_app_id(
    admin_client_logged_in, make_miniprogram, other_miniprogram
):
    make_miniprogram("2021000000000001", name="Burger Order")
    make_miniprogram("2021000000000002", name="Laundry Pickup", category="life_service")
    url = reverse("admin:miniprograms_miniprogram_changelist")

    life = admin_client_logged_in.get(url, {"category__exact": "life_service"})
    assert "Laundry Pickup" in life.text and "Burger Order" not in life.text
    found = admin_client_logged_in.get(url, {"q": "2021000000000099"})
    assert "Bob Mart" in found.text and "Laundry Pickup" not in found.text
    by_organization = admin_client_logged_in.get(
        url, {"organization__id__exact": other_miniprogram.organization_id}
    )
    assert by_organization.status_code == 200
    assert "Bob Mart" in by_organization.text and "Burger Order" not in by_organization.text
    # No filter lists every organization: one is found by searching its name
    by_name = admin_client_logged_in.get(url, {"q": "Bob Retail"})
    assert "Bob Mart" in by_name.text and "Burger Order" not in by_name.text


@pytest.mark.django_db
def test_link_list__filters_by_state(admin_client_logged_in, staff, pending_link, other_link):
    services.profile_link_approve(actor=staff, link=other_link)
    response = admin_client_logged_in.get(
        reverse("admin:miniprograms_profilelink_changelist"), {"state__exact": "live"}
    )
    assert response.status_code == 200
    assert f"#{other_link.pk} " in response.text and f"#{pending_link.pk} " not in response.text


@pytest.mark.django_db
def test_approve_action__asks_for_reason_then_approves_with_it(admin_client_logged_in, pending_link):
    # When staff choose the action, a page asks for the (optional) reason
    page = run_action(admin_client_logged_in, "profilelink", "approve", [pending_link.pk])
    assert page.status_code == 200
    assert 'name="reason"' in page.text
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"

    # Then applying it approves the link and keeps the reason
    done = run_action(admin_client_logged_in, "profilelink", "approve", [pending_link.pk], reason="Checked.")
    assert done.status_code == 302
    link = ProfileLink.objects.get(pk=pending_link.pk)
    assert (link.state, link.reason, link.decided_by) == (
        "live",
        "Checked.",
        admin_client_logged_in.superuser,
    )


@pytest.mark.django_db
def test_reject_action__without_reason__asks_again_and_changes_nothing(admin_client_logged_in, pending_link):
    data = {"action": "reject", "_selected_action": [str(pending_link.pk)], "apply": "1", "reason": ""}
    response = admin_client_logged_in.post(reverse("admin:miniprograms_profilelink_changelist"), data)

    assert response.status_code == 200
    assert "This field is required" in response.text
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"


@pytest.mark.django_db
def test_reject_action__with_reason__rejects_and_records_event(admin_client_logged_in, pending_link):
    run_action(admin_client_logged_in, "profilelink", "reject", [pending_link.pk], reason="Only adverts.")

    link = ProfileLink.objects.get(pk=pending_link.pk)
    assert (link.state, link.reason) == ("rejected", "Only adverts.")
    event = ProfileLinkEvent.objects.filter(link=link).last()
    assert (event.from_state, event.to_state, event.reason) == ("pending_review", "rejected", "Only adverts.")


@pytest.mark.django_db
def test_approve_action__illegal_for_some__reports_them_and_approves_the_rest(
    admin_client_logged_in, staff, pending_link, other_link
):
    services.profile_link_reject(actor=staff, link=other_link, reason="No.")

    response = run_action(
        admin_client_logged_in, "profilelink", "approve", [pending_link.pk, other_link.pk], reason=""
    )

    assert response.status_code == 302
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "live"
    assert ProfileLink.objects.get(pk=other_link.pk).state == "rejected"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Cannot approve a link that is Rejected." in m for m in messages)


@pytest.mark.django_db
def test_delist_action__with_reason__delists_and_unlinks(admin_client_logged_in, pending_link):
    run_action(
        admin_client_logged_in,
        "miniprogram",
        "delist",
        [pending_link.miniprogram_id],
        reason="Fraud reports.",
    )

    assert MiniProgram.objects.get(pk=pending_link.miniprogram_id).state == "delisted"
    link = ProfileLink.objects.get(pk=pending_link.pk)
    assert link.state == "unlinked"
    assert ProfileLinkEvent.objects.filter(link=link).last().reason == "Fraud reports."


@pytest.mark.django_db
def test_link_page__shows_history(admin_client_logged_in, staff, pending_link):
    services.profile_link_approve(actor=staff, link=pending_link, reason="Fine.")
    response = admin_client_logged_in.get(
        reverse("admin:miniprograms_profilelink_change", args=[pending_link.pk])
    )
    assert response.status_code == 200
    assert "Fine." in response.text


@pytest.mark.django_db
def test_policy_admin__new_version__keeps_the_live_links_limit_given(admin_client_logged_in):
    from whitelist.models import CriteriaPolicy

    v1 = CriteriaPolicy.objects.get(is_active=True)
    response = admin_client_logged_in.post(
        reverse("admin:whitelist_criteriapolicy_add"),
        {
            "open_verticals": list(v1.open_verticals.values_list("pk", flat=True)),
            "min_followers": v1.min_followers,
            "min_dev_team_size": v1.min_dev_team_size,
            "min_user_services": v1.min_user_services,
            "required_criteria": '["verified_account"]',
            "entry_validity_days": 365,
            "default_share_limit_per_hour": 1,
            "max_live_links_per_account": 3,
        },
    )

    assert response.status_code == 302, response.content
    assert CriteriaPolicy.objects.get(version=v1.version + 1).max_live_links_per_account == 3
