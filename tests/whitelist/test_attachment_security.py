"""Evidence documents against hostile uploads: the name a client sends, content that poses as a
document, the limits, where the bytes are kept, and how they are handed back.

tests/whitelist/test_attachments.py covers the types and sizes the API accepts and who may download;
tests/portal/test_authorization_matrix.py covers every caller on every document route.
"""

import re
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import official_account_verify
from portal.settings import base as base_settings
from tests import factories, uploads
from tests.portal.object_routes import routes
from tests.uploads import PDF
from whitelist import services
from whitelist.models import ApplicationAttachment, WhitelistApplication

TEN_MB = 10 * 1024 * 1024
STORED_NAME = re.compile(r"applications/(\d+)/[0-9a-f]{32}")


@pytest.fixture
def application(merchant, organization, staff) -> WhitelistApplication:  # type: ignore[no-untyped-def]
    account = factories.official_account(
        actor=merchant, organization=organization, platform_uid="5200000001", vertical_code="retail"
    )
    official_account_verify(actor=staff, account=account)
    return services.application_create(
        actor=merchant,
        account=account,
        data={"has_in_house_team": True, "dev_team_size": 5, "services": ["ordering"]},
    )


def attachments_url(application: WhitelistApplication) -> str:
    return f"/api/v1/applications/{application.pk}/attachments/"


def upload(  # type: ignore[no-untyped-def]
    client: APIClient,
    application: WhitelistApplication,
    name: str,
    content: bytes,
    content_type: str = "application/pdf",
):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(attachments_url(application), {"file": file}, format="multipart")


def upload_raw_name(client: APIClient, application: WhitelistApplication, disposition_name: str):  # type: ignore[no-untyped-def]
    """A multipart upload whose file name is sent exactly as given (e.g. RFC 2231 `filename*=...`)."""
    boundary = "portal-test-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; {disposition_name}\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "POST",
        attachments_url(application),
        body,  # type: ignore[arg-type]  # the test client sends bytes as they are
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def download(client: APIClient | Client, attachment_id: int, application: WhitelistApplication):  # type: ignore[no-untyped-def]
    return client.get(f"{attachments_url(application)}{attachment_id}/")


def assert_stored_privately(attachment: ApplicationAttachment) -> None:
    """The bytes are kept under a random name of the application's folder in the private storage."""
    match = STORED_NAME.fullmatch(attachment.file.name)
    assert match, attachment.file.name
    assert int(match.group(1)) == attachment.application_id
    assert attachment.file.storage is storages["private"]


# Names a client sends


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini.pdf", "win.ini.pdf"),
        ("/var/lib/portal/private-media/applications/1/x.pdf", "x.pdf"),
        ("<b>x</b>.pdf", "b>.pdf"),
        ("a<script>alert(1).pdf", "a<script>alert(1).pdf"),
        ("营业执照 2026.pdf", "营业执照 2026.pdf"),
    ],
)
def test_upload__hostile_name__keeps_only_a_base_name_and_stores_under_a_random_one(
    merchant_client, application, sent, kept
):
    # When a document is sent under a name with folders or markup
    response = upload(merchant_client, application, sent, PDF)
    # Then only its last part is kept, as text, and the bytes are stored under a name the portal chose
    assert response.status_code == 201, response.content
    assert response.json()["original_name"] == kept
    attachment = ApplicationAttachment.objects.get()
    assert attachment.original_name == kept
    assert_stored_privately(attachment)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("disposition", "kept"),
    [
        ("filename*=UTF-8''" + quote("evil\r\nSet-Cookie: a=b.pdf"), "evilSet-Cookie: a=b.pdf"),
        ("filename*=UTF-8''" + quote("nul\x00byte.pdf"), "nulbyte.pdf"),
        ("filename*=UTF-8''" + quote("bell\x07\x1b[31mred.pdf"), "bell[31mred.pdf"),
        ("filename*=UTF-8''" + quote("../../../etc/passwd"), "passwd"),
        ('filename="tab\there.pdf"', "tabhere.pdf"),
    ],
)
def test_upload__control_characters_in_name__are_dropped(merchant_client, application, disposition, kept):
    response = upload_raw_name(merchant_client, application, disposition)
    assert response.status_code == 201, response.content
    attachment = ApplicationAttachment.objects.get()
    assert attachment.original_name == kept
    assert_stored_privately(attachment)
    # And the download header carries it without breaking the response's headers
    downloaded = download(merchant_client, attachment.pk, application)
    assert downloaded.status_code == 200
    assert "\r" not in downloaded["Content-Disposition"] and "\n" not in downloaded["Content-Disposition"]
    assert "Set-Cookie" not in downloaded.headers


