"""The approval loop at the admin API, over real HTTP (rule book AP-2, AP-4, AP-5, AD-2, AD-4).

One gateway under uvicorn on a SQLite file, with a policy that puts ``payments`` under the
two-person rule and gives ``deploy`` to tool authors, and a review interval of 30 seconds. Agents
file their requests at ``POST /access-requests`` as they do in production; operators (one client
per role, two security admins) decide with tokens minted for the admin API. The clock is real time
that one test moves on, to make a grant overdue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
import pytest

from gateway import paths
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.store.factory import open_store
from tests.support.admin_api import (
    Operators,
    ShiftedClock,
    file_access_request,
    grant_path,
    operator_client,
    request_path,
)
from tests.support.agents import JWT_BEARER, AgentKey, agent_token
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.mcp_requests import challenge_params, modern
from tests.support.problems import problem_of

pytestmark = pytest.mark.anyio

AGENT, PAGER = "agent", "pager"
ROLES = {
    "auditor": "admin:auditor",
    "security": "admin:security-admin",
    "security2": "admin:security-admin",
    "author": "admin:tool-author",
}
POLICY = {
    "review_interval": 30,
    "rules": [
        {"scope": "payments", "approvers": 2, "max_duration": 3600},
        {"scope": "deploy", "approver_role": "tool-author"},
    ],
}
REQUESTS = paths.ADMIN_ACCESS_REQUESTS


@dataclass
class Loop:
    gateway: RunningGateway
    keys: dict[str, AgentKey]
    ops: Operators
    clock: ShiftedClock

    async def file(self, http: httpx2.AsyncClient, scope: str, client_id: str = AGENT, **extra: Any) -> str:
        return await file_access_request(http, self.gateway, self.keys[client_id], client_id, scope, **extra)

    async def approved_grant(self, http: httpx2.AsyncClient, scope: str, **terms: Any) -> dict[str, Any]:
        """A grant of ``scope`` to the agent, approved by ``security``."""
        request_id = await self.file(http, scope)
        approved = await self.ops.decide(http, "security", request_path(request_id, "approve"), terms)
        grant: dict[str, Any] = await self.ops.read(http, "auditor", grant_path(approved["grant_id"]))
        return grant

    async def agent_token(self, http: httpx2.AsyncClient, scope: str) -> str:
        return await agent_token(http, self.gateway, self.keys[AGENT], AGENT, scope=scope)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    folder = tmp_path_factory.mktemp("approvals")
    keys = {client_id: AgentKey() for client_id in [*ROLES, AGENT, PAGER]}
    clock = ShiftedClock()

    def settings(port: int) -> Settings:
        operators = [operator_client(c, keys[c], scope, port) for c, scope in ROLES.items()]
        agents = [{"client_id": c, "scopes": ("weather",), "jwks": keys[c].jwks} for c in (AGENT, PAGER)]
        return settings_from(
            port=port,
            store=f"sqlite:///{folder / 'gw.sqlite3'}",
            clients=(*operators, *agents),
            approvals=POLICY,
        )

    def build(settings: Settings) -> Gateway:
        return build_gateway(settings, open_store(settings.server.store, clock), clock=clock)

    with running_gateway(settings, build) as gateway:
        yield Loop(gateway, keys, Operators(gateway, keys), clock)


async def test_ap4_a_security_admin_approves_part_of_a_request_for_less_time_and_the_agent_gets_it(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request_id = await loop.file(http, "reports:read reports:write", duration=7200)
    pending = await loop.ops.read(http, "security", request_path(request_id))
    assert (pending["status"], pending["scopes"], pending["held_scopes"]) == (
        "pending",
        ["reports:read", "reports:write"],
        ["weather"],
    )
    terms = {"scopes": ["reports:read"], "duration": 600, "note": "read only, for the audit"}
    approved = await loop.ops.decide(http, "security", request_path(request_id, "approve"), terms)
    assert approved["status"] == "approved"
    assert approved["granted_scopes"] == ["reports:read"]
    assert approved["decided_by"] == ["security"]
    assert approved["granted_until"] - approved["decided_at"] == 600
    assert approved["held_scopes"] == ["weather", "reports:read"]
    grant = await loop.ops.read(http, "auditor", grant_path(approved["grant_id"]))
    assert (grant["status"], grant["client_id"], grant["scopes"], grant["request_id"]) == (
        "active",
        AGENT,
        ["reports:read"],
        request_id,
    )
    token = await loop.agent_token(http, "reports:read")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"] == "reports:read" and claims["grants"] == [approved["grant_id"]]


async def test_ap4_a_denial_tells_the_agent_why_and_a_second_decision_conflicts(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request_id = await loop.file(http, "reports:admin")
    reason = "agents never administer reports"
    denied = await loop.ops.decide(http, "security", request_path(request_id, "deny"), {"reason": reason})
    assert (denied["status"], denied["reason"], denied["decided_by"]) == ("denied", reason, ["security"])
    form = {
        "client_assertion_type": JWT_BEARER,
        "client_assertion": loop.keys[AGENT].assertion(AGENT, loop.gateway.issuer),
    }
    seen = await http.post(loop.gateway.endpoint(f"{paths.ACCESS_REQUESTS}/{request_id}"), data=form)
    assert (seen.json()["status"], seen.json()["reason"]) == ("denied", reason)
    for action, body in (("approve", {}), ("deny", {"reason": "again"})):
        again = await loop.ops.post(http, "security2", request_path(request_id, action), body)
        assert problem_of(again, 409)["detail"] == "the request is denied, not pending"


async def test_ad4_an_auditor_reads_everything_and_every_write_is_refused_with_403(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request_id = await loop.file(http, "audit:trail")
    grant = await loop.approved_grant(http, "audit:export")
    for path in (REQUESTS, request_path(request_id), paths.ADMIN_GRANTS, paths.ADMIN_POLICY):
        assert (await loop.ops.get(http, "auditor", path)).status_code == 200, path
    writes = [
        (request_path(request_id, "approve"), {}),
        (request_path(request_id, "deny"), {"reason": "no"}),
        (request_path("req_nothing", "approve"), {}),
        (grant_path(grant["grant_id"], "revoke"), {"reason": "no"}),
        (grant_path(grant["grant_id"], "review"), {}),
        (grant_path("grt_nothing", "revoke"), {"reason": "no"}),
    ]
    for path, body in writes:
        refused = await loop.ops.post(http, "auditor", path, body)
        assert problem_of(refused, 403)["error"] == "insufficient_scope", path
        assert challenge_params(refused.headers["www-authenticate"])["scope"] == "admin:security-admin"
    assert (await loop.ops.read(http, "auditor", request_path(request_id)))["status"] == "pending"
    assert (await loop.ops.read(http, "auditor", grant_path(grant["grant_id"])))["status"] == "active"


async def test_ap4_a_tool_author_decides_only_what_policy_gives_tool_authors(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    ordinary = await loop.file(http, "reports:export")
    for action, body in (("approve", {}), ("deny", {"reason": "no"})):
        refused = await loop.ops.post(http, "author", request_path(ordinary, action), body)
        assert problem_of(refused, 403)["detail"] == "deciding this request needs the security-admin role"
    deploy = await loop.file(http, "deploy:staging")
    approved = await loop.ops.decide(http, "author", request_path(deploy, "approve"))
    assert (approved["status"], approved["decided_by"]) == ("approved", ["author"])
    revoke = await loop.ops.post(http, "author", grant_path(approved["grant_id"], "revoke"), {"reason": "x"})
    assert problem_of(revoke, 403)["error"] == "insufficient_scope"


async def test_ap4_a_service_client_cannot_decide_the_request_it_filed(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    """``security`` files for itself; its admin token's subject is its client id."""
    own = await loop.file(http, "reports:own", client_id="security")
    for action, body in (("approve", {}), ("deny", {"reason": "mine"})):
        refused = await loop.ops.post(http, "security", request_path(own, action), body)
        assert problem_of(refused, 403)["detail"] == "no one decides a request they made"
    approved = await loop.ops.decide(http, "security2", request_path(own, "approve"))
    assert approved["decided_by"] == ["security2"]


