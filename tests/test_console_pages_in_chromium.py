"""The console's pages of who can do what in a real browser: Debian's Chromium, headless, driven by
playwright (a missing Chromium fails, it is not skipped).

A security admin signs in, reads the clients page (``files-bot`` with its live token), revokes every
token of ``files-bot`` there (its token stops working at ``/mcp``), reads the tools page with the
calls and error rates of the last 24 hours, the access graph, and searches the audit trail with a
filter, following the "next" link and opening an event. An auditor reads the same pages and is
offered no form that changes anything (AD-7). Screenshots go to ``test-artifacts/``:
``console-clients.png``, ``console-tools.png``, ``console-access-graph.png``,
``console-audit-search.png``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.chromium import chromium_browser, every_button_is_named, sign_in_at_console
from tests.support.held_calls import (
    FILES_BOT,
    CallDeployment,
    bot_token_blocking,
    call_gateway,
    call_settings,
    call_tool_blocking,
)
from tests.support.trail_writer import record, trail_of

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
READ, WIPE = "files__read_file", "files__wipe"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallDeployment]:
    store = f"sqlite:///{tmp_path_factory.mktemp('console-pages-chromium') / 'gw.sqlite3'}"
    with call_gateway(lambda port: call_settings(store, port), store) as calls:
        trail = trail_of(store)

        async def calls_made() -> None:
            desk = {"client_id": "desk", "subject": "alice", "upstream": "files"}
            await record(trail, "tool_call", 12, outcome="forwarded", tool=READ, **desk)
            await record(trail, "tool_call", 3, outcome="upstream_error", tool=READ, error="timeout", **desk)
            await record(trail, "tool_call", 1, outcome="refused", tool=WIPE, client_id=FILES_BOT)
            await record(trail, "tool_call", 60, outcome="forwarded", tool=WIPE, client_id=FILES_BOT)

        worker = threading.Thread(target=anyio.run, args=(calls_made,))
        worker.start()
        worker.join(60)
        ARTIFACTS.mkdir(exist_ok=True)
        yield calls


def open_from_navigation(page: Page, name: str, heading: str) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
    every_button_is_named(page)


def test_a_security_admin_reads_who_can_do_what_revokes_a_clients_tokens_and_searches_the_trail(
    chromium: Browser, deployment: CallDeployment
) -> None:
    gw = deployment.gateway
    token = bot_token_blocking(gw)
    assert call_tool_blocking(gw, token, {"path": "/tmp/a"}).status_code == 200
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in_at_console(page, gw, "sec")

        # Clients: the bot's card, its standing grant, its live token; then every token revoked.
        open_from_navigation(page, "Clients", "Clients")
        bot = page.locator("section.client", has=page.get_by_role("heading", name=FILES_BOT))
        expect(bot).to_contain_text("standing:files-bot")
        expect(bot.locator("dt:text-is('Live tokens') + dd")).to_have_text("1")
        page.screenshot(path=str(ARTIFACTS / "console-clients.png"), full_page=True)
        bot.locator("summary", has_text="Revoke all tokens of this client now").click()
        bot.get_by_label("Reason").last.fill("Its secret was pasted in a ticket.")
        bot.get_by_role("button", name="Revoke all tokens").click()
        expect(page.get_by_role("status")).to_contain_text("every token issued to the client before now")
        expect(bot.locator("dt:text-is('Live tokens') + dd")).to_have_text("0")
        assert call_tool_blocking(gw, token, {"path": "/tmp/b"}).status_code == 401

        # Tools: scopes, upstream, who can call, calls and error rates of the last 24 hours.
        open_from_navigation(page, "Tools", "Tools")
        read = page.locator(f"tr#tool-{READ}")
        expect(read).to_contain_text("desk")
        expect(read.locator("td.num").nth(0)).to_have_text("15")
        expect(read.locator("td.num").nth(2)).to_have_text("20%")
        page.screenshot(path=str(ARTIFACTS / "console-tools.png"), full_page=True)

        # The access graph.
        open_from_navigation(page, "Access graph", "Access graph")
        desk = page.locator("ul.graph > li", has_text="Desk Assistant")
        expect(desk).to_contain_text("standing:desk")
        expect(desk.locator("code.tool", has_text="delete_file")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "console-access-graph.png"), full_page=True)

        # The audit search: a filter, the next page, one event opened.
        open_from_navigation(page, "Audit", "Audit search")
        page.get_by_label("Types").fill("tool_call")
        page.get_by_label("Tool").fill(WIPE)
        page.get_by_role("button", name="Search").click()
        expect(page.locator("details.event")).to_have_count(50)
        page.get_by_role("link", name="Next page").click()
        expect(page.locator("details.event")).to_have_count(11)
        expect(page.get_by_label("Tool")).to_have_value(WIPE)
        last = page.locator("details.event").last
        last.locator("summary").click()
        expect(last.locator("dt:text-is('Hash') + dd")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        expect(last.locator("pre")).to_contain_text('"tool": "files__wipe"')
        page.screenshot(path=str(ARTIFACTS / "console-audit-search.png"), full_page=True)
    finally:
        context.close()


def test_an_auditor_reads_every_page_and_is_offered_nothing_to_change(
    chromium: Browser, deployment: CallDeployment
) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in_at_console(page, deployment.gateway, "audrey")
        for name, heading in (("Clients", "Clients"), ("Tools", "Tools"), ("Access graph", "Access graph")):
            open_from_navigation(page, name, heading)
            expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)
        open_from_navigation(page, "Audit", "Audit search")
        page.get_by_label("Types").fill("client_tokens_revoked")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("details.event").first).to_contain_text("sec")
    finally:
        context.close()
