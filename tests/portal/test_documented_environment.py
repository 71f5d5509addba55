"""The README, .env.example and docker-compose.yml stay in step with the variables the settings read."""

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
READ_BY_SETTINGS = re.compile(r'env(?:\.[a-z]+)?\(\s*"([A-Z][A-Z0-9_]*)"')


def settings_variables() -> set[str]:
    names: set[str] = set()
    for module in (PROJECT / "portal" / "settings").glob("*.py"):
        names |= set(READ_BY_SETTINGS.findall(module.read_text()))
    return names


def compose_environment_variables() -> set[str]:
    text = (PROJECT / "docker-compose.yml").read_text()
    block = text.split("environment: &common-env", 1)[1].split("\n  volumes:", 1)[0]
    return set(re.findall(r"^\s{4}([A-Z][A-Z0-9_]*):", block, flags=re.MULTILINE))


def test_settings__read_the_variables_this_test_expects():
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"} <= settings_variables()


def test_readme__documents_every_variable_the_settings_read():
    readme = (PROJECT / "README.md").read_text()
    missing = sorted(name for name in settings_variables() if f"`{name}`" not in readme)
    assert missing == []


def test_env_example__lists_every_variable_the_settings_read():
    example = (PROJECT / ".env.example").read_text()
    internal = {"REQUIRE_SERVICES", "DJANGO_READ_DOT_ENV"}  # test switches, meaningless in a .env file
    missing = sorted(
        name for name in settings_variables() - internal if not re.search(rf"^#?\s*{name}=", example, re.M)
    )
    assert missing == []


def test_compose__sets_only_variables_the_settings_read():
    unknown = compose_environment_variables() - settings_variables() - {"DJANGO_SETTINGS_MODULE"}
    assert compose_environment_variables(), "no environment block found in docker-compose.yml"
    assert sorted(unknown) == []