async def test_ap4_a_two_person_scope_needs_two_different_security_admins(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request_id = await loop.file(http, "payments:refund", duration=86400)
    asked = await loop.ops.read(http, "auditor", request_path(request_id))
    assert (asked["approvers_required"], asked["duration"]) == (2, 3600)  # the policy's longest
    first = await loop.ops.decide(http, "security", request_path(request_id, "approve"), {"duration": 1800})
    assert first["status"] == "pending" and [v["approver"] for v in first["votes"]] == ["security"]
    twice = await loop.ops.post(http, "security", request_path(request_id, "approve"), {})
    assert problem_of(twice, 409)["error"] == "conflict"
    second = await loop.ops.decide(http, "security2", request_path(request_id, "approve"))
    assert second["status"] == "approved"
    assert second["decided_by"] == ["security", "security2"]
    assert second["granted_until"] - second["decided_at"] == 1800  # the shorter of the two


async def test_ap2_a_grant_revoked_over_the_api_ends_its_tokens_and_cannot_change_again(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    grant = await loop.approved_grant(http, "ledger:write")
    token = await loop.agent_token(http, "ledger:write")
    mcp = loop.gateway.settings.mcp.resource
    assert (await modern(http, mcp, token, "tools/list")).status_code == 200
    path = grant_path(grant["grant_id"], "revoke")
    assert problem_of(await loop.ops.post(http, "security", path, {}), 400)["detail"] == "reason is required"
    revoked = await loop.ops.decide(http, "security", path, {"reason": "the project ended"})
    assert (revoked["status"], revoked["revoked_by"], revoked["revoke_reason"]) == (
        "revoked",
        "security",
        "the project ended",
    )
    assert (await modern(http, mcp, token, "tools/list")).status_code == 401
    assert problem_of(await loop.ops.post(http, "security", path, {"reason": "again"}), 409)
    assert problem_of(await loop.ops.post(http, "security", grant_path(grant["grant_id"], "review")), 409)
    standing_path = grant_path(f"standing:{AGENT}", "revoke")
    standing = await loop.ops.post(http, "security", standing_path, {"reason": "x"})
    assert "standing grant" in problem_of(standing, 409)["detail"]
    missing = await loop.ops.post(http, "security", grant_path("grt_nothing", "revoke"), {"reason": "x"})
    assert problem_of(missing, 404)["detail"] == "no such grant"


async def test_ap5_an_overdue_grant_is_listed_as_such_until_a_review_over_the_api_recertifies_it(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    grant = await loop.approved_grant(http, "ledger:read", duration=3600)
    assert grant["review_by"] == pytest.approx(grant["created_at"] + 30)

    async def overdue_ids() -> list[str]:
        page = await loop.ops.read(http, "auditor", paths.ADMIN_GRANTS, client_id=AGENT, overdue="true")
        return [g["grant_id"] for g in page["items"]]

    assert grant["grant_id"] not in await overdue_ids()
    loop.clock.advance(31)
    assert grant["grant_id"] in await overdue_ids()
    reviewed = await loop.ops.decide(
        http, "security", grant_path(grant["grant_id"], "review"), {"note": "still needed"}
    )
    assert (reviewed["reviewed_by"], reviewed["overdue"], reviewed["status"]) == ("security", False, "active")
    assert reviewed["review_by"] > grant["review_by"]
    assert grant["grant_id"] not in await overdue_ids()


async def test_ad4_lists_are_paged_oldest_first_and_a_cursor_holds_still_while_records_arrive(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    filed = [await loop.file(http, f"pages:p{n}", client_id=PAGER) for n in range(5)]
    everything = await loop.ops.read(http, "auditor", REQUESTS, client_id=PAGER, limit="200")
    assert [r["request_id"] for r in everything["items"]] == filed and everything["next_cursor"] is None

    first = await loop.ops.get(http, "auditor", REQUESTS, client_id=PAGER, limit="2")
    late = await loop.file(http, "pages:late", client_id=PAGER)  # arrives while someone pages
    seen, response, pages = [], first, 1
    while True:
        page = response.json()
        seen += [r["request_id"] for r in page["items"]]
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            break
        link = response.headers["link"]
        assert link.endswith('>; rel="next"') and f"cursor={page['next_cursor']}" in link
        response = await loop.ops.get(http, "auditor", link[1 : link.index(">")])
        pages += 1
    assert seen == [*filed, late] and pages == 3

    grants = await loop.ops.read(http, "auditor", paths.ADMIN_GRANTS, limit="1")
    assert len(grants["items"]) == 1 and grants["next_cursor"] is not None


async def test_ad4_bad_cursors_limits_and_query_parameters_are_400_problems(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    not_ours = "eyJhIjoxfQ"  # base64url of {"a":1}
    for params in (
        {"cursor": "garbage!"},
        {"cursor": not_ours},
        {"cursor": ""},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"status": "open"},
        {"state": "pending"},
    ):
        refused = await loop.ops.get(http, "auditor", REQUESTS, **params)
        assert problem_of(refused, 400)["error"] == "invalid_request", params
    repeated = await loop.ops.get(http, "auditor", f"{REQUESTS}?status=pending&status=denied")
    assert "repeated" in problem_of(repeated, 400)["detail"]
    for params in ({"overdue": "yes"}, {"status": "pending"}, {"cursor": "x"}):
        assert problem_of(await loop.ops.get(http, "auditor", paths.ADMIN_GRANTS, **params), 400)


async def test_ad2_bodies_that_are_not_what_an_operation_takes_are_problems_never_500(
    loop: Loop, http: httpx2.AsyncClient
) -> None:
    request_id = await loop.file(http, "bodies:checked")
    approve = request_path(request_id, "approve")
    as_json = {"content-type": "application/json"}
    bad_json = [
        b"not json",
        b"[]",
        b'"approve"',
        b'{"note": "a", "note": "b"}',
        b'{"duration": NaN}',
        b'{"duration": 1e999}',
        b"[" * 5000 + b"]" * 5000,
        b'{"note": "\xff"}',
        json.dumps({"scopes": "reports:read"}).encode(),
        json.dumps({"scopes": []}).encode(),
        json.dumps({"scopes": [1]}).encode(),
        json.dumps({"duration": "60"}).encode(),
        json.dumps({"duration": 0}).encode(),
        json.dumps({"duration": True}).encode(),
        json.dumps({"duration": 10**9}).encode(),  # longer than the request asked
        json.dumps({"resource": "https://elsewhere.example/mcp"}).encode(),
        json.dumps({"scopes": ["payments"]}).encode(),  # not requested
        json.dumps({"grant": "all"}).encode(),
    ]
    for content in bad_json:
        refused = await loop.ops.post(http, "security", approve, content=content, headers=as_json)
        assert problem_of(refused, 400)["error"] in ("invalid_request", "invalid_scope"), content[:40]
    as_text = await loop.ops.post(
        http, "security", approve, content=b"{}", headers={"content-type": "text/plain"}
    )
    assert problem_of(as_text, 415)["detail"] == "the body must be application/json"
    too_big = await loop.ops.post(http, "security", approve, {"note": "x" * 17_000})
    assert problem_of(too_big, 413)["error"] == "invalid_request"
    deny = request_path(request_id, "deny")
    assert problem_of(await loop.ops.post(http, "security", deny, {}), 400)["detail"] == "reason is required"
    assert problem_of(await loop.ops.post(http, "security", deny, {"reason": "  "}), 400)
    assert problem_of(await loop.ops.post(http, "security", deny), 415)
    assert (await loop.ops.read(http, "auditor", request_path(request_id)))["status"] == "pending"
    unknown = await loop.ops.get(http, "auditor", request_path("x" * 300))
    assert problem_of(unknown, 404)["error"] == "not_found"


async def test_ad1_every_role_reads_the_policy_in_force(loop: Loop, http: httpx2.AsyncClient) -> None:
    for client_id in ROLES:
        policy = await loop.ops.read(http, client_id, paths.ADMIN_POLICY)
        assert policy["review_interval"] == 30
        assert {rule["scope"]: rule["approvers"] for rule in policy["rules"]} == {"payments": 2, "deploy": 1}
        assert policy["default"]["decision"] == "approval"
