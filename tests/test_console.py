"""The security team's console at ``/admin``, over real HTTP against the gateway under uvicorn.

People of the security team (:mod:`tests.support.approval_desk`) sign in through the console's own
form and use its pages as a browser would (:class:`tests.support.console.ConsoleUser`);
``payroll-bot`` files its access requests at ``/access-requests`` and reads their outcome there.
Each test files requests for scopes of its own, so the tests share one gateway without sharing a
request. The rules: AD-5 (the console's door and headers), AD-6 (roles) in ``test_console_roles``,
AP-4 as the console applies it through the desks.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from urllib.parse import quote

import httpx2
import pytest

from gateway import paths
from gateway.approvals.decisions import Principal
from gateway.approvals.grants import Grant, standing_grant
from gateway.config import ConfigError, settings_from
from gateway.console import grant_views
from gateway.console.html import STYLE
from gateway.console.visitors import Visitor
from tests.support.approval_desk import (
    BOT,
    DESK,
    PASSWORD,
    bot_token,
    desk_gateway,
    file_request,
    request_status,
)
from tests.support.authorization_code import PublicClient
from tests.support.browser import Person
from tests.support.console import ConsoleUser, SignedIn, forms_of, notice_of
from tests.support.gateway_server import RunningGateway

pytestmark = pytest.mark.anyio

DESK_CLIENT = PublicClient(DESK, "http://127.0.0.1:9999/cb", "tools:read", "st")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with desk_gateway(f"sqlite:///{tmp_path_factory.mktemp('console') / 'gw.sqlite3'}") as running:
        yield running


@pytest.fixture
async def sec(gateway: RunningGateway) -> AsyncIterator[ConsoleUser]:
    async with SignedIn(gateway, "sec") as person:
        yield person


def request_page(request_id: str) -> str:
    return f"{paths.CONSOLE_REQUESTS}/{quote(request_id)}"


def approve_action(request_id: str) -> str:
    return request_page(request_id) + "/approve"


def row_id(page: str, kind: str, scope: str) -> str:
    """The id of the first row of a table on ``page`` (``grt`` grants, ``req`` requests) naming
    ``scope``."""
    start = r'<tr(?: id="|><td><a href="/admin/requests/)'
    row = rf'{start}({kind}_[^"]+)"(?:(?!</tr>).)*?<code>{re.escape(scope)}</code>'
    match = re.search(row, page, re.S)
    assert match is not None, f"no {kind} row for {scope}"
    return match.group(1)


# == AD-5: the door ================================================================================


async def test_ad5_a_console_page_without_a_session_sends_the_browser_to_sign_in(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    request_id = await file_request(http, gateway, "payments:door", "month-end refunds")
    for path, back in ((paths.CONSOLE, "%2Fadmin"), (paths.CONSOLE_GRANTS, "%2Fadmin%2Fgrants")):
        answer = await http.get(gateway.endpoint(path))
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{paths.CONSOLE_SIGN_IN}?next={back}"
        assert answer.headers["cache-control"] == "no-store"
    forged = await http.post(gateway.endpoint(approve_action(request_id)), data={"scope": "payments:door"})
    assert forged.status_code == 403 and "Sign in again" in forged.text
    assert (await request_status(http, gateway, request_id))["status"] == "pending"


async def test_ad5_after_sign_in_the_browser_goes_to_the_console_page_it_asked_for_only(
    gateway: RunningGateway,
) -> None:
    for asked, landed in (
        ("/admin/grants", "/admin/grants"),
        ("https://evil.example/", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/admin/api/v1/health", "/admin"),
    ):
        async with ConsoleUser(gateway.url) as person:
            answer = await person.sign_in("audrey", PASSWORD, next=asked)
            assert answer.status_code == 303 and answer.headers["location"] == landed, asked


async def test_ad5_a_person_without_a_role_sees_a_403_page_and_nothing_else(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    request_id = await file_request(http, gateway, "payments:secret-plan", "nobody may read this")
    async with SignedIn(gateway, "nobody") as nobody:
        for path in (paths.CONSOLE, paths.CONSOLE_GRANTS, request_page(request_id)):
            page = await nobody.open(path)
            assert page.status_code == 403, path
            assert "You hold no role at the console" in page.text
            assert "mcp-gateway users roles nobody --set auditor" in page.text
            assert request_id not in page.text and "secret-plan" not in page.text
            assert page.headers["x-frame-options"] == "DENY"
        token = forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        refused = await nobody.post(approve_action(request_id), csrf=token, scope="payments:secret-plan")
        assert refused.status_code == 403 and "You hold no role" in refused.text
    assert (await request_status(http, gateway, request_id))["status"] == "pending"


async def test_ad5_every_console_page_resists_framing_caching_and_leaks(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:headers", "header check")
    allowed_style = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode() + "'"
    pages = {
        "sign-in": await http.get(gateway.endpoint(paths.CONSOLE_SIGN_IN)),
        "queue": await sec.open(paths.CONSOLE),
        "request": await sec.open(request_page(request_id)),
        "grants": await sec.open(paths.CONSOLE_GRANTS),
        "not found": await sec.open("/admin/nothing/here"),
    }
    async with SignedIn(gateway, "nobody") as nobody:
        pages["no role"] = await nobody.open(paths.CONSOLE)
    for name, page in pages.items():
        assert page.headers["content-type"].startswith("text/html"), name
        assert page.headers["x-frame-options"] == "DENY", name
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, name
        assert "form-action 'self'" in policy and "base-uri 'none'" in policy, name
        assert f"style-src {allowed_style}" in policy and "unsafe-inline" not in policy, name
        assert page.headers["cache-control"] == "no-store", name
        assert page.headers["referrer-policy"] == "no-referrer", name
        assert page.headers["x-content-type-options"] == "nosniff", name
        assert "<script" not in page.text.lower(), name
        assert f"<style>{STYLE}</style>" in page.text, name
    assert pages["not found"].status_code == 404
    assert "<h1>Nothing here</h1>" in pages["not found"].text


async def test_ad5_a_form_without_this_sessions_token_is_refused_and_changes_nothing(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:forged", "forgery check")
    page = await sec.open(request_page(request_id))
    assert approve_action(request_id) in forms_of(page.text)
    async with SignedIn(gateway, "sec2") as other:
        theirs = forms_of((await other.open(request_page(request_id))).text)[approve_action(request_id)][
            "csrf"
        ]
    for token in ("", "not-a-token", theirs, "é" * 20):
        answer = await sec.post(approve_action(request_id), csrf=token, scope="payments:forged")
        assert answer.status_code == 403, token
        assert "was not issued to this session" in answer.text
    assert (await request_status(http, gateway, request_id))["status"] == "pending"
    refused = await sec.post(paths.CONSOLE_SIGN_OUT, csrf=theirs)
    assert refused.status_code == 403
    assert (await sec.open(paths.CONSOLE)).status_code == 200, "the forged sign-out ended the session"


async def test_ad5_the_sign_in_form_is_accepted_only_from_the_browser_it_was_given_to(
    gateway: RunningGateway,
) -> None:
    async with ConsoleUser(gateway.url) as victim, ConsoleUser(gateway.url) as attacker:
        page = await attacker.http.get(paths.CONSOLE_SIGN_IN)
        stolen = forms_of(page.text)[paths.CONSOLE_SIGN_IN]
        for fields in (
            {"username": "sec", "password": PASSWORD},
            {**stolen, "username": "sec", "password": PASSWORD},
        ):
            answer = await victim.post(paths.CONSOLE_SIGN_IN, **fields)
            assert answer.status_code == 403 and "has expired or was not issued" in answer.text
            assert "mcpgw-session" not in answer.headers.get("set-cookie", "")


async def test_ad5_sign_in_at_the_console_is_limited_like_sign_in_at_authorize(
    gateway: RunningGateway,
) -> None:
    """SI-1 at the console: five failures for one account, then 429 without a password check."""
    async with ConsoleUser(gateway.url) as guesser:
        for _ in range(5):
            answer = await guesser.sign_in("audrey-target", "wrong password!")
            assert answer.status_code == 401 and "Wrong username or password." in answer.text
        answer = await guesser.sign_in("audrey-target", "wrong password!")
        assert answer.status_code == 429 and "Too many failed sign-ins" in answer.text


async def test_ad5_signing_out_ends_the_session(gateway: RunningGateway) -> None:
    async with SignedIn(gateway, "audrey") as person:
        queue = await person.open(paths.CONSOLE)
        out = await person.submit(queue, paths.CONSOLE_SIGN_OUT)
        assert out.status_code == 303 and out.headers["location"] == paths.CONSOLE_SIGN_IN
        assert (await person.open(paths.CONSOLE)).status_code == 303


def test_ad5_the_mcp_endpoint_cannot_be_put_over_the_console() -> None:
    for taken in ("/admin", "/admin/", "/admin/grants", "/admin/apis"):
        with pytest.raises(ConfigError, match="taken by the health probe, the console or the admin API"):
            settings_from(mcp_path=taken)
    assert settings_from(mcp_path="/administration").mcp.mcp_path == "/administration"


# == AD-5 and AP-4: the desks decide, the page shows =================================================


async def test_ad5_an_auditor_reads_everything_but_no_form_writes_and_the_desk_refuses_a_post(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:audit payments:audit-two", "audit check")
    approved = await file_request(http, gateway, "payments:audited-grant", "to be revoked, not by an auditor")
    await sec.submit(
        await sec.open(request_page(approved)), approve_action(approved), scope="payments:audited-grant"
    )
    async with SignedIn(gateway, "audrey") as auditor:
        queue = await auditor.open(paths.CONSOLE)
        assert queue.status_code == 200 and request_id in queue.text
        page = await auditor.open(request_page(request_id))
        assert page.status_code == 200 and "audit check" in page.text
        assert set(forms_of(page.text)) == {paths.CONSOLE_SIGN_OUT}
        assert "Deciding it needs the <code>security-admin</code> role" in page.text
        grants = await auditor.open(paths.CONSOLE_GRANTS)
        assert grants.status_code == 200 and "payments:audited-grant" in grants.text
        assert set(forms_of(grants.text)) == {paths.CONSOLE_SIGN_OUT}

        token = forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        refused = await auditor.post(approve_action(request_id), csrf=token, scope="payments:audit")
        assert refused.status_code == 403
        assert notice_of(refused.text) == "Refused: Deciding this request needs the security-admin role."
        denied = await auditor.post(request_page(request_id) + "/deny", csrf=token, reason="no")
        assert denied.status_code == 403
        grant_id = row_id(grants.text, "grt", "payments:audited-grant")
        revoke = await auditor.post(f"{paths.CONSOLE_GRANTS}/{grant_id}/revoke", csrf=token, reason="x")
        assert revoke.status_code == 403 and "Refused: This needs the security-admin role." in revoke.text
    assert (await request_status(http, gateway, request_id))["status"] == "pending"
    assert (await bot_token(http, gateway, "payments:audited-grant")).status_code == 200


async def test_ad5_a_tool_author_decides_only_what_policy_hands_to_tool_authors(
    gateway: RunningGateway, http: httpx2.AsyncClient
) -> None:
    payments = await file_request(http, gateway, "payments:authored", "not for tool authors")
    catalogue = await file_request(http, gateway, "catalogue:publish", "publish the new tools")
    async with SignedIn(gateway, "author") as author:
        page = await author.open(request_page(payments))
        refused = await author.submit(page, approve_action(payments), scope="payments:authored")
        assert refused.status_code == 403
        assert notice_of(refused.text) == "Refused: Deciding this request needs the security-admin role."
        page = await author.open(request_page(catalogue))
        done = await author.submit(page, approve_action(catalogue), scope="catalogue:publish")
        assert done.status_code == 303
    assert (await request_status(http, gateway, payments))["status"] == "pending"
    assert (await request_status(http, gateway, catalogue))["status"] == "approved"


async def test_ad5_no_one_approves_a_request_their_agent_filed_for_them(
    gateway: RunningGateway, sec: ConsoleUser
) -> None:
    """AP-4 at the console: ``sec`` lets the desk assistant ask for a payments scope; the request's
    subject is ``sec``, so ``sec`` cannot approve it, and ``sec2`` can."""
    person = Person("sec", PASSWORD)
    try:
        url = DESK_CLIENT.authorize_url(gateway, scope="tools:read payments:for-myself")
        outcome = await person.authorize(url)
        assert outcome.code, outcome.page[:500]
    finally:
        await person.aclose()
    queue = await sec.open(paths.CONSOLE)
    request_id = row_id(queue.text, "req", "payments:for-myself")
    assert f"<code>{DESK}</code> for <strong>sec</strong>" in queue.text
    page = await sec.open(request_page(request_id))
    assert "asked for at sign-in by sec" in page.text
    refused = await sec.submit(page, approve_action(request_id), scope="payments:for-myself")
    assert refused.status_code == 403
    assert notice_of(refused.text) == "Refused: No one decides a request they made."
    async with SignedIn(gateway, "sec2") as other:
        page = await other.open(request_page(request_id))
        done = await other.submit(page, approve_action(request_id), scope="payments:for-myself")
        assert done.status_code == 303


async def test_ad5_a_refusal_is_a_page_with_its_reason_and_status_never_a_server_error(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:refusals", "refusal check", duration=3600)
    page = await sec.open(request_page(request_id))
    action = approve_action(request_id)
    cases = [
        ({"scope": []}, 400, "Tick at least one scope to approve"),
        ({"scope": "payments:refusals", "duration": "2", "unit": "hours"}, 400, "between 1 and 3600 seconds"),
        ({"scope": "payments:refusals", "duration": "soon", "unit": "hours"}, 400, "whole number"),
        ({"scope": "payments:other"}, 400, "was not requested"),
    ]
    for fields, status, text in cases:
        answer = await sec.submit(page, action, **fields)
        assert answer.status_code == status and text in notice_of(answer.text), (fields, answer.text[-800:])
    denied = await sec.submit(page, request_page(request_id) + "/deny", reason="")
    assert denied.status_code == 400 and "Reason is required" in notice_of(denied.text)
    assert (await sec.submit(page, action, scope="payments:refusals")).status_code == 303
    again = await sec.submit(page, action, scope="payments:refusals")
    assert again.status_code == 409 and "not pending" in notice_of(again.text)
    missing = await sec.open(request_page("req_nothing"))
    assert missing.status_code == 404 and "no such access request" in missing.text.lower()
    grants = await sec.open(paths.CONSOLE_GRANTS)
    token = forms_of(grants.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
    standing = await sec.post(f"{paths.CONSOLE_GRANTS}/standing:{BOT}/revoke", csrf=token, reason="no")
    assert standing.status_code == 409 and "standing grant" in notice_of(standing.text)


# == the pages ========================================================================================


async def test_the_queue_shows_each_waiting_request_with_what_a_reviewer_needs(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:refund payments:read", "refund ticket 4521")
    queue = await sec.open(paths.CONSOLE)
    assert queue.status_code == 200
    row = re.search(rf"<tr><td><a href=\"{request_page(request_id)}\">.*?</tr>", queue.text, re.S)
    assert row is not None, queue.text
    text = row.group(0)
    assert "<code>payroll-bot</code>" in text
    assert '<code>payments:refund</code> <span class="desc">— Refund a customer&#x27;s payment</span>' in text
    assert "<code>payments:read</code>" in text and "refund ticket 4521" in text
    assert "<code>weather:read</code>" in text, "what the agent already holds"
    assert "0 of 1" in text and "by security-admin" in text
    assert re.search(
        r"<time datetime=\"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", text
    )
    assert "policy <code>2026-12-console</code>" in queue.text


async def test_a_security_admin_approves_some_scopes_for_less_time_then_revokes_the_grant(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:subset-a payments:subset-b", "subset check")
    page = await sec.open(request_page(request_id))
    assert (
        'name="duration" min="1" value="7" required' in page.text
        and '<option value="days" selected>' in page.text
    )
    before = time.time()
    done = await sec.submit(
        page, approve_action(request_id), scope="payments:subset-a", duration="2", unit="hours", note="just a"
    )
    assert done.status_code == 303 and done.headers["location"] == request_page(request_id) + "?done=approved"
    shown = await sec.open(done.headers["location"])
    assert "Approved: the grant is made" in shown.text
    status = await request_status(http, gateway, request_id)
    assert status["status"] == "approved" and status["granted_scope"] == "payments:subset-a"
    assert before + 7200 - 5 <= status["granted_until"] <= time.time() + 7200 + 5
    assert (await bot_token(http, gateway, "payments:subset-a")).status_code == 200
    assert (await bot_token(http, gateway, "payments:subset-b")).status_code == 400

    grants = await sec.open(paths.CONSOLE_GRANTS)
    grant_id = row_id(grants.text, "grt", "payments:subset-a")
    revoke = f"{paths.CONSOLE_GRANTS}/{grant_id}/revoke"
    gone = await sec.submit(grants, revoke, reason="the refunds are done")
    assert gone.status_code == 303 and gone.headers["location"].endswith(f"#{grant_id}")
    after = await sec.open(paths.CONSOLE_GRANTS)
    row = re.search(rf'<tr id="{grant_id}".*?</tr>', after.text, re.S)
    assert row is not None and "revoked" in row.group(0) and "the refunds are done" in row.group(0)
    assert revoke not in forms_of(after.text)
    assert (await bot_token(http, gateway, "payments:subset-a")).status_code == 400


async def test_two_approvers_are_needed_where_policy_says_so(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:bulk", "bulk payouts")
    page = await sec.open(request_page(request_id))
    first = await sec.submit(page, approve_action(request_id), scope="payments:bulk")
    assert first.headers["location"].endswith("?done=voted")
    page = await sec.open(first.headers["location"])
    assert "needs another approver" in page.text and "1 of 2 needed" in page.text
    twice = await sec.submit(page, approve_action(request_id), scope="payments:bulk")
    assert twice.status_code == 409 and "another person must approve it too" in notice_of(twice.text)
    assert (await request_status(http, gateway, request_id))["status"] == "pending"
    async with SignedIn(gateway, "sec2") as other:
        page = await other.open(request_page(request_id))
        second = await other.submit(page, approve_action(request_id), scope="payments:bulk")
        assert second.headers["location"].endswith("?done=approved")
    assert (await request_status(http, gateway, request_id))["status"] == "approved"


async def test_a_denial_with_its_reason_reaches_the_agent(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:deny-me", "please")
    page = await sec.open(request_page(request_id))
    done = await sec.submit(
        page, request_page(request_id) + "/deny", reason="use the read-only report instead"
    )
    assert done.status_code == 303
    shown = await sec.open(done.headers["location"])
    assert "Denied: the agent is told" in shown.text and "use the read-only report instead" in shown.text
    status = await request_status(http, gateway, request_id)
    assert status["status"] == "denied" and status["reason"] == "use the read-only report instead"


async def test_a_security_admin_recertifies_a_grant(
    gateway: RunningGateway, http: httpx2.AsyncClient, sec: ConsoleUser
) -> None:
    request_id = await file_request(http, gateway, "payments:recertify", "a long one")
    page = await sec.open(request_page(request_id))
    await sec.submit(page, approve_action(request_id), scope="payments:recertify")
    grants = await sec.open(paths.CONSOLE_GRANTS)
    grant_id = row_id(grants.text, "grt", "payments:recertify")
    done = await sec.submit(grants, f"{paths.CONSOLE_GRANTS}/{grant_id}/review", note="still needed")
    assert done.status_code == 303
    after = await sec.open(done.headers["location"])
    assert "Re-certified" in after.text and "reviewed by sec" in after.text


def test_an_overdue_grant_stands_out_and_a_standing_one_offers_no_form() -> None:
    """The grants page, from records: a grant past its review date is marked and counted."""
    now = 1_800_000_000.0
    overdue = Grant(
        "grt_late", BOT, ("payments:read",), "https://gw.example/mcp", "approval", ("sec",),
        created_at=now - 10 * 86400, expires_at=now + 86400, review_by=now - 3600,
    )  # fmt: skip
    on_time = replace(overdue, grant_id="grt_fine", review_by=now + 3600)
    standing = standing_grant(BOT, ("weather:read",), "config", now - 86400)
    visitor = Visitor(Principal("sec", ("security-admin",)), "token")
    body = grant_views.grants(
        [standing, overdue, on_time], descriptions={}, now=now, suspend_overdue=False, visitor=visitor
    )
    assert "<strong>1 overdue for review</strong>" in body
    late = re.search(r'<tr id="grt_late" class=overdue>.*?</tr>', body, re.S)
    assert late is not None and '<span class="badge overdue">overdue</span>' in late.group(0)
    assert '<tr id="grt_fine">' in body
    assert set(forms_of(body)) == {
        grant_views.grant_path(g, a) for g in ("grt_late", "grt_fine") for a in ("revoke", "review")
    }
    suspended = grant_views.grants([overdue], descriptions={}, now=now, suspend_overdue=True, visitor=visitor)
    assert '<span class="badge suspended">suspended</span>' in suspended