@pytest.mark.django_db
def test_upload__name_longer_than_200__is_400_on_file(merchant_client, application):
    response = upload(merchant_client, application, "a" * 250 + ".pdf", PDF)
    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ("line\r\nbreak.pdf", "linebreak.pdf"),
        ("  \x00\x07  ", "document"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_attachment_add__any_name__is_stored_as_printable_base_name_of_at_most_200(
    merchant, application, name, kept
):
    # Given a name that did not come through Django's multipart parser (which cleans names itself)
    uploaded = SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf")
    uploaded.name = name
    # When the service stores it
    attachment = services.application_attachment_add(
        actor=merchant, application=application, uploaded=uploaded
    )
    # Then the kept name is safe to show and to send in a header, and the bytes are stored privately
    attachment.refresh_from_db()
    assert attachment.original_name == kept
    assert_stored_privately(attachment)


@pytest.mark.django_db
def test_detail_page__markup_in_a_name__is_shown_as_text(client, merchant, merchant_client, application):
    upload(merchant_client, application, "<img src=x onerror=alert(1)>.pdf", PDF)
    client.force_login(merchant)
    body = client.get(reverse("whitelist:application-detail", args=[application.pk])).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in body
    assert "<img src=x" not in body


# Content that poses as a document


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("statement.pdf", b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("scan.jpg", b"\x7fELF\x02\x01\x01 an executable"),
        ("licence.pdf", b"PK\x03\x04 a zip or an office file"),
        ("licence.pdf", b" %PDF-1.7 but not at the start"),
    ],
)
def test_upload__content_is_not_what_the_name_says__is_400_on_file(
    merchant_client, application, name, content
):
    response = upload(merchant_client, application, name, content)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "checked by content" in response.json()["errors"]["file"][0]
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_download__pdf_carrying_markup__is_served_as_pdf_to_save_never_as_a_page(
    merchant_client, application
):
    # Given a real PDF header followed by HTML, declared as HTML by the client
    content = PDF + b"<html><script>alert(1)</script></html>"
    created = upload(merchant_client, application, "page.html", content, content_type="text/html")
    assert created.status_code == 201
    # When it is downloaded
    response = download(merchant_client, created.json()["id"], application)
    # Then it is a PDF to save: the browser neither renders nor sniffs it
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="page.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        ("licence.pdf", 'attachment; filename="licence.pdf"'),
        ('say "hi"; x=y.pdf', 'attachment; filename="say \\"hi\\"; x=y.pdf"'),
        ("营业执照.pdf", "attachment; filename*=utf-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf"),
    ],
)
def test_download__content_disposition__is_attachment_with_the_name_quoted(
    merchant, merchant_client, application, name, disposition
):
    uploaded = SimpleUploadedFile(name, PDF, content_type="application/pdf")
    attachment = services.application_attachment_add(
        actor=merchant, application=application, uploaded=uploaded
    )
    response = download(merchant_client, attachment.pk, application)
    assert response["Content-Disposition"] == disposition


# Limits


@pytest.mark.django_db
def test_upload__exactly_10_mb__is_accepted(merchant_client, application):
    response = upload(merchant_client, application, "big.pdf", PDF + b"0" * (TEN_MB - len(PDF)))
    assert response.status_code == 201, response.content
    assert response.json()["size"] == TEN_MB


@pytest.mark.django_db
def test_upload__one_byte_over_10_mb__is_400_on_file(merchant_client, application):
    response = upload(merchant_client, application, "big.pdf", PDF + b"0" * (TEN_MB - len(PDF) + 1))
    assert response.status_code == 400
    assert "10 MB" in response.json()["errors"]["file"][0]
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_upload__eleventh_document__is_400_on_file(merchant_client, application):
    for number in range(10):
        assert upload(merchant_client, application, f"doc{number}.pdf", PDF).status_code == 201
    response = upload(merchant_client, application, "one-too-many.pdf", PDF)
    assert response.status_code == 400
    assert "At most 10" in response.json()["errors"]["file"][0]
    assert ApplicationAttachment.objects.count() == 10


@pytest.mark.django_db
def test_page_upload__over_10_mb__shows_the_limit_and_attaches_nothing(client, merchant, application):
    client.force_login(merchant)
    response = client.post(
        reverse("whitelist:application-attachment-upload", args=[application.pk]),
        {"file": SimpleUploadedFile("big.pdf", PDF + b"0" * TEN_MB, content_type="application/pdf")},
        follow=True,
    )
    assert response.status_code == 200
    assert "The file is larger than 10 MB." in response.content.decode()
    assert not ApplicationAttachment.objects.exists()


@pytest.mark.django_db
def test_page_upload__html_named_pdf__shows_the_error_and_attaches_nothing(client, merchant, application):
    client.force_login(merchant)
    response = client.post(
        reverse("whitelist:application-attachment-upload", args=[application.pk]),
        {
            "file": SimpleUploadedFile(
                "statement.pdf", b"<html><script>x()</script>", content_type="application/pdf"
            )
        },
        follow=True,
    )
    assert "Only PDF, PNG and JPEG files are accepted (checked by content)." in response.content.decode()
    assert not ApplicationAttachment.objects.exists()


