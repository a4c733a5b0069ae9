"""Held tool calls at the console (rule book AP-6, AD-5), over real HTTP against the gateway under
uvicorn with a real upstream behind it (:mod:`tests.support.held_calls`).

Agents make calls the gateway holds; people sign in through the console's own form and use its
pages as a browser would (:class:`tests.support.console.ConsoleUser`). Whether a call got through
is read from what the upstream did. Two gateways: one where a ``security-admin`` decides held
calls (the default policy), one where the person the agent acts for does
(``call_approver = "person"``); a third, whose people sign in at a real OpenID provider, shows that
a federated person approves the calls made for them too.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import re
import secrets
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import quote, urljoin

import httpx2
import pytest

from gateway import paths
from gateway.console import call_arguments
from gateway.console.call_arguments import MAX_LAID_OUT, readable
from gateway.console.html import STYLE
from gateway.resource.call_approval import CALL_DENIED
from gateway.settings import Settings
from tests.support.console import ConsoleUser, SignedIn, forms_of, notice_of
from tests.support.held_calls import (
    DESK,
    FILES_BOT,
    TOOL,
    CallDeployment,
    bot_token,
    call_gateway,
    call_settings,
    call_tool,
    held_call,
    passed,
    person_token,
)
from tests.support.http_clients import http_client
from tests.support.oidc_idp import require_idp, running_idp, through_the_provider

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def admins_decide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallDeployment]:
    store = f"sqlite:///{tmp_path_factory.mktemp('calls-admins') / 'gw.sqlite3'}"
    with call_gateway(lambda port: call_settings(store, port), store) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def people_decide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallDeployment]:
    store = f"sqlite:///{tmp_path_factory.mktemp('calls-people') / 'gw.sqlite3'}"
    with call_gateway(lambda port: call_settings(store, port, call_approver="person"), store) as deployment:
        yield deployment


def call_page(call_id: str, action: str = "") -> str:
    return f"{paths.CALL_PAGES}/{quote(call_id)}" + (f"/{action}" if action else "")


def unique_path(label: str) -> str:
    """A path no other test deletes: each test holds calls of its own."""
    return f"/srv/{label}-{secrets.token_hex(3)}.txt"


def shown_arguments(page: str) -> str:
    """The text of the arguments' ``<pre>`` as a browser shows it."""
    match = re.search(r'<pre class="arguments"[^>]*>(.*?)</pre>', page, re.S)
    assert match is not None, page[-2000:]
    return unescape(match.group(1))


def status_on(page: str) -> str:
    match = re.search(r'<p class="lead"><span class="badge (\w+)">', page)
    assert match is not None, page[-2000:]
    return match.group(1)


async def hold(http: httpx2.AsyncClient, deployment: CallDeployment, token: str, path: str) -> str:
    """The agent holding ``token`` asks to delete ``path``; the id of the call the gateway holds."""
    return str(held_call(await call_tool(http, deployment.gateway, token, {"path": path}))["id"])


# == AP-6: a security admin decides ================================================================


