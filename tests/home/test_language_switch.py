"""The language switch names each language in itself, on a page in either language."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_language_switch__names_each_language_in_itself(client, merchant, language):
    merchant.language = language
    merchant.save(update_fields=["language"])
    client.force_login(merchant)
    page = client.get(reverse("home:dashboard")).content.decode()

    names = dict(re.findall(r'<option value="([^"]+)" lang="[^"]+"(?: selected)?>([^<]+)</option>', page))
    assert names == {"en": "English", "zh-hans": "简体中文"}
    assert "英语" not in page
