"""No secret in the repository: `.env.example` holds placeholders only, and no tracked file carries a
private key, a known token format, or a random-looking value given to a secret's name.

The demo and test passwords are public on purpose (README, "Demo data") and listed here by value;
so are the made-up examples of the API documentation.
"""

import math
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

REPOSITORY = Path(settings.BASE_DIR)
SECRET_NAME = r"[A-Za-z0-9_]*(?:SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|API_?KEY|PRIVATE_?KEY)[A-Za-z0-9_]*"
# NAME = "value", NAME: 'value', "name": "value" (Python, YAML, JSON, TOML)
QUOTED_VALUE = re.compile(
    rf"""(?i)\b(?P<name>{SECRET_NAME})["']?\s*(?::|=|:=)\s*[bru]?(?P<q>["'])(?P<value>[^"'\n]*)(?P=q)"""
)
# NAME=value in shell scripts, Dockerfiles and env files, commented out or not
ENV_VALUE = re.compile(
    rf"""(?im)^\s*(?:export\s+|ENV\s+|ARG\s+|\#\s*)?(?P<name>{SECRET_NAME})=(?P<value>[^\s"'#]*)"""
)
# "-" * 5 + "BEGIN ... PRIVATE KEY": PEM and OpenSSH private keys, PGP private key blocks
PRIVATE_KEY = re.compile(r"-{5}BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-{5}")
KNOWN_TOKENS = re.compile(
    r"\b(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[abpsr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,})\b"
)

# Public on purpose: what seed_demo creates (README, "Demo data") and what the tests sign in with.
PUBLIC_PASSWORDS = {
    "merchant-demo-2026": "seed_demo's merchants, documented in the README",
    "staff-demo-2026": "seed_demo's staff user, documented in the README",
    "correct-horse-battery-staple-42": "tests/factories.py, test users only",
    "a-brand-new-passphrase-77": "tests/accounts/test_tokens.py, the new password of a test user",
}
# Made-up values shown in the API documentation.
DOCUMENTATION_EXAMPLES = {
    "whsec_3q2+7wL0x1tJfQp9kq3mVY0aN5s8hK2dR1uE6cB4zZo": "integrations/apis.py, an example webhook secret",
    "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b": "accounts/api_schema.py, DRF's own example token",
}
PLACEHOLDER = re.compile(
    r"(?i)^(?:|<[^>]*>|change-?me.*|your[-_].*|example.*|\.\.\.|\$\{[A-Z0-9_]+(?::?[-?][^}]*)?\})$"
)


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(count / len(text) * math.log2(count / len(text)) for count in counts.values())


def looks_random(value: str) -> bool:
    """A key or token rather than words: long, from a key's alphabet, and with a key's entropy."""
    if len(value) < 20:
        return False
    if re.fullmatch(r"[0-9a-fA-F]+", value):
        return shannon_entropy(value) >= 3.0
    if re.fullmatch(r"[A-Za-z0-9+/=_.-]+", value):
        return shannon_entropy(value) >= 4.2
    return False


def secret_assignments(text: str) -> list[tuple[str, str]]:
    found = [(m["name"], m["value"]) for m in QUOTED_VALUE.finditer(text)]
    return found + [(m["name"], m["value"]) for m in ENV_VALUE.finditer(text)]


@pytest.mark.parametrize(
    ("value", "is_random"),
    [
        ("correct-horse-battery-staple-42", False),
        ("test-secret-key-not-for-production", False),
        ("build-only-dummy-key-collectstatic-does-not-sign-anything", False),
        ("Zq3v9XwL0p2Rk7sT1uY8bN4mC6dF5gH0jK9", True),
        ("8f14e45fceea167a5a36dedd4bea2543d0e2f1b7", True),
        ("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_aB", True),
    ],
)
def test_looks_random__tells_keys_from_passphrases(value: str, is_random: bool):
    assert looks_random(value) is is_random


