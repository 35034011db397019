"""Playwright driving Debian's Chromium against daphne (the app as `rundemo` serves it:
pages, API and websockets) on the test database, with a real worker where a test needs
drafts. A failing test leaves a screenshot of each of its pages in var/test/browser/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.live import ConsoleServer, child_env

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"  # what tests.factories.make_user sets


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_failed] = report.failed
    return report


_failed = pytest.StashKey[bool]()


@pytest.fixture(scope="package")
def chromium(django_db_setup: None) -> Iterator[Any]:
    """The browser, for this package's tests only. Playwright's sync API keeps an event
    loop running under them, so Django's guard against ORM calls from async code is
    lifted until the browser closes (the tests' own ORM calls are plain sync code)."""
    import os

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise pytest.UsageError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright: Any) -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def console_server(django_db_setup: None) -> Iterator[ConsoleServer]:
    """One daphne for the session: transactional tests empty the tables between tests,
    and the server only ever reads what is there."""
    call_command("collectstatic", "--noinput", verbosity=0)
    server = ConsoleServer(child_env())
    yield server
    server.stop()


@pytest.fixture
def open_page(console_server: ConsoleServer, chromium: Any,
              request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Opens a page in a fresh browser context (its own cookies: one per person)."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_(path: str = "/", **context_options: Any) -> Any:
        context = chromium.new_context(base_url=console_server.url, **context_options)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        page.goto(path)
        return page

    yield open_
    if request.node.stash.get(_failed, False):
        out = Path(settings.VAR_DIR) / "browser"
        out.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for i, page in enumerate(pages):
            page.screenshot(path=str(out / f"{name}-{i}.png"), full_page=True)
        (out / f"{name}-server.log").write_text(console_server.tail(200))
    for context in contexts:
        context.close()


def sign_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/?next=/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/console/")


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    # Evaluated through the DevTools protocol: a <script> tag with the source inline
    # would be refused by the pages' Content-Security-Policy.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(n["target"][0] for n in v["nodes"][:3])
            for v in result["violations"] if v["impact"] in impacts]
