"""AU-4 and AU-7: every decision the gateway takes is exactly one audit event, of the type and
outcome the catalogue names, with the actor who took or asked for it.

One row per endpoint and decision path. Each row prepares what its action needs (a token, a filed
request), marks where the trail ends, performs the one action against a gateway running in the
test's process (the app as ASGI: the socket is beside the point), and reads every event recorded
after the mark: they must be exactly the row's events, in order, the first with the row's actor.
A decision with no event, or with two, fails its row. The command line's rows are in
``tests/test_audit_operator_actions.py``.

What is no decision, and so no event (``docs/audit.md``, "What is an event"): reads (``tools/list``
excepted), introspection, metadata documents, health, the admin API's and console's GETs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import pytest

from gateway import paths
from gateway.background import Supervisor
from tests.support.admin_api import grant_path, request_path
from tests.support.authorization_code import new_verifier, s256
from tests.support.browser import Outcome
from tests.support.decision_trail import (
    ACCESS_TOKEN_TYPE,
    BOT,
    BOT_SECRET,
    CALLBACK,
    DESK,
    EXCHANGE,
    PASSWORD,
    PERSON,
    SEC,
    SEC_SECRET,
    TARGET,
    DecisionWorld,
    decision_world,
)
from tests.support.mcp_requests import modern, modern_body, modern_headers

pytestmark = pytest.mark.anyio
VERIFIER = new_verifier()

Prepare = Callable[[DecisionWorld], Awaitable[Any]]
Act = Callable[[DecisionWorld, Any], Awaitable[None]]


async def nothing(world: DecisionWorld) -> None:
    return None


@dataclass(frozen=True)
class Row:
    name: str
    act: Act
    events: tuple[tuple[str, str], ...]
    """(type, outcome) of every event the action records, in order."""
    actor: Mapping[str, Any] = field(default_factory=dict)
    """What the first event's actor holds (a subset)."""
    prepare: Prepare = nothing
    fields: Mapping[str, Any] = field(default_factory=dict)
    """What the first event's fields hold (a subset)."""
    operator: bool = False
    """An operator's write (AU-7): the event holds the record's fields ``before`` and ``after``."""


AGENT = {"client_id": BOT, "via": "agent"}
SECURITY_DESK = {"subject": SEC, "via": "admin-api"}


# -- the token endpoint -------------------------------------------------------------------------
async def client_credentials(world: DecisionWorld, _: Any) -> None:
    assert (await world.token(scope="fake")).status_code == 200


async def wrong_secret(world: DecisionWorld, _: Any) -> None:
    assert (await world.token(BOT, "wrong-" + BOT_SECRET)).status_code == 401


async def exchange(world: DecisionWorld, token: str, audience: str = TARGET) -> int:
    form = {
        "grant_type": EXCHANGE,
        "subject_token": token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
    }
    return (await world.http.post("/token", data=form, auth=(BOT, BOT_SECRET))).status_code


async def bot_token(world: DecisionWorld) -> str:
    return await world.bot_token()


async def exchange_granted(world: DecisionWorld, token: str) -> None:
    assert await exchange(world, token) == 200


async def exchange_refused(world: DecisionWorld, token: str) -> None:
    assert await exchange(world, token, "https://elsewhere.example/mcp") == 400


async def revocation(world: DecisionWorld, token: str) -> None:
    answer = await world.http.post("/revoke", data={"token": token}, auth=(BOT, BOT_SECRET))
    assert answer.status_code == 200


async def revocation_unauthenticated(world: DecisionWorld, token: str) -> None:
    answer = await world.http.post("/revoke", data={"token": token}, auth=(BOT, "wrong-" + BOT_SECRET))
    assert answer.status_code == 401


async def introspection_unauthenticated(world: DecisionWorld, token: str) -> None:
    answer = await world.http.post("/introspect", data={"token": token}, auth=(BOT, "wrong-" + BOT_SECRET))
    assert answer.status_code == 401


async def revocation_by_another(world: DecisionWorld, token: str) -> None:
    answer = await world.http.post("/revoke", data={"token": token}, auth=(SEC, SEC_SECRET))
    assert answer.status_code == 200  # RFC 7009: the answer says nothing; the token stays


