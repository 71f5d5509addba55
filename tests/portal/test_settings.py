"""Production settings: required variables and Django's deployment checklist."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    environment["DJANGO_READ_DOT_ENV"] = "false"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "portal.example.com",
}


def test_production__required_variables_set__passes_check_deploy_with_no_warning():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production__ssl_redirect_off_behind_proxy__still_no_warning():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_SECURE_SSL_REDIRECT="false", **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production__required_variable_missing__refuses_to_start(missing):
    environment = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = run_manage("check", **environment)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production__debug__is_off():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


# Runs under the production settings in a fresh process: an in-memory database, the pages rendered with
# plain static file names (the manifest comes from collectstatic, which is not what this checks).
RESPONSE_PROBE = """
import json
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from accounts.models import User

setup_test_environment()
call_command("migrate", verbosity=0)
User.objects.create_user("probe", password="probe-pass-2026-x")
plain_files = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain_files}):
    client = Client(HTTP_HOST="portal.example.com")
    page = client.get("/login/", secure=True)
    logged_in = client.post("/login/", {"username": "probe", "password": "probe-pass-2026-x"}, secure=True)
    plain_http = Client(HTTP_HOST="portal.example.com").get("/login/")

def cookie(response, name):
    morsel = response.cookies[name]
    flags = {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"])}
    return {**flags, "samesite": morsel["samesite"]}

print(json.dumps({
    "status": page.status_code,
    "headers": dict(page.headers),
    "login_status": logged_in.status_code,
    "session_cookie": cookie(logged_in, "sessionid"),
    "csrf_cookie": cookie(page, "csrftoken"),
    "plain_http": [plain_http.status_code, plain_http.get("Location")],
}))
"""


def test_production__login_page_and_log_in__send_the_security_headers_and_cookie_flags():
    # Given the production settings (from the environment, as deployed)
    # When a browser opens the login page over HTTPS and logs in, and another comes over plain HTTP
    result = run_manage("shell", "-c", RESPONSE_PROBE, DATABASE_URL="sqlite://:memory:", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    # Then every protection is on the response, and the cookies are secure and out of scripts' reach
    assert seen["status"] == 200 and seen["login_status"] == 302
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert seen["session_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["csrf_cookie"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert seen["plain_http"] == [301, "https://portal.example.com/login/"]
