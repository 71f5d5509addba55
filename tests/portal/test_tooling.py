"""The linters and the type checker know every package of the project, including apps still to come."""

import subprocess
import tomllib
from pathlib import Path

from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def project_packages() -> set[str]:
    """Every top-level Python package in the repository."""
    return {path.parent.name for path in ROOT.glob("*/__init__.py") if not path.parent.name.startswith(".")}


def project_apps() -> set[str]:
    """The top-level packages of the installed apps that live in this repository."""
    root = ROOT.resolve()
    return {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(root)
        # Not the virtualenv's packages when it lives in the project folder (.venv).
        and not Path(config.path).resolve().relative_to(root).parts[0].startswith(".")
    }


def test_project_apps__are_found():
    # Guards the two helpers: a broken glob or path check would make the tests below pass vacuously.
    assert {"accounts", "whitelist", "miniprograms", "integrations"} <= project_apps()
    assert project_apps() <= project_packages()


def make_dry_run(target: str) -> str:
    return subprocess.run(
        ["make", "-n", "-s", target], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_mypy__checks_every_installed_app_and_package_but_the_tests():
    # The Makefile finds the packages by pattern; this reads what `make typecheck` would run.
    command = next(line for line in make_dry_run("typecheck").splitlines() if "bin/mypy" in line)
    checked = set(command.split()[1:])
    assert "tests" not in checked
    assert project_apps() - checked == set()
    assert project_packages() - {"tests"} - checked == set()


def test_ruff_isort__knows_every_package_as_first_party():
    first_party = set(PYPROJECT["tool"]["ruff"]["lint"]["isort"]["known-first-party"])
    assert project_packages() - first_party == set()


def test_bandit__scans_every_package_but_the_tests():
    command = next(line for line in make_dry_run("bandit").splitlines() if "bin/bandit" in line)
    scanned = set(command.split(" -r ")[1].split(" --")[0].split())
    assert project_packages() - {"tests"} == scanned