async def introspection(world: DecisionWorld, token: str) -> None:
    answer = await world.http.post("/introspect", data={"token": token}, auth=(BOT, BOT_SECRET))
    assert answer.json()["active"] is True


# -- a person at /authorize, and the code flow's tokens ----------------------------------------------
def authorize_url(world: DecisionWorld, verifier: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": DESK,
        "redirect_uri": CALLBACK,
        "scope": "fake",
        "state": "st-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        **params,
    }
    return world.endpoint("/authorize") + "?" + urlencode(query)


async def flow(
    world: DecisionWorld, *, password: str = PASSWORD, allow: bool = True, **params: str
) -> Outcome:
    person = world.person(password)
    try:
        return await person.authorize(authorize_url(world, VERIFIER, **params), allow=allow)
    finally:
        await person.aclose()


async def signed_in_and_consented(world: DecisionWorld, _: Any) -> None:
    assert (await flow(world)).code


async def wrong_password(world: DecisionWorld, _: Any) -> None:
    assert (await flow(world, password="not-" + PASSWORD)).status == 401


async def consent_denied(world: DecisionWorld, _: Any) -> None:
    assert (await flow(world, allow=False)).params["error"] == "access_denied"


async def refused_back(world: DecisionWorld, _: Any) -> None:
    assert (await flow(world, code_challenge_method="plain")).params["error"] == "invalid_request"


async def refused_on_page(world: DecisionWorld, _: Any) -> None:
    assert (await flow(world, redirect_uri="https://evil.example/cb")).status == 400


async def code(world: DecisionWorld) -> str:
    issued = (await flow(world)).code
    assert issued is not None
    return issued