# Where the bytes are kept, and how they are handed back


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_private_storage__is_its_own_folder_outside_every_public_one():
    # The deployed settings (the tests keep files in memory): a file system folder of its own
    private = cast(dict[str, Any], base_settings.STORAGES["private"])
    assert private["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    location = Path(private["OPTIONS"]["location"])
    assert location == Path(base_settings.PRIVATE_MEDIA_ROOT)
    public = [Path(base_settings.MEDIA_ROOT), Path(base_settings.STATIC_ROOT)]
    public += [Path(folder) for folder in base_settings.STATICFILES_DIRS]
    for folder in public:
        assert not _inside(location, folder), f"private documents under the public folder {folder}"
        assert not _inside(folder, location), f"the public folder {folder} is inside the private one"
    # And the field uses that storage, not the default one
    assert ApplicationAttachment._meta.get_field("file").storage is storages["private"]


def test_private_storage__names_cannot_leave_its_folder(tmp_path):
    storage = FileSystemStorage(location=tmp_path / "private")
    for name in ("../outside.pdf", "applications/1/../../../outside.pdf", "/etc/passwd"):
        with pytest.raises(SuspiciousFileOperation):
            storage.path(name)


def test_urls__no_route_serves_stored_files():
    for route, callback in routes():
        view = getattr(callback, "__module__", "") + "." + getattr(callback, "__name__", "")
        assert view != "django.views.static.serve", f"{route} serves files straight from a folder"
        for prefix in ("/" + settings.MEDIA_URL.strip("/") + "/", "/private-media/"):
            assert not route.startswith(prefix), f"{route} is under {prefix}"


@pytest.mark.django_db
def test_stored_file__is_not_reachable_by_its_storage_name(client, merchant, merchant_client, application):
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    stored = ApplicationAttachment.objects.get(pk=created["id"]).file.name
    client.force_login(merchant)
    for url in (
        f"/{settings.MEDIA_URL.strip('/')}/{stored}",
        f"/private-media/{stored}",
        f"/static/{stored}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert PDF not in b"".join(getattr(response, "streaming_content", [response.content]))


@pytest.mark.django_db
def test_download__through_a_signed_in_browser__is_served_and_anonymous_browser_is_401(
    client, merchant, merchant_client, application
):
    # The detail page links to the API download, which a browser opens with its session
    created = upload(merchant_client, application, "licence.pdf", PDF).json()
    assert download(client, created["id"], application).status_code == 401
    client.force_login(merchant)
    response = download(client, created["id"], application)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.django_db
def test_download__plain_member__is_served_and_other_merchant_is_404_without_the_name(
    merchant_client, plain_member, other_merchant, application
):
    created = upload(merchant_client, application, "alice-payroll.pdf", PDF).json()
    member = APIClient()
    member.force_authenticate(plain_member)
    assert download(member, created["id"], application).status_code == 200
    other = APIClient()
    other.force_authenticate(other_merchant)
    response = download(other, created["id"], application)
    assert response.status_code == 404
    assert "alice-payroll" not in response.content.decode()
    assert "Content-Disposition" not in response.headers


# Content that passes a first-bytes check but is no document: decoded in full, active PDFs refused.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("licence.pdf", uploads.PDF_WITH_JAVASCRIPT, "JavaScript"),
        ("licence.pdf", uploads.PDF_WITH_LAUNCH, "launch actions"),
        ("licence.pdf", uploads.pdf_with_javascript_in_page_annotation(), "JavaScript"),
        ("licence.pdf", b"%PDF-1.7\n<html><script>alert(1)</script></html>", "not a readable PDF"),
        ("scan.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "not a valid PNG or JPEG"),
        ("scan.png", uploads.PNG + b"<html><script>alert(1)</script></html>", "data after its end"),
        ("scan.jpg", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", "not a valid PNG or JPEG"),
        ("scan.png", uploads.png_bomb(), "more than"),
    ],
    ids=[
        "pdf-javascript",
        "pdf-launch",
        "pdf-annotation-javascript",
        "pdf-header-then-html",
        "png-header-then-html",
        "png-then-html",
        "jpeg-header-then-html",
        "20000x20000-bomb",
    ],
)
def test_upload__passes_first_bytes_but_is_no_clean_document__is_400_on_file(
    merchant_client, application, name, content, words
):
    response = upload(merchant_client, application, name, content)
    assert response.status_code == 400, response.content
    assert words in response.json()["errors"]["file"][0]
    assert not ApplicationAttachment.objects.filter(application=application).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("scan.png", uploads.PNG, "image/png"), ("scan.jpg", uploads.JPEG, "image/jpeg")],
)
def test_upload__real_image__is_201_with_its_type(merchant_client, application, name, content, content_type):
    response = upload(merchant_client, application, name, content)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == content_type
