"""Evidence documents: checked by content and size, private to the organization and staff."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import official_account_verify
from tests import factories
from tests.uploads import JPEG, PDF, PNG
from whitelist import services
from whitelist.models import ApplicationAttachment


@pytest.fixture
def application(merchant, organization, staff):
    account = factories.official_account(
        actor=merchant, organization=organization, platform_uid="5100000001", vertical_code="retail"
    )
    official_account_verify(actor=staff, account=account)
    return services.application_create(
        actor=merchant,
        account=account,
        data={
            "has_in_house_team": True,
            "dev_team_size": 5,
            "self_developed_products": [{"name": "App", "url": "https://example.com/app"}],
            "services": ["ordering"],
            "support_channels": ["hotline"],
        },
    )


def upload(client, application, name: str, content: bytes, content_type: str = "application/pdf"):
    return client.post(
        f"/api/v1/applications/{application.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "stored_type"),
    [
        ("licence.pdf", PDF, "application/pdf"),
        ("team.png", PNG, "image/png"),
        ("office.jpg", JPEG, "image/jpeg"),
    ],
)
def test_upload__accepted_type__is_201_typed_by_content(
    merchant_client, application, name, content, stored_type
):
    response = upload(merchant_client, application, name, content, content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == stored_type
    assert response.json()["size"] == len(content)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content"),
    [("evil.pdf", b"MZ\x90\x00 this is an executable"), ("page.png", b"<html><script>alert(1)</script>")],
)
def test_upload__content_not_matching_an_accepted_type__is_400_on_file(
    merchant_client, application, name, content
):
    response = upload(merchant_client, application, name, content)
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_upload__over_10_mb__is_400_on_file(merchant_client, application):
    response = upload(merchant_client, application, "big.pdf", PDF + b"0" * (10 * 1024 * 1024))
    assert response.status_code == 400
    assert "10 MB" in response.json()["errors"]["file"][0]
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_upload__empty_file__is_400(merchant_client, application):
    assert upload(merchant_client, application, "empty.pdf", b"").status_code == 400


@pytest.mark.django_db
def test_attachment__makes_independent_development_need_review(merchant_client, application):
    upload(merchant_client, application, "licence.pdf", PDF)
    evaluation = merchant_client.post(f"/api/v1/applications/{application.pk}/evaluate/").json()
    results = {r["criterion"]: r["outcome"] for r in evaluation["results"]}
    assert results["independent_development"] == "needs_review"
    assert evaluation["recommendation"] == "needs_review"


@pytest.mark.django_db
def test_download__member_gets_file_as_attachment_with_nosniff(merchant_client, application):
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    response = merchant_client.get(created["download_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response["Content-Disposition"]


@pytest.mark.django_db
def test_download__other_merchant__is_404_and_anonymous_is_401(merchant_client, other_merchant, application):
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    other = APIClient()
    other.force_authenticate(other_merchant)
    assert other.get(created["download_url"]).status_code == 404
    assert other.get(f"/api/v1/applications/{application.pk}/attachments/").status_code == 404
    assert APIClient().get(created["download_url"]).status_code == 401


@pytest.mark.django_db
def test_download__staff__is_200(merchant_client, staff_client, application):
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    assert staff_client.get(created["download_url"]).status_code == 200


@pytest.mark.django_db
def test_upload__after_submission__is_409(merchant_client, merchant, application):
    services.application_submit(actor=merchant, application=application)
    response = upload(merchant_client, application, "late.pdf", PDF)
    assert response.status_code == 409
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_delete__draft__removes_the_document(merchant_client, application):
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    assert merchant_client.delete(created["download_url"]).status_code == 204
    assert not ApplicationAttachment.objects.exists()
