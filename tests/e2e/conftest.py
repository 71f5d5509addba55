"""Browser fixtures: the system's Chromium driven by Playwright against Django's live server."""

import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import service_unavailable

# Debian's package, installed by .ci/run; never a browser downloaded by a test tool.
CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without the background-networking flags Chromium keeps calling Google.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "e2e"

pages_key = pytest.StashKey[list[Page]]()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for every browser test, closed once they are done.

    Playwright's sync API runs an event loop in this thread for as long as it is started, and Django
    refuses ORM calls from a thread with a running loop. DJANGO_ALLOW_ASYNC_UNSAFE is Django's
    documented escape hatch; it is set only while Playwright runs (package scope, not session), so
    the rest of the suite runs with neither the loop nor the escape hatch.
    """
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        service_unavailable(f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)")
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def open_page(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh browser context (its own cookies): one per person in the test."""
    contexts: list[BrowserContext] = []
    pages = request.node.stash.setdefault(pages_key, [])

    def open_one() -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            timezone_id="UTC",
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_one
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: Callable[[], Page]) -> Page:
    return open_page()


def _screenshot(item: pytest.Item) -> list[str]:
    """Every page the failed test opened, as it looked when the test failed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", item.name)
    lines = []
    for number, page in enumerate(item.stash.get(pages_key, []), start=1):
        path = SCREENSHOTS / (f"{name}.png" if number == 1 else f"{name}-{number}.png")
        try:
            page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # a closed or crashed page must not hide the test's own failure
            lines.append(f"no screenshot of page {number} ({page.url}): {error}")
        else:
            lines.append(f"{path} ({page.url})")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """When a test body fails, screenshot its pages and name the files in the failure report.

    Taken here, before the fixtures close the pages; the paths are printed under the traceback.
    """
    report = yield
    if report.when == "call" and report.failed:
        lines = _screenshot(item)
        if lines:
            report.sections.append(("e2e screenshots", "\n".join(lines)))
    return report
