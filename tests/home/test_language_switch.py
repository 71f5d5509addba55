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


def test_preferences__time_zones__common_first_and_no_aliases(client, merchant):
    client.force_login(merchant)
    page = client.get(reverse("accounts:preferences")).content.decode()

    zones = re.findall(r'<option value="([A-Za-z_+\-/0-9]+)"', page)
    assert zones.index("Asia/Shanghai") < zones.index("Africa/Abidjan")
    for alias in ("Factory", "localtime", "PRC", "Etc/GMT+8", "posixrules"):
        assert alias not in zones
    assert "Europe/Paris" in zones


def test_chinese_pages__say_platform_account_id_and_appid(client, merchant, account):
    merchant.language = "zh-hans"
    merchant.save(update_fields=["language"])
    client.force_login(merchant)

    dashboard = client.get(reverse("home:dashboard")).content.decode()
    new_miniprogram = client.get(reverse("miniprograms:create")).content.decode()

    visible = re.sub(r"<[^>]+>", " ", dashboard.split("<main", 1)[1])
    assert "平台账号 ID" in dashboard
    assert "uid" not in visible
    assert "小程序 AppID" in new_miniprogram