def test_scan__finds_what_it_is_meant_to():
    # The patterns are built so that this file does not match them itself.
    key_block = "-" * 5 + "BEGIN RSA PRIVATE KEY" + "-" * 5
    assert PRIVATE_KEY.search(key_block)
    random_value = "Zq3v9XwL0p2Rk7sT1uY8bN4mC6dF5gH0jK9"
    assert secret_assignments("API_TOKEN = " + repr(random_value)) == [("API_TOKEN", random_value)]
    assert secret_assignments("# DJANGO_SECRET_KEY=abc\nexport DB_PASSWORD=xyz") == [
        ("DJANGO_SECRET_KEY", "abc"),
        ("DB_PASSWORD", "xyz"),
    ]
    assert KNOWN_TOKENS.search("token ghp_" + "a1" * 18)


# .env.example

ENV_EXAMPLE = REPOSITORY / ".env.example"
ASSIGNMENT = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(?P<password>[^@\s]+)@")
# The throwaway database user of docker-compose.yml (POSTGRES_PASSWORD: portal), for local use only.
LOCAL_DATABASE_PASSWORDS = {"portal"}


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match["name"]] = match["value"].strip()
    return values


def test_env_example__documents_the_secret_key_without_a_value():
    values = env_example()
    assert "DJANGO_SECRET_KEY" in values
    assert PLACEHOLDER.match(values["DJANGO_SECRET_KEY"]), values["DJANGO_SECRET_KEY"]


def test_env_example__every_secret_setting__is_empty_or_a_placeholder():
    secrets = {name: value for name, value in env_example().items() if re.fullmatch(SECRET_NAME, name, re.I)}
    assert "EMAIL_HOST_PASSWORD" in secrets
    real = {name: value for name, value in secrets.items() if not PLACEHOLDER.match(value)}
    # Names like API_KEY_RATE and API_TOKEN_DAYS hold rates and numbers of days, not keys.
    real = {name: value for name, value in real.items() if not re.fullmatch(r"\d+(/\w+)?", value)}
    assert not real, f"real-looking values in .env.example: {real}"


def test_env_example__no_value_looks_like_a_key_and_urls_carry_no_real_password():
    for name, value in env_example().items():
        assert not looks_random(value), f"{name} looks like a real key"
        for match in URL_PASSWORD.finditer(value):
            assert match["password"] in LOCAL_DATABASE_PASSWORDS, f"{name} carries a password"


# Every tracked file


def tracked_files() -> list[Path]:
    git = shutil.which("git")
    if git is None or not (REPOSITORY / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run([git, "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True)
    files = [REPOSITORY / name for name in listed.stdout.decode().split("\0") if name]
    assert files, "git ls-files listed nothing"
    return files


def tracked_texts() -> list[tuple[str, str]]:
    texts = []
    for path in tracked_files():
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # deleted in the working tree, not yet in the index
            continue
        if b"\0" not in data[:8192]:
            texts.append((str(path.relative_to(REPOSITORY)), data.decode("utf-8", errors="replace")))
    return texts


def test_tracked_files__hold_no_private_key_and_no_known_token():
    found = [
        (name, match.group(0)[:30])
        for name, text in tracked_texts()
        for match in [*PRIVATE_KEY.finditer(text), *KNOWN_TOKENS.finditer(text)]
    ]
    assert not found, f"private keys or tokens in tracked files: {found}"


def test_tracked_files__give_no_random_looking_value_to_a_secret_name():
    found = [
        (name, variable, value)
        for name, text in tracked_texts()
        for variable, value in secret_assignments(text)
        if looks_random(value) and value not in DOCUMENTATION_EXAMPLES
    ]
    assert not found, f"secrets in tracked files (move them to the environment): {found}"


def test_tracked_files__password_constants__are_the_public_demo_ones():
    # NAME = "literal" (Python) or NAME=literal (shell, env); not NAME = an expression or ${VARIABLE}
    constant = re.compile(
        r"""(?m)^\s*(?:export\s+)?(?P<name>[A-Z0-9_]*PASSWORD)"""
        r"""(?:\s*=\s*(?P<q>["'])(?P<quoted>[^"'\n]+)(?P=q)|=(?P<bare>[^\s"'$]+))"""
    )
    found = [
        (name, match["name"], value)
        for name, text in tracked_texts()
        for match in constant.finditer(text)
        if (value := match["quoted"] or match["bare"]) not in PUBLIC_PASSWORDS
    ]
    assert not found, f"passwords in tracked files that are not the public demo ones: {found}"