async def test_ap6_a_security_admin_reads_the_exact_arguments_approves_and_the_same_call_passes_once(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    path = unique_path("<script>alert('x')</script>")
    arguments: dict[str, Any] = {"path": path, "why": "clean up & \u202eexe.txt", "depth": {"max": [1, 2]}}
    token = await bot_token(http, gw)
    approval = held_call(await call_tool(http, gw, token, arguments))
    call_id = approval["id"]
    assert approval["approveUrl"] == gw.endpoint(call_page(call_id))

    async with SignedIn(gw, "sec") as sec:
        queue = await sec.open(paths.CONSOLE)
        assert f'<a href="{paths.CALL_PAGES}">Held calls</a>' in queue.text, "the navigation"
        assert re.search(
            rf'<a href="{paths.CALL_PAGES}">[1-9][0-9]* held tool calls? waiting</a>', queue.text
        )
        listed = await sec.open(paths.CALL_PAGES)
        assert listed.status_code == 200
        row = re.search(rf'<tr><td><a href="{call_page(call_id)}">.*?</tr>', listed.text, re.S)
        assert (
            row is not None
            and f"<code>{TOOL}</code>" in row.group(0)
            and f"<code>{FILES_BOT}</code>" in row.group(0)
        )

        page = await sec.open(approval["approveUrl"].removeprefix(gw.url))
        assert page.status_code == 200 and status_on(page.text) == "pending"
        shown = shown_arguments(page.text)
        assert json.loads(shown) == arguments, "the exact arguments, as JSON"
        assert "\\u202e" in shown and "\u202e" not in page.text, "a direction override is shown escaped"
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
        assert "<script" not in page.text.lower()
        assert "<code>delete_file</code> at the server <code>files</code>" in page.text
        assert "Deletes a file." in page.text, "what the catalogue says the tool does"
        assert "nobody: the agent itself" in page.text
        assert set(forms_of(page.text)) == {
            paths.CONSOLE_SIGN_OUT,
            call_page(call_id, "approve"),
            call_page(call_id, "deny"),
        }

        done = await sec.submit(page, call_page(call_id, "approve"), note="ticket 981: stale file")
        assert done.status_code == 303 and done.headers["location"] == call_page(call_id) + "?done=approved"
        after = await sec.open(done.headers["location"])
        assert status_on(after.text) == "approved" and "Approved: the agent" in after.text
        assert "by sec" in after.text and "ticket 981: stale file" in after.text
        assert set(forms_of(after.text)) == {paths.CONSOLE_SIGN_OUT}

        assert passed(await call_tool(http, gw, token, arguments)) == f"deleted {path}"
        assert admins_decide.done(path) == [("delete_file", path)]
        again = held_call(await call_tool(http, gw, token, arguments))
        assert again["id"] != call_id and again["status"] == "pending", "one approval, one call"
        assert admins_decide.done(path) == [("delete_file", path)]
        assert status_on((await sec.open(call_page(call_id))).text) == "used"


async def test_ap6_a_denial_at_the_console_reaches_the_agent_with_its_reason(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    path = unique_path("payroll")
    token = await bot_token(http, gw)
    call_id = await hold(http, admins_decide, token, path)
    async with SignedIn(gw, "sec") as sec:
        page = await sec.open(call_page(call_id))
        reason = "Payroll files are kept for ten years.\r\nAsk records management."
        done = await sec.submit(page, call_page(call_id, "deny"), reason=reason)
        assert done.status_code == 303 and done.headers["location"].endswith("?done=denied")
        after = await sec.open(done.headers["location"])
        assert status_on(after.text) == "denied" and "Denied: the agent is told" in after.text
    denied = held_call(await call_tool(http, gw, token, {"path": path}), CALL_DENIED)
    assert denied["id"] == call_id
    assert denied["reason"] == "Payroll files are kept for ten years.\nAsk records management."
    assert admins_decide.done(path) == []


async def test_ad5_an_auditor_reads_held_calls_but_decides_none(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    call_id = await hold(http, admins_decide, await bot_token(http, gw), unique_path("audited"))
    async with SignedIn(gw, "audrey") as auditor:
        assert call_id in (await auditor.open(paths.CALL_PAGES)).text
        page = await auditor.open(call_page(call_id))
        assert page.status_code == 200 and "audited" in shown_arguments(page.text)
        assert set(forms_of(page.text)) == {paths.CONSOLE_SIGN_OUT}
        assert (
            "You can read this call but not decide it: deciding this call needs the security-admin role."
            in page.text
        )
        token = forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        for action, fields in (("approve", {}), ("deny", {"reason": "no"})):
            refused = await auditor.post(call_page(call_id, action), csrf=token, **fields)
            assert refused.status_code == 403
            assert notice_of(refused.text) == "Refused: Deciding this call needs the security-admin role."
            assert status_on(refused.text) == "pending"


async def test_ap6_no_one_approves_a_call_their_agent_made_for_them_at_the_console(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    """``sec`` holds the role, but the call was made for ``sec``: the page says so and offers no
    form, the desk refuses a forged one, and ``sec2`` approves. A person holding no role reads a
    call made for them but, with this policy, decides nothing."""
    gw = admins_decide.gateway
    path = unique_path("mine")
    token = await person_token(gw, "sec")
    call_id = await hold(http, admins_decide, token, path)
    async with SignedIn(gw, "sec") as sec:
        page = await sec.open(call_page(call_id))
        assert page.status_code == 200 and f"<code>{DESK}</code> for you" in page.text
        assert set(forms_of(page.text)) == {paths.CONSOLE_SIGN_OUT}
        assert "You can read this call but not decide it: no one decides a call made for them." in page.text
        csrf = forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        refused = await sec.post(call_page(call_id, "approve"), csrf=csrf)
        assert (
            refused.status_code == 403
            and notice_of(refused.text) == "Refused: No one decides a call made for them."
        )
    async with SignedIn(gw, "sec2") as other:
        page = await other.open(call_page(call_id))
        assert f"<code>{DESK}</code> for <strong>sec</strong>" in page.text
        assert "a security-admin other than sec, for whom it was made" in page.text
        assert (await other.submit(page, call_page(call_id, "approve"))).status_code == 303
    assert passed(await call_tool(http, gw, token, {"path": path})) == f"deleted {path}"

    alices = await hold(http, admins_decide, await person_token(gw, "alice"), unique_path("alices"))
    async with ConsoleUser(gw.url) as alice:
        assert (await alice.sign_in("alice", "correct horse battery")).status_code == 303
        page = await alice.open(call_page(alices))
        assert page.status_code == 200 and set(forms_of(page.text)) == {paths.CONSOLE_SIGN_OUT}
        assert "not decide it: deciding this call needs the security-admin role" in page.text


async def test_ad5_a_refusal_on_a_held_call_is_a_page_with_its_reason_and_status(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    call_id = await hold(http, admins_decide, await bot_token(http, gw), unique_path("refusals"))
    async with SignedIn(gw, "sec") as sec:
        page = await sec.open(call_page(call_id))
        empty = await sec.submit(page, call_page(call_id, "deny"), reason="  ")
        assert empty.status_code == 400 and notice_of(empty.text) == "Refused: Reason is required."
        long_note = await sec.submit(page, call_page(call_id, "approve"), note="x" * 1001)
        assert long_note.status_code == 400 and "at most 1000 printable characters" in notice_of(
            long_note.text
        )
        assert (await sec.submit(page, call_page(call_id, "approve"))).status_code == 303
        twice = await sec.submit(page, call_page(call_id, "deny"), reason="too late")
        assert (
            twice.status_code == 409
            and notice_of(twice.text) == "Refused: The call is approved, not pending."
        )
        missing = await sec.open(call_page("call_nothing"))
        assert missing.status_code == 404 and "No such held call" in notice_of(missing.text)
        posted = await sec.submit(page, call_page(call_id, "approve"))
        assert posted.status_code == 409
        gone = await sec.post(
            call_page("call_nothing", "approve"), csrf=forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        )
        assert gone.status_code == 404


# == AD-5: the door of the call pages ================================================================


async def test_ad5_a_held_call_form_without_this_sessions_token_is_refused_and_changes_nothing(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    call_id = await hold(http, admins_decide, await bot_token(http, gw), unique_path("forged"))
    action = call_page(call_id, "approve")
    async with SignedIn(gw, "sec2") as other:
        theirs = forms_of((await other.open(call_page(call_id))).text)[action]["csrf"]
    async with SignedIn(gw, "sec") as sec:
        for token in ("", "not-a-token", theirs):
            answer = await sec.post(action, csrf=token)
            assert answer.status_code == 403 and "was not issued to this session" in answer.text, token
        assert status_on((await sec.open(call_page(call_id))).text) == "pending"
    anonymous = await http.post(gw.endpoint(action), data={"csrf": theirs})
    assert anonymous.status_code == 403 and "Sign in again" in anonymous.text


async def test_ad5_the_held_call_pages_resist_framing_caching_and_leaks_and_send_a_stranger_to_sign_in(
    admins_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = admins_decide.gateway
    call_id = await hold(http, admins_decide, await bot_token(http, gw), unique_path("headers"))
    cold = await http.get(gw.endpoint(call_page(call_id)))
    assert cold.status_code == 303
    assert cold.headers["location"] == f"{paths.CONSOLE_SIGN_IN}?next={quote(call_page(call_id), safe='')}"
    async with ConsoleUser(gw.url) as sec:
        landed = await sec.sign_in("sec", "correct horse battery", next=call_page(call_id))
        assert landed.status_code == 303 and landed.headers["location"] == call_page(call_id)
        pages = {
            "list": await sec.open(paths.CALL_PAGES),
            "call": await sec.open(call_page(call_id)),
            "refusal": await sec.post(call_page(call_id, "approve"), csrf="forged"),
        }
    for name, page in pages.items():
        assert page.headers["x-frame-options"] == "DENY", name
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, name
        assert "form-action 'self'" in policy and "unsafe-inline" not in policy, name
        assert page.headers["cache-control"] == "no-store", name
        assert page.headers["referrer-policy"] == "no-referrer", name
        assert page.headers["x-content-type-options"] == "nosniff", name
        assert f"<style>{STYLE}</style>" in page.text and "<script" not in page.text.lower(), name


# == AP-6: the person approves =======================================================================


async def test_ap6_the_person_approves_their_own_agents_call_at_the_console_holding_no_role(
    people_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = people_decide.gateway
    path = unique_path("alice-report")
    token = await person_token(gw, "alice")
    approval = held_call(await call_tool(http, gw, token, {"path": path}))
    call_id = approval["id"]
    async with ConsoleUser(gw.url) as alice:
        sent = await alice.open(approval["approveUrl"])
        assert sent.status_code == 303 and sent.headers["location"].startswith(
            paths.CONSOLE_SIGN_IN + "?next="
        )
        landed = await alice.sign_in("alice", "correct horse battery", next=call_page(call_id))
        assert landed.status_code == 303 and landed.headers["location"] == call_page(call_id)
        page = await alice.open(call_page(call_id))
        assert page.status_code == 200 and f"<code>{DESK}</code> for you" in page.text
        assert "Signed in as <strong>alice</strong> · no role" in page.text and "<nav" not in page.text
        assert json.loads(shown_arguments(page.text)) == {"path": path}
        assert "alice, for whom the agent made it" in page.text
        done = await alice.submit(page, call_page(call_id, "approve"), note="yes, that one")
        assert done.status_code == 303 and done.headers["location"].endswith("?done=approved")
        after = await alice.open(done.headers["location"])
        assert status_on(after.text) == "approved" and "by alice" in after.text
        for elsewhere in (paths.CONSOLE, paths.CALL_PAGES, paths.CONSOLE_GRANTS):
            assert (await alice.open(elsewhere)).status_code == 403, "her call, and nothing else"
    assert passed(await call_tool(http, gw, token, {"path": path})) == f"deleted {path}"
    assert people_decide.done(path) == [("delete_file", path)]
    assert held_call(await call_tool(http, gw, token, {"path": path}))["id"] != call_id


async def test_ap6_another_person_without_a_role_learns_nothing_of_a_call_made_for_someone_else(
    people_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = people_decide.gateway
    path = unique_path("alice-secret")
    call_id = await hold(http, people_decide, await person_token(gw, "alice"), path)
    async with ConsoleUser(gw.url) as bob:
        assert (await bob.sign_in("bob", "correct horse battery")).status_code == 303
        theirs = await bob.open(call_page(call_id))
        missing = await bob.open(call_page("call_nothing"))
        for page in (theirs, missing):
            assert page.status_code == 403 and "You hold no role at the console" in page.text
            assert call_id not in page.text and "alice-secret" not in page.text
        assert theirs.text.replace(call_id, "") == missing.text.replace("call_nothing", ""), "alike"
        csrf = forms_of(theirs.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        for action, fields in (("approve", {}), ("deny", {"reason": "not mine"})):
            refused = await bob.post(call_page(call_id, action), csrf=csrf, **fields)
            assert refused.status_code == 403 and call_id not in refused.text
        for elsewhere in (paths.CONSOLE, paths.CALL_PAGES, paths.CONSOLE_GRANTS):
            assert (await bob.open(elsewhere)).status_code == 403
    async with SignedIn(gw, "sec") as sec:
        assert status_on((await sec.open(call_page(call_id))).text) == "pending"
    assert people_decide.done(path) == []


async def test_ap6_with_the_person_as_approver_a_security_admin_may_deny_but_not_approve(
    people_decide: CallDeployment, http: httpx2.AsyncClient
) -> None:
    gw = people_decide.gateway
    path = unique_path("alice-deny")
    token = await person_token(gw, "alice")
    call_id = await hold(http, people_decide, token, path)
    bots = await hold(http, people_decide, await bot_token(http, gw), unique_path("bot-fallback"))
    async with SignedIn(gw, "sec") as sec:
        page = await sec.open(call_page(call_id))
        assert set(forms_of(page.text)) == {paths.CONSOLE_SIGN_OUT, call_page(call_id, "deny")}
        assert (
            "You cannot approve this call: only alice, for whom the agent made the call, may approve it."
            in page.text
        )
        csrf = forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        refused = await sec.post(call_page(call_id, "approve"), csrf=csrf)
        assert refused.status_code == 403
        assert (
            notice_of(refused.text)
            == "Refused: Only alice, for whom the agent made the call, may approve it."
        )
        assert (await sec.submit(page, call_page(call_id, "deny"), reason="not this week")).status_code == 303
        fallback = await sec.open(call_page(bots))
        assert call_page(bots, "approve") in forms_of(fallback.text), (
            "a call made for nobody: a security admin"
        )
        assert (await sec.submit(fallback, call_page(bots, "approve"))).status_code == 303
    denied = held_call(await call_tool(http, gw, token, {"path": path}), CALL_DENIED)
    assert denied["reason"] == "not this week" and people_decide.done(path) == []


# == AP-6 with a federated person ====================================================================

IDP_CLIENT, IDP_SECRET = "mcp-gateway", secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def federated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallDeployment]:
    require_idp()
    store = f"sqlite:///{tmp_path_factory.mktemp('calls-federated') / 'gw.sqlite3'}"
    with contextlib.ExitStack() as stack:

        def make(port: int) -> Settings:
            idp = stack.enter_context(
                running_idp(
                    client_id=IDP_CLIENT,
                    client_secret=IDP_SECRET,
                    redirect_uri=f"http://127.0.0.1:{port}{paths.FEDERATED_CALLBACK}",
                    accounts={"carol": {"groups": ["staff"]}},
                )
            )
            return call_settings(
                store,
                port,
                call_approver="person",
                oidc_issuer=idp.issuer,
                oidc_client_id=IDP_CLIENT,
                oidc_client_secret=IDP_SECRET,
                oidc_provider_name="Test IdP",
            )

        yield stack.enter_context(call_gateway(make, store))


async def test_ap6_a_person_signed_in_at_the_provider_approves_the_call_their_agent_made_for_them(
    federated: CallDeployment, http: httpx2.AsyncClient
) -> None:
    """The name the desk compares is the token's ``sub``, and the console's visitor is the session's
    person: both ``oidc:<the provider's sub>``, so the person the agent acted for is the one who may
    approve."""
    gw = federated.gateway
    path = unique_path("carol")
    async with http_client() as browser:
        page = await browser.get(gw.endpoint(f"{paths.CONSOLE_SIGN_IN}?next={paths.CONSOLE}"))
        started = await browser.post(
            gw.endpoint(paths.CONSOLE_FEDERATED), data=forms_of(page.text)[paths.CONSOLE_FEDERATED]
        )
        callback = await through_the_provider(browser, started.headers["location"], gw, login="carol")
        assert (await browser.get(callback)).status_code == 303
        token = await person_token(gw, "carol", browser)
        approval = held_call(await call_tool(http, gw, token, {"path": path}))
        call_page_url = approval["approveUrl"]
        page = await browser.get(call_page_url)
        assert page.status_code == 200 and "Signed in as <strong>oidc:carol</strong> · no role" in page.text
        assert "oidc:carol, for whom the agent made it" in page.text
        action = call_page(approval["id"], "approve")
        done = await browser.post(urljoin(gw.url, action), data=forms_of(page.text)[action])
        assert done.status_code == 303, done.text[-800:]
    assert passed(await call_tool(http, gw, token, {"path": path})) == f"deleted {path}"
    assert federated.done(path) == [("delete_file", path)]


# == how arguments are shown =========================================================================


def test_ap6_arguments_are_shown_whole_and_nothing_in_them_hides_text() -> None:
    value = {
        "a": "right-to-left \u202e override, zero\u200bwidth, C1 \u0085, private \U000f0000",
        "b": "line\nbreak & <tag> 'quoted' — ünïcødé ✓",
    }
    text, laid_out = readable(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    assert laid_out and json.loads(text) == value
    for hidden in ("\u202e", "\u200b", "\u0085", "\U000f0000"):
        assert hidden not in text
    assert "\\udb80\\udc00" in text and "ünïcødé ✓" in text, "a surrogate pair; readable text stays"
    deep: Any = "bottom"
    for _ in range(400):
        deep = [deep, "x" * 40]
    canonical = json.dumps(deep, separators=(",", ":"))
    shown, laid_out = readable(canonical)
    assert not laid_out and shown == canonical and len(canonical) < MAX_LAID_OUT, "whole, on one line"
    assert doctest.testmod(call_arguments, raise_on_error=True).attempted >= 1
