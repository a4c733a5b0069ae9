"""The sign-in and consent pages in a real browser: Debian's Chromium, headless, driven by playwright.

A built-in user signs in, reads the consent page (client, redirect host, every scope with its
description), unticks one scope, allows, and Chromium lands on the client's redirect URI (a tiny
loopback server started here) with a code that redeems for the ticked scope only. Along the way:
accessibility basics as the browser computes them (every checkbox and button has an accessible
name, one ``h1``, ``lang``), and the page cannot be framed (the headers, and Chromium refusing an
actual frame). A screenshot is saved to ``test-artifacts/consent.png``.

Chromium comes from apt (``make chromium``, run by ``make test``); playwright never downloads a
browser here. A missing Chromium fails the test, it is not skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect

from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.authorization_code import PublicClient, new_verifier, query_of
from tests.support.chromium import chromium_browser
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.redirect_target import Target, redirect_target
from tests.support.tokens import claims_of
from tests.support.users import add_user

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CLIENT_ID = "desk"
CLIENT_NAME = "Desk Assistant"
DESCRIPTIONS = {
    "tools:read": "See which tools exist & read what they return",
    "tools:call": "Run tools on your behalf",
}
USERNAME = "dana"
PASSWORD = "correct horse battery staple"


# -- the gateway, the user, the browser --------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, str, type[Target]]]:
    store_url = f"sqlite:///{tmp_path_factory.mktemp('chromium') / 'gw.sqlite3'}"
    with redirect_target() as (target, handler):

        def make(port: int) -> Settings:
            return settings_from(
                port=port,
                store=store_url,
                key_encryption_key=SHARED_STORE_KEK,
                scope_descriptions=DESCRIPTIONS,
                clients=(
                    {
                        "client_id": CLIENT_ID,
                        "name": CLIENT_NAME,
                        "auth_method": "none",
                        "scopes": tuple(DESCRIPTIONS),
                        "grant_types": ("authorization_code", "refresh_token"),
                        "redirect_uris": (target + "/cb",),
                    },
                ),
            )

        with running_gateway(make) as gateway:
            # playwright's sync API keeps an event loop in this thread: the store gets its own.
            user = (store_url, USERNAME, PASSWORD, "Dana Scully")
            worker = threading.Thread(target=anyio.run, args=(add_user, *user))
            worker.start()
            worker.join(60)
            yield gateway, target, handler


def desk(target: str) -> PublicClient:
    """The client, redirected back to the loopback server at ``target``."""
    return PublicClient(CLIENT_ID, target + "/cb", " ".join(DESCRIPTIONS), "st-chromium")


def sign_in(page: Page, url: str) -> dict[str, str]:
    """Open /authorize, sign in through the form; the consent page's response headers."""
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/authorize/consent") as consent:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return consent.value.headers


# -- the test ------------------------------------------------------------------------------------------


def test_a_person_reads_the_consent_page_unticks_a_scope_and_allows_in_chromium(
    chromium: Browser, deployment: tuple[RunningGateway, str, type[Target]]
) -> None:
    gw, target, _ = deployment
    verifier = new_verifier()
    context = chromium.new_context()
    try:
        page = context.new_page()
        headers = sign_in(page, desk(target).authorize_url(gw, verifier))

        # Not frameable, no referrer, not cached (CO-7), as the browser received it.
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"

        # It names the client, the redirect host and every scope with its description (CO-8).
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_have_count(1)
        expect(heading).to_have_text(f"Allow {CLIENT_NAME} to act for you?")
        main = page.get_by_role("main")
        expect(main).to_contain_text(f"client id {CLIENT_ID}")
        expect(main).to_contain_text(f"sent to {urlsplit(target).netloc}")
        expect(main).to_contain_text(f"Signed in as {USERNAME}")

        # Accessibility basics, as Chromium computes them.
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.get_by_role("group", name=re.compile("Permissions requested"))).to_be_visible()
        expect(page.get_by_role("checkbox")).to_have_count(len(DESCRIPTIONS))
        for scope, description in DESCRIPTIONS.items():
            box = page.get_by_label(scope)
            expect(box).to_be_checked()
            expect(page.get_by_role("checkbox", name=f"{scope} — {description}")).to_have_count(1)
        buttons = page.get_by_role("button")
        expect(buttons).to_have_count(2)
        for index in range(buttons.count()):
            assert buttons.nth(index).inner_text().strip(), "a button without a name"
        expect(page.get_by_role("button", name="Allow")).to_be_visible()
        expect(page.get_by_role("button", name="Deny")).to_be_visible()

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "consent.png"), full_page=True)

        # Untick one scope, allow, land on the client's redirect URI with a code.
        page.get_by_label("tools:call").uncheck()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(target + "/cb?*")
        expect(page.get_by_role("heading", level=1)).to_have_text("Back at the client")
        params = query_of(page.url)
        assert params["state"] == "st-chromium" and params["iss"] == gw.issuer

        token = httpx2.post(
            gw.endpoint("/token"),
            data=desk(target).redemption_form(params["code"], verifier),
            timeout=30,
        )
        assert token.status_code == 200, token.text
        claims = claims_of(token.json()["access_token"])
        assert claims["sub"] == USERNAME and claims["scope"] == "tools:read"
    finally:
        context.close()


def test_chromium_refuses_to_show_the_consent_page_in_a_frame(
    chromium: Browser, deployment: tuple[RunningGateway, str, type[Target]]
) -> None:
    gw, target, handler = deployment
    context = chromium.new_context()
    try:
        page = context.new_page()
        sign_in(page, desk(target).authorize_url(gw))
        consent_url = page.url
        assert "/authorize/consent?request_id=" in consent_url
        handler.frame_src = consent_url
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        requested: list[str] = []
        page.on("response", lambda response: requested.append(response.url))
        page.goto(target + "/frame")
        page.wait_for_load_state("load")
        assert consent_url in requested, "Chromium never requested the framed page"
        (frame,) = (f for f in page.frames if f is not page.main_frame)
        # The consent page never renders inside the frame: Chromium puts its own error page there.
        assert frame.url.startswith("chrome-error://")
        assert any("frame-ancestors 'none'" in line and "blocked" in line for line in console), console
    finally:
        context.close()
