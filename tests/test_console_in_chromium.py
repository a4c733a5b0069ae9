"""The console and the consent page's approval path in a real browser: Debian's Chromium, headless,
driven by playwright (never ``playwright install``; a missing Chromium fails, it is not skipped).

A security admin signs in at ``/admin``, reads the queue, opens ``payroll-bot``'s request, approves
one of its two scopes for two hours instead of a week, sees the grant, and revokes it; the agent's
token requests before and after say what the grant allowed. A person's agent asks at ``/authorize``
for a scope that needs approval: the consent page names it as going to the security team, and a
request for nothing the agent holds ends on a page saying it went for approval. Along the way:
accessibility basics as Chromium computes them, the anti-framing policy as Chromium applies it.
A held tool call (AP-6): a security admin opens it from the console's navigation, reads its exact
arguments (markup in them stays text: no dialog opens), and approves it; the agent's identical call
then reaches the upstream once.
Screenshots go to ``test-artifacts/``: the queue, the decision form, the grants, the consent page,
the "sent for approval" page and the held call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from playwright.sync_api import Browser, expect

from gateway import paths
from tests.support.approval_desk import BOT, BOT_SECRET, DESK, DESK_NAME, desk_gateway
from tests.support.authorization_code import PublicClient
from tests.support.chromium import chromium_browser, every_button_is_named, sign_in_at_console
from tests.support.gateway_server import RunningGateway
from tests.support.held_calls import (
    FILES_BOT,
    TOOL,
    CallDeployment,
    bot_token_blocking,
    call_gateway,
    call_settings,
    call_tool_blocking,
    held_call,
    passed,
)
from tests.support.http_clients import blocking_http_client
from tests.support.redirect_target import Target, redirect_target
from tests.support.users import PASSWORD, add_user

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PERSON = "dana"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, str, type[Target]]]:
    store = f"sqlite:///{tmp_path_factory.mktemp('console-chromium') / 'gw.sqlite3'}"
    with redirect_target() as (target, handler), desk_gateway(store, target + "/cb") as gateway:
        worker = threading.Thread(target=anyio.run, args=(add_user, store, PERSON, PASSWORD, "Dana Scully"))
        worker.start()
        worker.join(60)
        ARTIFACTS.mkdir(exist_ok=True)
        yield gateway, target, handler


@pytest.fixture(scope="module")
def held_calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallDeployment]:
    store = f"sqlite:///{tmp_path_factory.mktemp('calls-chromium') / 'gw.sqlite3'}"
    with call_gateway(lambda port: call_settings(store, port), store) as deployment:
        ARTIFACTS.mkdir(exist_ok=True)
        yield deployment


def file_request(gw: RunningGateway, scope: str, justification: str) -> str:
    with blocking_http_client() as http:
        answer = http.post(
            gw.endpoint(paths.ACCESS_REQUESTS),
            data={"scope": scope, "justification": justification},
            auth=(BOT, BOT_SECRET),
        )
    assert answer.status_code == 201, answer.text
    request_id: str = answer.json()["request_id"]
    return request_id


def bot_token_status(gw: RunningGateway, scope: str) -> int:
    with blocking_http_client() as http:
        answer = http.post(
            gw.endpoint(paths.TOKEN),
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(BOT, BOT_SECRET),
        )
    return answer.status_code


def test_a_security_admin_approves_part_of_a_request_for_less_time_and_revokes_it_in_chromium(
    chromium: Browser, deployment: tuple[RunningGateway, str, type[Target]]
) -> None:
    gw, _, _ = deployment
    request_id = file_request(gw, "payments:refund payments:read", "Refund ticket 4521 before month end")
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        headers = sign_in_at_console(page, gw, "sec")
        assert (
            headers["x-frame-options"] == "DENY"
            and "frame-ancestors 'none'" in headers["content-security-policy"]
        )
        assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"

        # The queue: the request with its age, requester, scopes and what they mean, what is held.
        expect(page.get_by_role("heading", level=1)).to_have_text("Approval queue")
        expect(page.get_by_role("link", name="Approval queue")).to_have_attribute("aria-current", "page")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=request_id))
        expect(row).to_contain_text("payroll-bot")
        expect(row).to_contain_text("payments:refund — Refund a customer's payment")
        expect(row).to_contain_text("Refund ticket 4521 before month end")
        expect(row).to_contain_text("weather:read")
        expect(row).to_contain_text("0 of 1")
        every_button_is_named(page)
        page.screenshot(path=str(ARTIFACTS / "console-queue.png"), full_page=True)

        # The request and its decision form.
        page.get_by_role("link", name=request_id).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Access request {request_id}")
        expect(page.get_by_role("checkbox")).to_have_count(2)
        expect(page.get_by_label("Grant for")).to_have_value("7")
        expect(page.get_by_label("Unit of time")).to_have_value("days")
        every_button_is_named(page)
        page.screenshot(path=str(ARTIFACTS / "console-decision-form.png"), full_page=True)

        # Approve one scope of two, for two hours.
        page.get_by_label(re.compile(r"^payments:read")).uncheck()
        page.get_by_label("Grant for").fill("2")
        page.get_by_label("Unit of time").select_option("hours")
        page.get_by_label("Note (optional)").fill("Refunds only; reading stays with finance.")
        page.get_by_role("button", name="Approve selected scopes").click()
        expect(page.get_by_role("status")).to_contain_text("Approved: the grant is made")
        expect(page.locator(".lead .badge")).to_have_text("approved")
        expect(page.get_by_role("main")).to_contain_text("Refunds only; reading stays with finance.")
        assert bot_token_status(gw, "payments:refund") == 200
        assert bot_token_status(gw, "payments:read") == 400

        # The grant, then its revocation.
        page.get_by_role("link", name="Grants").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Grants")
        grant = page.get_by_role("row").filter(has_text="payments:refund").filter(has_text="approval")
        expect(grant).to_have_count(1)
        expect(grant).to_contain_text("sec")
        expect(grant.locator(".badge")).to_have_text("active")
        expires = grant.locator("time").first.get_attribute("datetime")
        assert expires is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expires)
        page.screenshot(path=str(ARTIFACTS / "console-grants.png"), full_page=True)
        grant.locator("summary", has_text="Revoke").click()
        grant.get_by_label("Reason").fill("The refunds are done.")
        grant.get_by_role("button", name="Revoke grant").click()
        expect(page.get_by_role("status")).to_contain_text("Revoked: the grant allows nothing more")
        revoked = page.get_by_role("row").filter(has_text="The refunds are done.")
        expect(revoked.locator(".badge")).to_have_text("revoked")
        expect(revoked.get_by_role("button")).to_have_count(0)
        assert bot_token_status(gw, "payments:refund") == 400
    finally:
        context.close()


def test_chromium_refuses_to_show_a_console_page_in_a_frame(
    chromium: Browser, deployment: tuple[RunningGateway, str, type[Target]]
) -> None:
    gw, target, handler = deployment
    handler.frame_src = gw.endpoint(paths.CONSOLE_SIGN_IN)
    context = chromium.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(target + "/frame")
        page.wait_for_load_state("load")
        (frame,) = (f for f in page.frames if f is not page.main_frame)
        assert frame.url.startswith("chrome-error://")
        assert any("frame-ancestors 'none'" in line and "blocked" in line for line in console), console
    finally:
        context.close()


def test_the_consent_page_says_which_scopes_go_to_the_security_team_in_chromium(
    chromium: Browser, deployment: tuple[RunningGateway, str, type[Target]]
) -> None:
    gw, target, _ = deployment
    context = chromium.new_context(viewport={"width": 900, "height": 900})
    try:
        page = context.new_page()
        desk = PublicClient(DESK, target + "/cb", "tools:read payments:refund", "st-chromium")
        page.goto(desk.authorize_url(gw))
        page.get_by_label("Username").fill(PERSON)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Allow {DESK_NAME} to act for you?")
        approval = page.get_by_role("region", name="Needs approval by the security team")
        expect(approval).to_contain_text("payments:refund — Refund a customer's payment")
        expect(approval).to_contain_text("they go to the security team for approval")
        expect(page.get_by_role("checkbox")).to_have_count(1)
        expect(page.get_by_label(re.compile(r"^tools:read"))).to_be_checked()
        every_button_is_named(page)
        page.screenshot(path=str(ARTIFACTS / "consent-approval.png"), full_page=True)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(target + "/cb?*")
        expect(page.get_by_role("heading", level=1)).to_have_text("Back at the client")

        # Nothing held of what it asks for now: the person is told it went for approval.
        only = PublicClient(DESK, target + "/cb", "payments:read", "st-chromium")
        page.goto(only.authorize_url(gw))
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Ask for approval for {DESK_NAME}?")
        page.get_by_role("button", name="Send for approval").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sent to the security team for approval")
        expect(page.get_by_role("main")).to_contain_text("payments:read — Read payments and their status")
        page.screenshot(path=str(ARTIFACTS / "consent-sent-for-approval.png"), full_page=True)

        # The person holds no role: the console tells them so, in the same session.
        page.goto(gw.endpoint(paths.CONSOLE))
        expect(page.get_by_role("heading", level=1)).to_have_text("You hold no role at the console")
    finally:
        context.close()
    admin = chromium.new_context()  # both requests wait in the queue, filed for the person
    try:
        queue = admin.new_page()
        sign_in_at_console(queue, gw, "sec")
        rows = queue.get_by_role("row").filter(has_text=f"{DESK} for {PERSON}")
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="payments:refund")).to_contain_text(f"asked for at sign-in by {PERSON}")
    finally:
        admin.close()


def test_a_security_admin_reads_a_held_call_and_approves_it_in_chromium(
    chromium: Browser, held_calls: CallDeployment
) -> None:
    gw = held_calls.gateway
    path = "/srv/reports/<script>alert('held')</script>q3-draft.pdf"
    arguments = {"path": path, "why": "Superseded by the final Q3 report"}
    token = bot_token_blocking(gw)
    call_id = held_call(call_tool_blocking(gw, token, arguments))["id"]
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        sign_in_at_console(page, gw, "sec")
        expect(page.get_by_role("main")).to_contain_text("held tool call")

        page.get_by_role("link", name="Held calls").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Held calls")
        expect(page.get_by_role("link", name="Held calls")).to_have_attribute("aria-current", "page")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=call_id))
        expect(row).to_contain_text(TOOL)
        expect(row).to_contain_text(FILES_BOT)

        page.get_by_role("link", name=call_id).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Held call {call_id}")
        shown = page.get_by_label("Arguments")
        expect(shown).to_contain_text(f'"path": "{path}"')
        expect(shown).to_contain_text('"why": "Superseded by the final Q3 report"')
        expect(page.get_by_role("main")).to_contain_text("Deletes a file.")
        every_button_is_named(page)
        page.screenshot(path=str(ARTIFACTS / "console-held-call.png"), full_page=True)

        page.get_by_label("Note (optional)").fill("The final report replaces it.")
        page.get_by_role("button", name="Approve this call").click()
        expect(page.get_by_role("status")).to_contain_text("Approved: the agent")
        expect(page.locator(".lead .badge")).to_have_text("approved")
        expect(page.get_by_role("button", name="Approve this call")).to_have_count(0)
        assert dialogs == [], "markup in the arguments ran"
    finally:
        context.close()
    assert passed(call_tool_blocking(gw, token, arguments)) == f"deleted {path}"
    assert held_calls.done(path) == [("delete_file", path)]
