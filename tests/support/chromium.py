"""Debian's Chromium, headless, driven by playwright's sync API (never `playwright install`).

``make chromium`` (run by ``make test``) installs it with apt when it is missing and the user is
root. A missing Chromium fails the test that needs it; it is not skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway import paths
from tests.support.gateway_address import GatewayAddress
from tests.support.users import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
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


@contextlib.contextmanager
def chromium_browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install -y chromium, as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def every_button_is_named(page: Page) -> None:
    buttons = page.get_by_role("button")
    for index in range(buttons.count()):
        assert buttons.nth(index).inner_text().strip(), "a button without a name"
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.locator("html").get_attribute("lang") == "en"


def sign_in_at_console(page: Page, gw: GatewayAddress, username: str) -> dict[str, str]:
    """Open the console, get sent to sign in, sign in; the queue's response headers."""
    page.goto(gw.endpoint(paths.CONSOLE))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url == gw.endpoint(paths.CONSOLE)) as queue:
        page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    return queue.value.headers