async def redemption(world: DecisionWorld, issued: str) -> int:
    form = {
        "grant_type": "authorization_code",
        "code": issued,
        "client_id": DESK,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    return (await world.http.post("/token", data=form)).status_code


async def redeem(world: DecisionWorld, issued: str) -> None:
    assert await redemption(world, issued) == 200


async def redeemed_code(world: DecisionWorld) -> str:
    issued = await code(world)
    await redeem(world, issued)
    return issued


async def replay(world: DecisionWorld, issued: str) -> None:
    assert await redemption(world, issued) == 400


async def refresh_token(world: DecisionWorld) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": await code(world),
        "client_id": DESK,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    token: str = (await world.http.post("/token", data=form)).json()["refresh_token"]
    return token


async def refresh(world: DecisionWorld, token: str) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": DESK}
    assert (await world.http.post("/token", data=form)).status_code == 200


# -- dynamic registration (RFC 7591) and its management (RFC 7592) ----------------------------------
REGISTRATION = {
    "client_name": "Notes",
    "redirect_uris": ["https://notes.example/callback"],
    "grant_types": ["authorization_code"],
    "token_endpoint_auth_method": "none",
    "scope": "fake",
}


async def registered(world: DecisionWorld) -> dict[str, Any]:
    answer = await world.http.post(paths.REGISTER, json=REGISTRATION)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def register(world: DecisionWorld, _: Any) -> None:
    await registered(world)


async def register_refused(world: DecisionWorld, _: Any) -> None:
    answer = await world.http.post(paths.REGISTER, json={**REGISTRATION, "redirect_uris": ["ftp://x"]})
    assert answer.status_code == 400


def _management(client: Mapping[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {client['registration_access_token']}"}


async def update_registration(world: DecisionWorld, client: dict[str, Any]) -> None:
    document = {**REGISTRATION, "client_id": client["client_id"], "client_name": "Notes 2"}
    answer = await world.http.put(
        client["registration_client_uri"], json=document, headers=_management(client)
    )
    assert answer.status_code == 200, answer.text


async def update_registration_refused(world: DecisionWorld, client: dict[str, Any]) -> None:
    document = {**REGISTRATION, "client_id": "another"}
    answer = await world.http.put(
        client["registration_client_uri"], json=document, headers=_management(client)
    )
    assert answer.status_code == 400, answer.text


async def delete_registration(world: DecisionWorld, client: dict[str, Any]) -> None:
    answer = await world.http.delete(client["registration_client_uri"], headers=_management(client))
    assert answer.status_code == 204


# -- the approval loop, through the agent's endpoint and the admin API -------------------------------
async def file_request(world: DecisionWorld, _: Any) -> None:
    await world.file_request()


async def file_request_refused(world: DecisionWorld, _: Any) -> None:
    answer = await world.http.post(
        paths.ACCESS_REQUESTS, data={"scope": "payments"}, auth=(BOT, BOT_SECRET)
    )  # an agent must say why
    assert answer.status_code == 400, answer.text


async def filed(world: DecisionWorld) -> str:
    return await world.file_request()


async def approve(world: DecisionWorld, request_id: str) -> None:
    await world.admin(request_path(request_id, "approve"), {"note": "month end"})


async def deny(world: DecisionWorld, request_id: str) -> None:
    await world.admin(request_path(request_id, "deny"), {"reason": "not this month"})


async def granted(world: DecisionWorld) -> str:
    request_id = await world.file_request()
    decided = await world.admin(request_path(request_id, "approve"), {})
    grant_id: str = decided["grant_id"]
    return grant_id


async def revoke_grant(world: DecisionWorld, grant_id: str) -> None:
    await world.admin(grant_path(grant_id, "revoke"), {"reason": "payroll moved"})


async def review_grant(world: DecisionWorld, grant_id: str) -> None:
    await world.admin(grant_path(grant_id, "review"), {"note": "still needed"})


# -- the MCP endpoint -------------------------------------------------------------------------------
async def tools_list(world: DecisionWorld, token: str) -> None:
    answer = await modern(world.http, world.mcp_url, token, "tools/list")
    assert len(answer.json()["result"]["tools"]) == 5


async def list_with(world: DecisionWorld, token: str | None) -> int:
    body, headers = modern_body("tools/list"), modern_headers(token, "tools/list")
    return (await world.http.post(world.mcp_url, json=body, headers=headers)).status_code


async def no_token(world: DecisionWorld, _: Any) -> None:
    assert await list_with(world, None) == 401


async def forged_token(world: DecisionWorld, token: str) -> None:
    header, payload, _ = token.split(".")
    assert await list_with(world, f"{header}.{payload}.{'A' * 86}") == 401


async def revoked_token(world: DecisionWorld) -> str:
    token = await world.bot_token()
    await world.http.post("/revoke", data={"token": token}, auth=(BOT, BOT_SECRET))
    return token


async def refused_token(world: DecisionWorld, token: str) -> None:
    assert await list_with(world, token) == 401


def calling(tool: str, **arguments: Any) -> Act:
    async def act(world: DecisionWorld, token: str) -> None:
        await world.call(tool, token, **arguments)

    return act


async def held_call(world: DecisionWorld) -> str:
    """A held call's id (the call is held once, before the mark)."""
    held = await world.call("fake__delete_all", await world.bot_token(), table="payroll")
    call_id: str = held["error"]["data"]["callApproval"]["id"]
    return call_id


async def approval_pending(world: DecisionWorld) -> str:
    await held_call(world)
    return await world.bot_token()


async def approve_call(world: DecisionWorld, call_id: str) -> None:
    await world.admin(f"{paths.ADMIN_CALLS}/{call_id}/approve", {"note": "ok"})


async def deny_call(world: DecisionWorld, call_id: str) -> None:
    await world.admin(f"{paths.ADMIN_CALLS}/{call_id}/deny", {"reason": "no"})


async def approved_call(world: DecisionWorld) -> str:
    call_id = await held_call(world)
    await approve_call(world, call_id)
    return await world.bot_token()


async def denied_call(world: DecisionWorld) -> str:
    await deny_call(world, await held_call(world))
    return await world.bot_token()


# -- the gateway's own work -------------------------------------------------------------------------
async def background_failure(world: DecisionWorld, _: Any) -> None:
    """A supervised task that fails once, then waits: one restart, recorded."""
    again = anyio.Event()
    failed = False

    async def work() -> None:
        nonlocal failed
        if not failed:
            failed = True
            raise RuntimeError("the store went away")
        again.set()
        await anyio.sleep_forever()

    supervisor = Supervisor("probe", work, clock=world.gateway.clock, audit=world.gateway.audit, backoff=0)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(supervisor.run)
        await again.wait()
        tasks.cancel_scope.cancel()


ROWS = (
    Row("token client_credentials granted", client_credentials, (("token_issued", "granted"),), AGENT),
    Row("token client_credentials refused", wrong_secret, (("token_refused", "refused"),)),
    Row("token exchange granted", exchange_granted, (("token_exchange", "granted"),), AGENT, bot_token),
    Row("token exchange refused", exchange_refused, (("token_exchange", "refused"),), AGENT, bot_token),
    Row(
        "sign-in, consent, code issued",
        signed_in_and_consented,
        (("sign_in", "granted"), ("consent", "granted"), ("authorize_granted", "granted")),
        {"subject": PERSON, "via": "agent"},
    ),
    Row("sign-in refused", wrong_password, (("sign_in", "refused"),)),
    Row("consent denied", consent_denied, (("sign_in", "granted"), ("consent", "denied"))),
    Row("/authorize refused back to the client", refused_back, (("authorize_refused", "refused"),)),
    Row("/authorize refused on the page", refused_on_page, (("authorize_refused", "refused"),)),
    Row(
        "authorization_code redeemed",
        redeem,
        (("token_issued", "granted"),),
        {"client_id": DESK, "subject": PERSON},
        code,
    ),
    Row(
        "authorization code replayed: refused, and what it issued revoked",
        replay,
        (("code_replayed", "revoked"), ("token_refused", "refused")),
        {"client_id": DESK},
        redeemed_code,
    ),
    Row(
        "refresh",
        refresh,
        (("token_issued", "granted"),),
        {"client_id": DESK, "subject": PERSON},
        refresh_token,
    ),
    Row("token revocation", revocation, (("token_revoked", "revoked"),), AGENT, bot_token),
    Row(
        "revocation refused: client unauthenticated",
        revocation_unauthenticated,
        (("client_auth_refused", "refused"),),
        {},
        bot_token,
    ),
    Row(
        "introspection refused: client unauthenticated",
        introspection_unauthenticated,
        (("client_auth_refused", "refused"),),
        {},
        bot_token,
    ),
    Row(
        "revocation of another client's token",
        revocation_by_another,
        (("token_revoked", "refused"),),
        {"client_id": SEC},
        bot_token,
    ),
    Row("introspection is no decision", introspection, (), {}, bot_token),
    Row("DCR registered", register, (("client_registration", "registered"),)),
    Row("DCR refused", register_refused, (("client_registration", "refused"),)),
    Row("RFC 7592 update", update_registration, (("client_management", "updated"),), {}, registered),
    Row(
        "RFC 7592 update refused",
        update_registration_refused,
        (("client_management", "refused"),),
        {},
        registered,
    ),
    Row("RFC 7592 delete", delete_registration, (("client_management", "deleted"),), {}, registered),
    Row("access request filed", file_request, (("access_requested", "filed"),), AGENT),
    Row("access request refused", file_request_refused, (("access_requested", "refused"),)),
    Row(
        "access request approved",
        approve,
        (("access_approved", "approved"),),
        SECURITY_DESK,
        filed,
        operator=True,
    ),
    Row("access request denied", deny, (("access_denied", "denied"),), SECURITY_DESK, filed, operator=True),
    Row(
        "grant revoked", revoke_grant, (("grant_revoked", "revoked"),), SECURITY_DESK, granted, operator=True
    ),
    Row(
        "grant re-certified",
        review_grant,
        (("grant_reviewed", "recertified"),),
        SECURITY_DESK,
        granted,
        operator=True,
    ),
    Row("/mcp without a token: discovery, no decision", no_token, ()),
    Row(
        "/mcp with a forged token",
        forged_token,
        (("bearer_refused", "refused"),),
        {"via": "agent"},
        bot_token,
    ),
    Row("/mcp with a revoked token", refused_token, (("bearer_refused", "refused"),), AGENT, revoked_token),
    Row("tools/list", tools_list, (("tools_list", "listed"),), AGENT, bot_token, {"shown": 5, "hidden": 1}),
    Row(
        "tools/call forwarded",
        calling("fake__echo", city="Oslo"),
        (("tool_call", "forwarded"),),
        AGENT,
        bot_token,
        {"tool": "fake__echo", "upstream": "fake", "is_error": False},
    ),
    Row(
        "tools/call forwarded, a tool error",
        calling("fake__oops"),
        (("tool_call", "forwarded"),),
        AGENT,
        bot_token,
        {"is_error": True},
    ),
    Row(
        "tools/call upstream JSON-RPC error",
        calling("fake__broken"),
        (("tool_call", "upstream_error"),),
        AGENT,
        bot_token,
        {"error": -32603, "upstream_code": -32000},
    ),
    Row(
        "tools/call upstream failed",
        calling("fake__down"),
        (("tool_call", "upstream_error"),),
        AGENT,
        bot_token,
        {"error": -32603},
    ),
    Row(
        "tools/call refused: insufficient scope",
        calling("fake__guarded"),
        (("tool_call", "refused"),),
        AGENT,
        bot_token,
        {"tool": "fake__guarded", "error": -32003},
    ),
    Row(
        "tools/call refused: unknown tool",
        calling("fake__nothing"),
        (("tool_call", "refused"),),
        AGENT,
        bot_token,
        {"tool": "fake__nothing", "error": -32602, "upstream": None},
    ),
    Row(
        "tools/call held for approval",
        calling("fake__delete_all", table="payroll"),
        (("call_pending", "held"),),
        AGENT,
        bot_token,
    ),
    Row(
        "tools/call held again while it waits: the same held call, no new decision",
        calling("fake__delete_all", table="payroll"),
        (),
        {},
        approval_pending,
    ),
    Row(
        "held call approved",
        approve_call,
        (("call_approved", "approved"),),
        SECURITY_DESK,
        held_call,
        operator=True,
    ),
    Row("held call denied", deny_call, (("call_denied", "denied"),), SECURITY_DESK, held_call, operator=True),
    Row(
        "approved call passes and is forwarded",
        calling("fake__delete_all", table="payroll"),
        (("call_passed", "used"), ("tool_call", "forwarded")),
        AGENT,
        approved_call,
    ),
    Row(
        "denied call refused",
        calling("fake__delete_all", table="payroll"),
        (("tool_call", "refused"),),
        AGENT,
        denied_call,
        {"error": -32011},
    ),
    Row(
        "background task failure",
        background_failure,
        (("background_task", "restarted"),),
        {"via": "background"},
    ),
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DecisionWorld]:
    async with decision_world(tmp_path) as made:
        yield made


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_au4_au7_each_decision_is_exactly_one_event(world: DecisionWorld, row: Row) -> None:
    prepared = await row.prepare(world)
    mark = await world.mark()
    await row.act(world, prepared)
    recorded = await world.decisions_since(mark)
    assert [(e["type"], e["outcome"]) for e in recorded] == list(row.events)
    if row.events:
        first = recorded[0]
        assert row.actor.items() <= first["actor"].items(), first["actor"]
        assert row.fields.items() <= first["fields"].items(), first["fields"]
        if row.operator:
            before, after = first["fields"].get("before"), first["fields"].get("after")
            assert isinstance(before, dict) and isinstance(after, dict) and before != after, first["fields"]


async def test_au4_a_refusal_for_scope_that_files_a_step_up_request_is_two_decisions(tmp_path: Path) -> None:
    """With ``step_up = true`` the refused call is its ``tool_call``, and the request filed for the
    agent is ``access_requested``: one event each, never a second ``tool_call``."""
    async with decision_world(tmp_path, step_up=True) as world:
        token = await world.bot_token()
        mark = await world.mark()
        refused = await world.call("fake__guarded", token)
        assert refused["error"]["data"]["accessRequest"]["status"] == "pending"
        recorded = await world.decisions_since(mark)
    assert [(e["type"], e["outcome"]) for e in recorded] == [
        ("access_requested", "filed"),
        ("tool_call", "refused"),
    ]
