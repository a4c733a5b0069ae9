"""Registering a server at the console in a real browser (AD-9): Debian's Chromium, headless,
driven by playwright (a missing Chromium fails, it is not skipped).

A tool author owning ``notes`` opens the form from the tools page, fills it in for the notes REST
API (served on loopback beside the gateway) and submits it: the server's page says it is
registered, and its tools appear once discovered. Screenshots:
``test-artifacts/console-register-server.png`` (the filled form) and
``test-artifacts/console-server-registered.png`` (the server's page after).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.chromium import chromium_browser, every_button_is_named, sign_in_at_console
from tests.support.registering_console import Console, grant, registering_console

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with registering_console(tmp_path_factory.mktemp("console-registration-chromium")) as running:
        grant(running.store, "notes", "author")
        ARTIFACTS.mkdir(exist_ok=True)
        yield running


def test_ad9_a_tool_author_registers_a_rest_api_with_the_form_in_the_browser(
    chromium: Browser, console: Console
) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in_at_console(page, console.gateway, "author")
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Tools").click()
        page.get_by_role("link", name="Register a server").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Register a server")
        expect(page.get_by_label("Pinning")).to_have_count(0)
        page.get_by_label("A REST API, by its OpenAPI document").check()
        expect(page.get_by_label("Id")).to_have_value("notes")
        page.get_by_label("OpenAPI document URL").fill(f"{console.notes}/openapi.json")
        page.get_by_label("Base URL").fill(console.notes)
        page.get_by_label("Default scopes (optional)").fill("notes:read")
        page.get_by_label("Scopes per tool (optional)").fill(
            "createNote = notes:write\ndeleteNote = notes:write"
        )
        page.get_by_label("Descriptions (optional)").fill("listNotes = Every note, newest first.")
        every_button_is_named(page)
        page.screenshot(path=str(ARTIFACTS / "console-register-server.png"), full_page=True)

        page.get_by_role("button", name="Register the server").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Server notes")
        expect(page.get_by_role("status")).to_contain_text("Registered. Its first discovery runs")
        for _ in range(100):
            if page.locator("tr#tool-listNotes").count():
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(page.locator("tr#tool-listNotes")).to_contain_text("serving")
        page.screenshot(path=str(ARTIFACTS / "console-server-registered.png"), full_page=True)
    finally:
        context.close()
