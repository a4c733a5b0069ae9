"""The console's pages of who can do what, and the audit search of the console and the admin API
(rule book AD-7, AD-4, AP-2, RV-2).

One gateway under uvicorn on a SQLite file, in front of the guarded ``files`` upstream
(:mod:`tests.support.held_calls`): two agents holding ``files`` (``files-bot``, ``desk``), the
people of the console (``sec`` security admin, ``audrey`` auditor, ``author`` tool author), and an
operator client per role for the admin API. Tool calls are written into the gateway's trail as the
``tool_call`` events the MCP endpoint records, through an ``AuditLog`` of their own on the same
trail file (the trail serialises appends from any number of writers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx2
import pytest

from gateway import paths
from gateway.console.client_views import REVOKE_GRANT, REVOKE_TOKENS, anchor
from tests.support.admin_api import Operators, operator_client, request_path
from tests.support.agents import AgentKey
from tests.support.console import SignedIn, forms_of
from tests.support.gateway_server import RunningGateway
from tests.support.held_calls import (
    FILES_BOT,
    FILES_BOT_SECRET,
    CallDeployment,
    bot_token,
    call_gateway,
    call_settings,
    call_tool,
)
from tests.support.problems import problem_of
from tests.support.trail_writer import events, record, trail_of

pytestmark = pytest.mark.anyio

OPERATORS = {
    "auditor-api": "admin:auditor",
    "security-api": "admin:security-admin",
    "author-api": "admin:tool-author",
}
READ_TOOL = "files__read_file"
WIPE = "files__wipe"
EVENTS = paths.ADMIN_AUDIT_EVENTS


@dataclass
class Deployment:
    calls: CallDeployment
    trail_path: Path
    ops: Operators

    @property
    def gw(self) -> RunningGateway:
        return self.calls.gateway

    async def record(self, event: str, count: int = 1, **fields: Any) -> None:
        await record(self.trail_path, event, count, **fields)

    async def events(self, **criteria: Any) -> list[dict[str, Any]]:
        return await events(self.trail_path, **criteria)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("console-pages")
    store = f"sqlite:///{folder / 'gw.sqlite3'}"
    keys = {client_id: AgentKey() for client_id in OPERATORS}

    def settings(port: int) -> Any:
        operators = tuple(operator_client(c, keys[c], role, port) for c, role in OPERATORS.items())
        return call_settings(store, port, more_clients=operators)

    with call_gateway(settings, store) as calls:
        yield Deployment(calls, trail_of(store), Operators(calls.gateway, keys))


def card(page: str, client_id: str) -> str:
    """The section of the clients page about one client."""
    match = re.search(rf'<section class="card client" id="{anchor(client_id)}">(.*?)</section>', page, re.S)
    assert match, f"no card for {client_id}"
    return match.group(1)


def live_tokens(page: str, client_id: str) -> int:
    found = re.search(r"<dt>Live tokens</dt><dd><strong>(\d+)</strong>", card(page, client_id))
    assert found
    return int(found.group(1))


def tool_row(page: str, tool: str) -> list[list[str]]:
    """The cells of a tool's row on the tools page, each as its words."""
    match = re.search(rf'<tr id="tool-{tool}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {tool}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    return [unescape(re.sub(r"<[^>]+>", " ", cell)).split() for cell in cells]


# -- AD-7: auditors read, and change nothing ------------------------------------------------------


async def test_ad7_auditors_read_the_console_pages_and_change_nothing(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    token = await bot_token(http, deployment.gw)
    async with SignedIn(deployment.gw, "audrey") as auditor:
        pages = {path: await auditor.open(path) for path in READ_PAGES}
        for path, page in pages.items():
            assert page.status_code == 200, (path, page.text[:300])
            assert not [action for action in forms_of(page.text) if action != paths.CONSOLE_SIGN_OUT], path
        csrf = forms_of(pages[paths.CONSOLE_CLIENTS].text)[paths.CONSOLE_SIGN_OUT]["csrf"]
        forged = await auditor.post(REVOKE_TOKENS, csrf=csrf, client_id=FILES_BOT, reason="just looking")
        assert forged.status_code == 403 and "Nothing was changed" in forged.text
        grant = await auditor.post(REVOKE_GRANT, csrf=csrf, grant_id=f"standing:{FILES_BOT}", reason="no")
        assert grant.status_code == 403
    still = await call_tool(http, deployment.gw, token, {"path": "/tmp/kept"})
    assert still.status_code == 200, "the bot's token still works"
    refused = await deployment.events(types=("client_tokens_revoked", "grant_revoked"), outcome="refused")
    assert [(e["type"], e["actor"]["subject"], e["actor"]["via"]) for e in refused][-2:] == [
        ("client_tokens_revoked", "audrey", "console"),
        ("grant_revoked", "audrey", "console"),
    ]


READ_PAGES = (paths.CONSOLE_CLIENTS, paths.CONSOLE_TOOLS, paths.CONSOLE_ACCESS_GRAPH, paths.CONSOLE_AUDIT)


async def test_ad7_a_tool_author_reads_who_can_do_what_but_not_the_audit_trail(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    async with SignedIn(deployment.gw, "author") as author:
        assert (await author.open(paths.CONSOLE_TOOLS)).status_code == 200
        tools = await author.open(paths.CONSOLE_TOOLS)
        assert (
            f'href="{paths.CONSOLE_CLIENTS}"' in tools.text
            and f'href="{paths.CONSOLE_AUDIT}"' not in tools.text
        )
        assert (await author.open(paths.CONSOLE_AUDIT)).status_code == 403
    refused = await deployment.ops.get(http, "author-api", EVENTS)
    assert problem_of(refused, 403)["error"] == "insufficient_scope"


# -- the clients page ------------------------------------------------------------------------------


async def test_a_security_admin_sees_live_tokens_and_revokes_every_token_of_a_client(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    token = await bot_token(http, deployment.gw)
    async with SignedIn(deployment.gw, "sec") as sec:
        page = await sec.open(paths.CONSOLE_CLIENTS)
        assert page.status_code == 200
        bot = card(page.text, FILES_BOT)
        assert live_tokens(page.text, FILES_BOT) >= 1
        assert "standing:files-bot" in bot and "Last use</dt><dd><time" in bot
        assert f'name="client_id" value="{FILES_BOT}"' in bot
        csrf = forms_of(page.text)[REVOKE_TOKENS]["csrf"]
        answer = await sec.post(REVOKE_TOKENS, csrf=csrf, client_id=FILES_BOT, reason="the bot's key leaked")
        assert answer.status_code == 303 and anchor(FILES_BOT) in answer.headers["location"]
        after = await sec.open(answer.headers["location"])
        assert "every token issued to the client before now has stopped working" in after.text
        assert live_tokens(after.text, FILES_BOT) == 0
    refused = await call_tool(http, deployment.gw, token, {"path": "/tmp/x"})
    assert refused.status_code == 401
    recorded = await deployment.events(types=("client_tokens_revoked",), outcome="revoked")
    assert recorded[-1]["actor"]["subject"] == "sec" and recorded[-1]["fields"]["client_id"] == FILES_BOT
    assert recorded[-1]["fields"]["reason"] == "the bot's key leaked"


async def test_a_security_admin_revokes_an_approved_grant_from_the_clients_page(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    form = {"scope": "reports:read", "justification": "monthly report"}
    filed = await http.post(
        deployment.gw.endpoint(paths.ACCESS_REQUESTS), data=form, auth=(FILES_BOT, FILES_BOT_SECRET)
    )
    assert filed.status_code == 201, filed.text
    approved = await deployment.ops.decide(
        http, "security-api", request_path(filed.json()["request_id"], "approve")
    )
    grant_id = approved["grant_id"]
    async with SignedIn(deployment.gw, "sec") as sec:
        page = await sec.open(paths.CONSOLE_CLIENTS)
        assert grant_id in card(page.text, FILES_BOT)
        assert f'name="grant_id" value="{grant_id}"' in page.text
        csrf = forms_of(page.text)[REVOKE_TOKENS]["csrf"]
        answer = await sec.post(REVOKE_GRANT, csrf=csrf, grant_id=grant_id, reason="done")
        assert answer.status_code == 303
        again = await sec.open(paths.CONSOLE_CLIENTS)
        row = re.search(rf"<tr><td><code>{grant_id}</code>.*?</tr>", again.text, re.S)
        assert row and 'class="badge revoked"' in row.group(0)
        stale = await sec.post(REVOKE_GRANT, csrf="not-this-session", grant_id=grant_id, reason="x")
        assert stale.status_code == 403
    revoked = await deployment.events(types=("grant_revoked",), outcome="revoked")
    assert revoked[-1]["fields"]["grant_id"] == grant_id and revoked[-1]["actor"]["subject"] == "sec"


# -- the tools page and the access graph -----------------------------------------------------------


async def test_the_tools_page_counts_calls_and_errors_and_names_who_can_call(deployment: Deployment) -> None:
    common = {"client_id": "desk", "subject": "alice", "upstream": "files"}
    await deployment.record("tool_call", 3, outcome="forwarded", tool=READ_TOOL, **common)
    await deployment.record("tool_call", 1, outcome="upstream_error", tool=READ_TOOL, error="boom", **common)
    await deployment.record("tool_call", 2, outcome="refused", tool=READ_TOOL, **common)
    async with SignedIn(deployment.gw, "audrey") as auditor:
        page = await auditor.open(paths.CONSOLE_TOOLS)
    assert page.status_code == 200
    name, requires, upstream, clients, calls, errors, rate, refused = tool_row(page.text, READ_TOOL)
    assert name[0] == READ_TOOL and requires[0].startswith("files")
    assert upstream[0] == "files" and "desk" in clients
    assert (calls, errors, rate, refused) == (["6"], ["1"], ["25%"], ["2"])
    assert "last 24 hours" in page.text


async def test_the_access_graph_leads_from_each_client_to_its_tools(deployment: Deployment) -> None:
    async with SignedIn(deployment.gw, "sec") as sec:
        page = await sec.open(paths.CONSOLE_ACCESS_GRAPH)
    assert page.status_code == 200
    desk = re.search(
        r'<li><span class="node client"><code>desk</code>(.*?)</ul></li></ul></li>', page.text, re.S
    )
    assert desk, page.text[:2000]
    branch = desk.group(1)
    assert "standing:desk" in branch and "upstream <code>files</code>" in branch
    assert '<code class="tool">delete_file</code>' in branch


# -- the audit search: console and admin API --------------------------------------------------------


async def test_the_console_audit_search_filters_pages_and_opens_each_event(deployment: Deployment) -> None:
    await deployment.record("tool_call", 60, outcome="forwarded", tool=WIPE, client_id="desk", subject="bob")
    async with SignedIn(deployment.gw, "audrey") as auditor:
        first = await auditor.open(f"{paths.CONSOLE_AUDIT}?type=tool_call&tool={WIPE}")
        assert first.status_code == 200
        assert first.text.count('<details class="event"') == 50
        assert re.search(r"<dt>Hash</dt><dd><code class=\"url\">[0-9a-f]{64}</code>", first.text)
        following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
        assert following
        second = await auditor.open(unescape(following.group(1)))
        assert second.text.count('<details class="event"') == 10 and 'rel="next"' not in second.text
        assert all(WIPE in block for block in second.text.split('<details class="event"')[1:])
        wrong = await auditor.open(f"{paths.CONSOLE_AUDIT}?since=yesterday")
        assert wrong.status_code == 400 and "is not a time" in wrong.text


async def test_the_admin_api_pages_the_audit_trail_with_a_cursor(
    deployment: Deployment, http: httpx2.AsyncClient
) -> None:
    await deployment.record(
        "tool_call", 5, outcome="upstream_error", tool="files__ask_then_delete", client_id="desk"
    )
    params = {"type": "tool_call,token_issued", "tool": "files__ask_then_delete", "limit": "2", "since": "1h"}
    seen: list[int] = []
    answer = await deployment.ops.get(http, "auditor-api", EVENTS, **params)
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [event["seq"] for event in body["items"]]
        assert all(event["outcome"] == "upstream_error" for event in body["items"])
        if body["next_cursor"] is None:
            assert "link" not in answer.headers
            break
        assert answer.headers["link"].endswith('>; rel="next"') and "cursor=" in answer.headers["link"]
        answer = await deployment.ops.get(http, "security-api", EVENTS, **params, cursor=body["next_cursor"])
    assert len(seen) == 5 and seen == sorted(seen)
    for bad in ({"since": "soon"}, {"type": "Not A Type"}, {"cursor": "bm90IG91cnM"}, {"kind": "x"}):
        refused = await deployment.ops.get(http, "auditor-api", EVENTS, **bad)
        assert problem_of(refused, 400)["error"] == "invalid_request", bad
    repeated = await http.get(
        deployment.gw.endpoint(EVENTS) + "?tool=a&tool=b",
        headers={"Authorization": f"Bearer {await deployment.ops.token(http, 'auditor-api')}"},
    )
    assert repeated.status_code == 400
