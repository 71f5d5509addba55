"""Localisation: English and Simplified Chinese pages and emails, the language switch and preferences,
times in the merchant's time zone (Asia/Shanghai by default) while the admin and the API stay in UTC,
and a catalogue that is complete and compiled."""

# Chinese texts use full-width punctuation, which RUF001 takes for look-alikes of ASCII signs.
# ruff: noqa: RUF001

import ast
import gettext
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone, translation

from accounts.models import MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add, official_account_verify, user_preferences_update
from portal.errors import InvalidInput
from tests import factories
from whitelist import services as whitelist_services
from whitelist.models import ReviewEvent, WhitelistApplication, WhitelistEntry
from whitelist.tasks import expire_whitelist_entries

CATALOGUE = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 06:30 UTC is 14:30 in Shanghai (UTC+8, no daylight saving time).
STORED = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment"],
    "support_channels": ["400-800-1234"],
}


@pytest.fixture(autouse=True)
def _english_again() -> Iterator[None]:
    """A request activates its language for the thread; the next test starts in the default one."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def switch(client: Client, language: str, next_url: str = "/") -> None:
    response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url


@pytest.fixture
def chinese_merchant(merchant: User) -> User:
    return user_preferences_update(user=merchant, data={"language": "zh-hans"})


@pytest.fixture
def verified_account(
    merchant: User, organization: Organization, staff: User, policy: object
) -> OfficialAccount:
    account = factories.official_account(
        actor=merchant, organization=organization, platform_uid="7300000001", screen_name="Alice Burgers"
    )
    return official_account_verify(actor=staff, account=account)


@pytest.fixture
def submitted(merchant: User, verified_account: OfficialAccount) -> WhitelistApplication:
    application = whitelist_services.application_create(
        actor=merchant, account=verified_account, data=EVIDENCE
    )
    return whitelist_services.application_submit(actor=merchant, application=application)


# The language switch


@pytest.mark.django_db
def test_language_switch__signed_in__sets_the_cookie_and_stores_the_users_language(client, merchant):
    client.force_login(merchant)

    switch(client, "zh-hans", next_url="/applications/")

    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    merchant.refresh_from_db()
    assert merchant.language == "zh-hans"


@pytest.mark.django_db
def test_language_switch__signed_in__the_pages_are_in_chinese(client, merchant):
    client.force_login(merchant)
    switch(client, "zh-hans")

    response = client.get("/")

    body = page(response)
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in body
    assert "<h1>概览</h1>" in body
    assert ">偏好设置</a>" in body
    assert '<option value="zh-hans" lang="zh-hans" selected>简体中文</option>' in body
    assert "Official accounts" not in body


@pytest.mark.django_db
def test_language_switch__back_to_english__pages_and_stored_language_are_english(client, chinese_merchant):
    client.force_login(chinese_merchant)

    switch(client, "en")

    assert "<h1>Dashboard</h1>" in page(client.get("/"))
    chinese_merchant.refresh_from_db()
    assert chinese_merchant.language == "en"


@pytest.mark.django_db
def test_language_switch__unknown_language__changes_nothing(client, merchant):
    client.force_login(merchant)

    switch(client, "fr")

    merchant.refresh_from_db()
    assert merchant.language == "en"
    assert "<h1>Dashboard</h1>" in page(client.get("/"))


@pytest.mark.django_db
def test_language_switch__anonymous__the_login_page_is_in_chinese(client):
    switch(client, "zh-hans", next_url="/login/")

    body = page(client.get("/login/"))

    assert "<title>登录 · 小程序门户</title>" in body
    assert "忘记密码？" in body


def test_language_switch__is_on_every_page_without_inline_script_or_style(client, db):
    body = page(client.get("/login/"))

    form = re.search(
        r'<form method="post" action="/i18n/setlang/" class="language-form">(.*?)</form>', body, re.S
    )
    assert form, "no language switch in the header"
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert '<input type="hidden" name="next" value="/login/">' in form.group(1)
    assert "style=" not in form.group(1)
    assert "onchange" not in form.group(1)


# Which language a page is in


@pytest.mark.django_db
def test_pages__chinese_browser_not_signed_in__are_in_chinese(client):
    body = page(client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5"))

    assert '<html lang="zh-hans">' in body


@pytest.mark.django_db
def test_pages__signed_in__follow_the_stored_language_not_the_browser(client, chinese_merchant):
    # A browser that never used the switch, and asks for English
    client.force_login(chinese_merchant)

    body = page(client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"))

    assert "<h1>概览</h1>" in body


@pytest.mark.django_db
def test_login__language_chosen_on_the_login_page__becomes_the_users(client, merchant):
    switch(client, "zh-hans", next_url="/login/")

    response = client.post("/login/", {"username": merchant.username, "password": factories.DEFAULT_PASSWORD})

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.language == "zh-hans"


@pytest.mark.django_db
def test_signup__in_chinese__stores_the_language_and_welcomes_in_chinese(
    client, django_capture_on_commit_callbacks
):
    data = {
        "username": "chen",
        "email": "chen@example.cn",
        "password": factories.DEFAULT_PASSWORD,
        "password_confirmation": factories.DEFAULT_PASSWORD,
        "organization_name": "陈记餐饮有限公司",
        "organization_kind": "enterprise",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/", data, HTTP_ACCEPT_LANGUAGE="zh-CN", follow=True)

    assert "欢迎，chen！陈记餐饮有限公司 已注册" in page(response)
    user = User.objects.get(username="chen")
    assert (user.language, user.time_zone) == ("zh-hans", "Asia/Shanghai")
    [email] = mail.outbox
    assert email.subject == "欢迎使用小程序门户"
    assert "chen，您好：" in email.body
    assert "您负责管理 陈记餐饮有限公司。" in email.body


# Emails in the recipient's language


@pytest.mark.django_db
def test_welcome_email__english_user__is_english(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        factories.merchant_register("emma")

    [email] = mail.outbox
    assert email.subject == "Welcome to the mini program portal"
    assert "Hello emma," in email.body


@pytest.mark.django_db
def test_application_email__owner_in_english_admin_in_chinese__each_gets_its_own_language(
    merchant, organization, verified_account, django_capture_on_commit_callbacks
):
    # Given an owner who reads English and an admin who reads Chinese
    admin, _ = factories.merchant_register("wang")
    membership_add(actor=merchant, organization=organization, user=admin, role=MembershipRole.ADMIN)
    user_preferences_update(user=admin, data={"language": "zh-hans"})
    application = whitelist_services.application_create(
        actor=merchant, account=verified_account, data=EVIDENCE
    )
    mail.outbox.clear()

    # When the application is submitted
    with django_capture_on_commit_callbacks(execute=True):
        whitelist_services.application_submit(actor=merchant, application=application)

    # Then each reads the email in its own language
    emails = {tuple(email.to): email for email in mail.outbox}
    assert set(emails) == {(merchant.email,), (admin.email,)}
    english, chinese = emails[(merchant.email,)], emails[(admin.email,)]
    assert english.subject == "Whitelist application for Alice Burgers: Submitted"
    assert f"Your whitelist application #{application.pk} for Alice Burgers has an update." in english.body
    assert chinese.subject == "Alice Burgers 的白名单申请：已提交"
    assert f"您为 Alice Burgers 提交的白名单申请 #{application.pk} 有新进展。" in chinese.body
    assert "当前状态：已提交。" in chinese.body


@pytest.mark.django_db
def test_password_reset_email__asked_from_an_english_page__is_in_the_users_language(
    client, chinese_merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password-reset/", {"email": chinese_merchant.email})

    assert response.status_code == 302
    [email] = mail.outbox
    assert email.subject == "重置您在小程序门户的密码"
    assert "alice，您好：" in email.body


@pytest.mark.django_db
def test_submit__from_a_chinese_page__keeps_the_evaluation_reasons_in_english(
    client, chinese_merchant, verified_account
):
    # The evaluation is a record that staff read in the admin: it does not depend on who submitted it
    application = whitelist_services.application_create(
        actor=chinese_merchant, account=verified_account, data=EVIDENCE
    )
    client.force_login(chinese_merchant)

    client.post(f"/applications/{application.pk}/submit/")

    application.refresh_from_db()
    assert application.state == "submitted"
    reasons = [result["reason"] for result in application.evaluations.get().results]
    assert "The account is verified by platform staff." in reasons


# Times in the merchant's time zone


@pytest.mark.django_db
def test_application_page__time_stored_in_utc__shows_in_shanghai_time(client, merchant, submitted):
    ReviewEvent.objects.filter(application=submitted).update(created_at=STORED)
    client.force_login(merchant)

    body = page(client.get(f"/applications/{submitted.pk}/"))

    assert (
        '<time datetime="2026-03-01T14:30:00+08:00">March 1, 2026, 2:30 p.m.</time> (Asia/Shanghai)' in body
    )
    assert "March 1, 2026, 6:30 a.m." not in body


@pytest.mark.django_db
def test_application_page__user_in_another_time_zone__shows_its_local_time(client, merchant, submitted):
    user_preferences_update(user=merchant, data={"time_zone": "Europe/Berlin"})
    ReviewEvent.objects.filter(application=submitted).update(created_at=STORED)
    client.force_login(merchant)

    body = page(client.get(f"/applications/{submitted.pk}/"))

    assert (
        '<time datetime="2026-03-01T07:30:00+01:00">March 1, 2026, 7:30 a.m.</time> (Europe/Berlin)' in body
    )


@pytest.mark.django_db
def test_expiry_email__time_stored_in_utc__shows_in_each_recipients_time_zone_and_language(
    merchant, organization, staff, verified_account, django_capture_on_commit_callbacks
):
    # Given an entry that ends at 20:00 UTC in 20 days: 04:00 the next day in Shanghai
    application = whitelist_services.application_create(
        actor=merchant, account=verified_account, data=EVIDENCE
    )
    whitelist_services.application_submit(actor=merchant, application=application)
    whitelist_services.application_approve(actor=staff, application=application)
    valid_until = (timezone.now() + timedelta(days=20)).replace(hour=20, minute=0, second=0, microsecond=0)
    WhitelistEntry.objects.filter(account=verified_account).update(valid_until=valid_until)
    admin, _ = factories.merchant_register("wang")
    membership_add(actor=merchant, organization=organization, user=admin, role=MembershipRole.ADMIN)
    user_preferences_update(user=admin, data={"language": "zh-hans"})
    mail.outbox.clear()

    # When the daily task warns about the expiry
    with django_capture_on_commit_callbacks(execute=True):
        expire_whitelist_entries.apply().get()

    # Then both read the local time of Shanghai, each in its language
    local_day = valid_until.astimezone(SHANGHAI).strftime("%Y-%m-%d")
    emails = {tuple(email.to): email for email in mail.outbox}
    assert f"The whitelisting of Alice Burgers expires on {local_day} 04:00 (Asia/Shanghai)." in (
        emails[(merchant.email,)].body
    )
    assert (
        f"Alice Burgers 的白名单资格将于 {local_day} 04:00（Asia/Shanghai）到期。"
        in emails[(admin.email,)].body
    )
    assert emails[(admin.email,)].subject == "Alice Burgers 的白名单资格即将到期"


@pytest.mark.django_db
def test_admin__stays_in_utc_for_staff_in_shanghai(client, merchant):
    User.objects.filter(pk=merchant.pk).update(date_joined=STORED)
    superuser = User.objects.create_superuser("root", "root@platform.example", factories.DEFAULT_PASSWORD)
    assert superuser.time_zone == "Asia/Shanghai"
    client.force_login(superuser)

    body = page(client.get("/admin/accounts/user/"))

    assert "March 1, 2026, 6:30 a.m." in body
    assert "March 1, 2026, 2:30 p.m." not in body


@pytest.mark.django_db
def test_api__stays_in_utc_after_a_merchant_page_in_shanghai_time(client, merchant, submitted):
    WhitelistApplication.objects.filter(pk=submitted.pk).update(submitted_at=STORED)
    client.force_login(merchant)
    client.get(f"/applications/{submitted.pk}/")  # in Asia/Shanghai

    response = client.get(f"/api/v1/applications/{submitted.pk}/")

    assert response.status_code == 200
    assert response.json()["submitted_at"] == "2026-03-01T06:30:00Z"


# Preferences


@pytest.mark.django_db
def test_preferences__change_language_and_time_zone__stored_and_shown(client, merchant):
    client.force_login(merchant)
    assert client.get("/preferences/").status_code == 200

    response = client.post(
        "/preferences/", {"language": "zh-hans", "time_zone": "America/New_York"}, follow=True
    )

    merchant.refresh_from_db()
    assert (merchant.language, merchant.time_zone) == ("zh-hans", "America/New_York")
    body = page(response)
    assert "您的偏好设置已保存。" in body
    assert "（America/New_York）" in body
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"


@pytest.mark.django_db
def test_preferences__unknown_time_zone__is_refused_on_the_field(client, merchant):
    client.force_login(merchant)

    response = client.post("/preferences/", {"language": "en", "time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 200
    assert re.search(
        r'<span class="field-error" id="id_time_zone_error">Select a valid choice\.', page(response)
    )
    merchant.refresh_from_db()
    assert merchant.time_zone == "Asia/Shanghai"


@pytest.mark.django_db
def test_preferences_service__unknown_time_zone__names_the_field(merchant):
    with pytest.raises(InvalidInput) as raised:
        user_preferences_update(user=merchant, data={"time_zone": "Asia/Atlantis"})

    assert raised.value.errors == {
        "time_zone": ["Asia/Atlantis is not a time zone; choose one such as Asia/Shanghai."]
    }


# The catalogue


def read_po(path: Path) -> dict[tuple[str | None, str], dict[str, str]]:
    """(context, msgid) -> {"msgid_plural": ..., "msgstr": ... or "msgstr[0]": ...} of a .po file."""
    entries: dict[tuple[str | None, str], dict[str, str]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            keyword = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$", line)
            if keyword:
                current = keyword.group(1)
                fields[current] = ast.literal_eval(keyword.group(2))
            elif line.startswith('"'):
                fields[current] += ast.literal_eval(line)
        if "msgid" in fields:
            entries[(fields.pop("msgctxt", None), fields.pop("msgid"))] = fields
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


def test_catalogue__every_message_is_translated_with_its_placeholders():
    entries = read_po(CATALOGUE / "django.po")
    header = entries.pop((None, ""))
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"]
    assert len(entries) > 700
    for (_context, msgid), fields in entries.items():
        translations = [value for key, value in fields.items() if key.startswith("msgstr")]
        assert translations and all(translations), f"not translated: {msgid!r}"
        expected = sorted(PLACEHOLDER.findall(fields.get("msgid_plural", msgid)))
        for text in translations:
            assert sorted(PLACEHOLDER.findall(text)) == expected, (msgid, text)


def test_catalogue__compiled_mo_holds_exactly_the_po():
    entries = read_po(CATALOGUE / "django.po")
    expected: dict[object, str] = {}
    for (context, msgid), fields in entries.items():
        key = f"{context}\x04{msgid}" if context else msgid
        if "msgid_plural" in fields:
            expected[(key, 0)] = fields["msgstr[0]"]
        else:
            expected[key] = fields["msgstr"]
    # msgfmt leaves out the creation date that each makemessages run rewrites.
    expected[""] = re.sub(r"POT-Creation-Date: [^\n]*\n", "", expected[""])
    with (CATALOGUE / "django.mo").open("rb") as compiled:
        catalog = dict(gettext.GNUTranslations(compiled)._catalog)  # type: ignore[attr-defined]
    assert catalog == expected, "django.mo is out of date: run manage.py compilemessages"
