"""Icons are what they claim: decoded in full, within the pixel limit, stored under their real type."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from miniprograms.models import MiniProgram
from tests.api_contract import assert_problem
from tests.uploads import JPEG, PNG, png_bomb


def put_icon(client, miniprogram, content: bytes, name: str = "icon.png"):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/v1/miniprograms/{miniprogram.pk}/icon/",
        {"icon": SimpleUploadedFile(name, content, content_type="image/png")},
        format="multipart",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (PNG + b"<html><script>alert(1)</script></html>", "data after its end"),
        (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "not a valid PNG or JPEG"),
        (JPEG[:40], "not a valid PNG or JPEG"),
        (png_bomb(), "more than"),
    ],
    ids=["png-then-html", "png-header-then-html", "truncated-jpeg", "20000x20000-bomb"],
)
def test_icon__passes_first_bytes_but_is_no_image__is_400_on_icon(
    merchant_client, miniprogram, content, words
):
    body = assert_problem(put_icon(merchant_client, miniprogram, content), 400, "icon")
    assert words in body["errors"]["icon"][0]
    assert not MiniProgram.objects.get(pk=miniprogram.pk).icon


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "sent_name", "extension"),
    [(PNG, "icon.jpg", ".png"), (JPEG, "icon.png.html", ".jpg"), (PNG, "noextension", ".png")],
)
def test_icon__stored_with_the_extension_of_its_real_type(
    merchant_client, miniprogram, content, sent_name, extension
):
    response = put_icon(merchant_client, miniprogram, content, name=sent_name)
    assert response.status_code == 200, response.content
    stored = MiniProgram.objects.get(pk=miniprogram.pk).icon.name
    assert re.fullmatch(rf"miniprograms/icons/{miniprogram.pk}/[0-9a-f]{{32}}\{extension}", stored)
    assert response.json()["icon_url"].endswith(extension)
