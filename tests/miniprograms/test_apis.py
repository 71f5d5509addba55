"""The mini program API: registration, editing, icons, profile links and their review, isolation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from miniprograms import services
from miniprograms.models import MiniProgram, ProfileLink
from tests.uploads import JPEG, PNG

PROBLEM = "application/problem+json"


def problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    for field in fields:
        assert field in body["errors"], body
    return body


def payload(**overrides) -> dict:
    body = {
        "app_id": "2021000000000001",
        "name": "Burger Order",
        "description": "Order ahead and pay.",
        "category": "business",
        "capabilities": ["payment", "card"],
    }
    body.update(overrides)
    return body


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_client(other_merchant) -> APIClient:
    return client_for(other_merchant)


# Registering and editing


@pytest.mark.django_db
def test_create__valid__is_201_with_id(merchant_client, organization):
    response = merchant_client.post("/api/v1/miniprograms/", payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": MiniProgram.objects.get().pk,
        "organization": organization.pk,
        "app_id": "2021000000000001",
        "name": "Burger Order",
        "description": "Order ahead and pay.",
        "category": "business",
        "capabilities": ["payment", "card"],
        "state": "active",
        "icon_url": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"app_id": "123"}, "app_id"),
        ({"app_id": "20210000000000012"}, "app_id"),
        ({"app_id": "2021-000-0000-001"}, "app_id"),
        ({"app_id": None}, "app_id"),
        ({"name": "n" * 41}, "name"),
        ({"name": "   "}, "name"),
        ({"category": "games"}, "category"),
        ({"capabilities": ["payment", "teleport"]}, "capabilities.1"),
        ({"capabilities": ["payment", "payment"]}, "capabilities"),
        ({"capabilities": "payment"}, "capabilities"),
        ({"description": "d" * 2001}, "description"),
        ({"organization": 999999}, "organization"),
    ],
)
def test_create__bad_input__is_400_naming_field_and_writes_nothing(merchant_client, overrides, field):
    response = merchant_client.post("/api/v1/miniprograms/", payload(**overrides), format="json")

    problem(response, 400, field)
    assert not MiniProgram.objects.exists()


@pytest.mark.django_db
def test_create__duplicate_app_id__is_400_on_app_id(merchant_client, other_miniprogram):
    response = merchant_client.post(
        "/api/v1/miniprograms/", payload(app_id=other_miniprogram.app_id), format="json"
    )

    body = problem(response, 400, "app_id")
    assert "already registered" in body["errors"]["app_id"][0]
    assert MiniProgram.objects.count() == 1


@pytest.mark.django_db
def test_create__for_another_organization__is_400_on_organization(merchant_client, other_merchant_and_org):
    response = merchant_client.post(
        "/api/v1/miniprograms/", payload(organization=other_merchant_and_org[1].pk), format="json"
    )
    problem(response, 400, "organization")
    assert not MiniProgram.objects.exists()


@pytest.mark.django_db
def test_create__plain_member__is_403(plain_member, organization):
    response = client_for(plain_member).post(
        "/api/v1/miniprograms/", payload(organization=organization.pk), format="json"
    )
    problem(response, 403)
    assert not MiniProgram.objects.exists()


@pytest.mark.django_db
def test_read__plain_member__sees_the_organizations_miniprograms(plain_member, miniprogram):
    client = client_for(plain_member)
    assert [item["id"] for item in client.get("/api/v1/miniprograms/").json()["results"]] == [miniprogram.pk]
    assert client.get(f"/api/v1/miniprograms/{miniprogram.pk}/").json()["app_id"] == miniprogram.app_id


@pytest.mark.django_db
def test_patch__valid__is_200_and_saved(merchant_client, miniprogram):
    response = merchant_client.patch(
        f"/api/v1/miniprograms/{miniprogram.pk}/",
        {"name": "Burger Order 2", "capabilities": ["search"]},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["capabilities"]) == ("Burger Order 2", ["search"])
    miniprogram.refresh_from_db()
    assert (miniprogram.name, miniprogram.category) == ("Burger Order 2", "business")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "n" * 41}, "name"),
        ({"name": ""}, "name"),
        ({"category": "games"}, "category"),
        ({"capabilities": ["topic", "topic"]}, "capabilities"),
        ({"capabilities": ["teleport"]}, "capabilities.0"),
        ({"app_id": "2021000000000002"}, "app_id"),
        ({"app_id": "12"}, "app_id"),
    ],
)
def test_patch__bad_input__is_400_naming_field_and_unchanged(merchant_client, miniprogram, data, field):
    response = merchant_client.patch(f"/api/v1/miniprograms/{miniprogram.pk}/", data, format="json")

    problem(response, 400, field)
    stored = MiniProgram.objects.get(pk=miniprogram.pk)
    assert (stored.app_id, stored.name, stored.category, stored.capabilities) == (
        "2021000000000001",
        "Burger Order",
        "business",
        ["payment", "card"],
    )


@pytest.mark.django_db
def test_list__filters_by_state_and_account(merchant_client, merchant, make_miniprogram, pending_link):
    delisted = make_miniprogram("2021000000000002", name="Closed shop")
    services.miniprogram_delist(actor=merchant, miniprogram=delisted)

    def ids(query: str) -> list[int]:
        response = merchant_client.get(f"/api/v1/miniprograms/{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["results"]]

    assert ids("") == [delisted.pk, pending_link.miniprogram_id]
    assert ids("?state=delisted") == [delisted.pk]
    assert ids(f"?account={pending_link.account_id}") == [pending_link.miniprogram_id]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/miniprograms/?state=gone", "state"),
        ("/api/v1/miniprograms/?account=abc", "account"),
        ("/api/v1/profile-links/?state=gone", "state"),
        ("/api/v1/profile-links/?account=abc", "account"),
    ],
)
def test_list__bad_filter__is_400_naming_it(merchant_client, path, field):
    problem(merchant_client.get(path), 400, field)


# Icons


def put_icon(client, miniprogram, content: bytes, name: str = "icon.png"):
    return client.put(
        f"/api/v1/miniprograms/{miniprogram.pk}/icon/",
        {"icon": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        format="multipart",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("content", [PNG, JPEG])
def test_icon__png_or_jpeg__is_stored_and_served(merchant_client, miniprogram, content):
    response = put_icon(merchant_client, miniprogram, content)

    assert response.status_code == 200, response.content
    assert response.json()["icon_url"]
    miniprogram.refresh_from_db()
    with miniprogram.icon.open("rb") as stored:
        assert stored.read() == content


@pytest.mark.django_db
def test_icon__replaced__old_file_is_removed_after_commit(
    merchant_client, miniprogram, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        put_icon(merchant_client, miniprogram, PNG)
    miniprogram.refresh_from_db()
    first = miniprogram.icon.name
    assert miniprogram.icon.storage.exists(first)

    with django_capture_on_commit_callbacks(execute=True):
        put_icon(merchant_client, miniprogram, JPEG)

    miniprogram.refresh_from_db()
    assert miniprogram.icon.name != first
    assert not miniprogram.icon.storage.exists(first)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"GIF89a" + b"\x00" * 64, "PNG and JPEG"),
        (b"%PDF-1.7\n" + b"\x00" * 64, "PNG and JPEG"),
        (PNG + b"\x00" * (512 * 1024), "512 KB"),
    ],
)
def test_icon__not_a_small_png_or_jpeg__is_400_on_icon(merchant_client, miniprogram, content, words):
    body = problem(put_icon(merchant_client, miniprogram, content), 400, "icon")
    assert words in body["errors"]["icon"][0]
    assert not MiniProgram.objects.get(pk=miniprogram.pk).icon


# Isolation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/miniprograms/{mp}/"),
        ("patch", "/api/v1/miniprograms/{mp}/"),
        ("put", "/api/v1/miniprograms/{mp}/icon/"),
        ("post", "/api/v1/miniprograms/{mp}/delist/"),
        ("get", "/api/v1/profile-links/{link}/"),
        ("post", "/api/v1/profile-links/{link}/unlink/"),
    ],
)
def test_object_endpoints__other_merchant__is_404_and_unchanged(other_client, pending_link, method, path):
    url = path.format(mp=pending_link.miniprogram_id, link=pending_link.pk)
    data = {"icon": SimpleUploadedFile("i.png", PNG)} if method == "put" else {"name": "Mine now"}
    response = getattr(other_client, method)(url, data, format="multipart" if method == "put" else "json")

    problem(response, 404)
    miniprogram = MiniProgram.objects.get(pk=pending_link.miniprogram_id)
    assert (miniprogram.name, miniprogram.state, bool(miniprogram.icon)) == ("Burger Order", "active", False)
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"


@pytest.mark.django_db
def test_lists__other_merchant__sees_none(other_client, pending_link):
    assert other_client.get("/api/v1/miniprograms/").json()["results"] == []
    assert other_client.get("/api/v1/profile-links/").json()["results"] == []


@pytest.mark.django_db
def test_lists__staff__sees_every_organization(staff_client, pending_link, other_link):
    links = staff_client.get("/api/v1/profile-links/").json()["results"]
    assert {link["id"] for link in links} == {pending_link.pk, other_link.pk}
    miniprograms = staff_client.get("/api/v1/miniprograms/").json()["results"]
    assert {item["id"] for item in miniprograms} == {pending_link.miniprogram_id, other_link.miniprogram_id}


# Profile links


@pytest.mark.django_db
def test_link_create__whitelisted_account__is_201_pending_last(merchant_client, miniprogram, listed_account):
    response = merchant_client.post(
        "/api/v1/profile-links/", {"miniprogram": miniprogram.pk, "account": listed_account.pk}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in ("id", "miniprogram", "account", "state", "position")} == {
        "id": ProfileLink.objects.get().pk,
        "miniprogram": miniprogram.pk,
        "account": listed_account.pk,
        "state": "pending_review",
        "position": 1,
    }


@pytest.mark.django_db
def test_link_create__account_without_entry__is_409_with_reason(merchant_client, miniprogram, account):
    response = merchant_client.post(
        "/api/v1/profile-links/", {"miniprogram": miniprogram.pk, "account": account.pk}, format="json"
    )

    body = problem(response, 409)
    assert "not whitelisted" in body["detail"]
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_link_create__other_organizations_account__is_400_without_leak(
    merchant_client, miniprogram, other_listed_account
):
    response = merchant_client.post(
        "/api/v1/profile-links/",
        {"miniprogram": miniprogram.pk, "account": other_listed_account.pk},
        format="json",
    )

    body = problem(response, 400, "account")
    assert other_listed_account.screen_name not in str(body)
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_link_create__other_organizations_miniprogram__is_400_on_miniprogram(
    merchant_client, other_miniprogram, listed_account
):
    response = merchant_client.post(
        "/api/v1/profile-links/",
        {"miniprogram": other_miniprogram.pk, "account": listed_account.pk},
        format="json",
    )
    problem(response, 400, "miniprogram")
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_link_create__duplicate_open_link__is_409(merchant_client, pending_link):
    response = merchant_client.post(
        "/api/v1/profile-links/",
        {"miniprogram": pending_link.miniprogram_id, "account": pending_link.account_id},
        format="json",
    )
    problem(response, 409)
    assert ProfileLink.objects.count() == 1


@pytest.mark.django_db
def test_link_create__delisted_miniprogram__is_409(merchant_client, merchant, miniprogram, listed_account):
    services.miniprogram_delist(actor=merchant, miniprogram=miniprogram)
    response = merchant_client.post(
        "/api/v1/profile-links/", {"miniprogram": miniprogram.pk, "account": listed_account.pk}, format="json"
    )
    assert "Delisted" in problem(response, 409)["detail"]
    assert not ProfileLink.objects.exists()


@pytest.mark.django_db
def test_links__filter_by_state_and_account(
    merchant_client, staff, make_miniprogram, pending_link, listed_account
):
    live = services.profile_link_approve(
        actor=staff,
        link=services.profile_link_request(
            actor=pending_link.requested_by,
            miniprogram=make_miniprogram("2021000000000002"),
            account=listed_account,
        ),
    )

    def ids(query: str) -> list[int]:
        return [
            item["id"] for item in merchant_client.get(f"/api/v1/profile-links/{query}").json()["results"]
        ]

    assert ids("?state=live") == [live.pk]
    assert ids("?state=pending_review") == [pending_link.pk]
    assert ids(f"?account={listed_account.pk}") == [live.pk, pending_link.pk]
    assert ids(f"?account={listed_account.pk + 1000}") == []


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_decision__by_merchant__is_403_and_unchanged(merchant_client, pending_link, action):
    response = merchant_client.post(
        f"/api/v1/profile-links/{pending_link.pk}/{action}/", {"reason": "mine"}, format="json"
    )
    problem(response, 403)
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"


@pytest.mark.django_db
def test_approve__staff__is_200_live(staff_client, staff, pending_link):
    response = staff_client.post(f"/api/v1/profile-links/{pending_link.pk}/approve/", {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "live"
    stored = ProfileLink.objects.get(pk=pending_link.pk)
    assert (stored.state, stored.decided_by) == ("live", staff)


@pytest.mark.django_db
def test_approve__twice__is_409_naming_state(staff_client, pending_link):
    staff_client.post(f"/api/v1/profile-links/{pending_link.pk}/approve/", {}, format="json")
    body = problem(
        staff_client.post(f"/api/v1/profile-links/{pending_link.pk}/approve/", {}, format="json"), 409
    )
    assert "Live" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}])
def test_reject__without_reason__is_400_on_reason(staff_client, pending_link, data):
    problem(
        staff_client.post(f"/api/v1/profile-links/{pending_link.pk}/reject/", data, format="json"),
        400,
        "reason",
    )
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"


@pytest.mark.django_db
def test_reject__with_reason__is_200_and_merchant_reads_it(staff_client, merchant_client, pending_link):
    response = staff_client.post(
        f"/api/v1/profile-links/{pending_link.pk}/reject/", {"reason": "Only ads."}, format="json"
    )

    assert response.json()["state"] == "rejected"
    seen = merchant_client.get(f"/api/v1/profile-links/{pending_link.pk}/").json()
    assert (seen["state"], seen["reason"]) == ("rejected", "Only ads.")


@pytest.mark.django_db
def test_unlink__owner__is_200_unlinked(merchant_client, staff, pending_link):
    services.profile_link_approve(actor=staff, link=pending_link)
    response = merchant_client.post(f"/api/v1/profile-links/{pending_link.pk}/unlink/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "unlinked"


@pytest.mark.django_db
def test_unlink__plain_member__is_403(plain_member, pending_link):
    problem(
        client_for(plain_member).post(f"/api/v1/profile-links/{pending_link.pk}/unlink/", {}, format="json"),
        403,
    )
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "pending_review"


@pytest.mark.django_db
def test_unlink__rejected_link__is_409(merchant_client, staff, pending_link):
    services.profile_link_reject(actor=staff, link=pending_link, reason="No.")
    problem(merchant_client.post(f"/api/v1/profile-links/{pending_link.pk}/unlink/", {}, format="json"), 409)


@pytest.mark.django_db
def test_delist__owner__is_200_and_unlinks_links(merchant_client, pending_link):
    response = merchant_client.post(
        f"/api/v1/miniprograms/{pending_link.miniprogram_id}/delist/", {"reason": "Closed."}, format="json"
    )
    assert response.json()["state"] == "delisted"
    assert ProfileLink.objects.get(pk=pending_link.pk).state == "unlinked"


@pytest.mark.django_db
def test_anonymous__is_401(pending_link):
    client = APIClient()
    assert client.get("/api/v1/miniprograms/").status_code == 401
    assert client.get("/api/v1/profile-links/").status_code == 401
