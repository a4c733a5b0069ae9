"""The audit trail inside the gateway (AU-1, AU-3): a token issued at ``/token`` is in the trail before
its answer, the approval desks' decisions too; an outage of the trail refuses them (``fail_closed``)
or keeps their events in memory (``buffer``); no token or secret ever reaches an event; the faces say
how a request came in. The gateway runs in process without its lifespan, so no flusher runs: what
the trail holds right after an answer was written by the answer itself."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway import paths
from gateway.app import AUDIT_CHANNELS, create_app
from gateway.approvals.decisions import Principal
from gateway.audit import AuditLog
from gateway.audit.channels import AuditChannel
from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.store import AuditFilter, AuditUnavailable
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.store.memory import MemoryStore
from gateway.upstream.asgi_transport import AsgiTransport
from tests.support.audit import START, SwitchableStore
from tests.support.inprocess import GATEWAY_URL

pytestmark = pytest.mark.anyio

BOT, SECRET = "payroll-bot", "payroll-bot-secret-7d1c0a9e"
PAYMENTS = ("payments",)
ADMIN = Principal("sec", ("security-admin",))
POLICY = {"rules": [{"scope": "payments", "decision": "approval", "max_duration": 86400}]}


@dataclass
class World:
    gateway: Gateway
    trail: SwitchableStore
    http: httpx2.AsyncClient

    async def token(self, **form: str) -> httpx2.Response:
        data = {"grant_type": "client_credentials", **form}
        return await self.http.post("/token", data=data, auth=(BOT, SECRET))

    async def events(self, *types: str) -> list[dict[str, Any]]:
        stored = await self.trail.read(limit=10_000, filters=AuditFilter(types=types))
        return [json.loads(s.body) for s in stored]


async def world_with(tmp_path: Path, policy: str) -> AsyncIterator[World]:
    clock = FrozenClock(START)
    settings = settings_from(
        public_url=GATEWAY_URL,
        store="memory://",
        audit_when_unavailable=policy,
        approvals=POLICY,
        clients=(
            {
                "client_id": BOT,
                "auth_method": "client_secret_basic",
                "secret_hash": hash_secret(SECRET),
                "scopes": ("tools:read",),
                "grant_types": ("client_credentials",),
            },
        ),
    )
    trail = SwitchableStore(SQLiteAuditStore(str(tmp_path / "trail.audit.sqlite3")))
    gateway = build_gateway(
        settings, MemoryStore(clock), clock=clock, transport=AsgiTransport({}), audit_store=trail
    )
    transport = httpx2.ASGITransport(create_app(gateway))
    async with httpx2.AsyncClient(transport=transport, base_url=GATEWAY_URL) as http:
        yield World(gateway, trail, http)
    await trail.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in world_with(tmp_path, "fail_closed"):
        yield made


@pytest.fixture
async def buffering(tmp_path: Path) -> AsyncIterator[World]:
    async for made in world_with(tmp_path, "buffer"):
        yield made


async def test_au3_a_token_issued_at_the_token_endpoint_is_in_the_trail_before_the_answer(
    world: World,
) -> None:
    answer = await world.token(scope="tools:read")
    assert answer.status_code == 200, answer.text
    claims = json.loads(base64.urlsafe_b64decode(answer.json()["access_token"].split(".")[1] + "=="))
    [issued] = await world.events("token_issued")  # read at once: no flusher runs in this gateway
    assert issued["fields"]["jti"] == claims["jti"] and issued["outcome"] == "granted"
    assert issued["actor"] == {"client_id": BOT, "subject": BOT, "via": "agent"}
    assert world.gateway.audit_trail.buffered == 0


async def test_au3_fail_closed_a_token_is_refused_while_the_trail_is_down(world: World) -> None:
    world.trail.down = True
    answer = await world.token(scope="tools:read")
    assert answer.status_code == 503 and "access_token" not in answer.text
    assert answer.json()["error"] == "temporarily_unavailable"
    world.trail.down = False
    await world.gateway.audit_trail.flush()
    assert len(await world.events("token_issued")) == 1, "the trail holds the token that never left"


async def test_au3_buffer_a_token_is_issued_while_the_trail_is_down_and_recorded_when_it_is_back(
    buffering: World,
) -> None:
    buffering.trail.down = True
    answer = await buffering.token(scope="tools:read")
    assert answer.status_code == 200
    assert buffering.gateway.audit_trail.buffered == 1
    buffering.trail.down = False
    await buffering.gateway.audit_trail.flush()
    assert len(await buffering.events("token_issued")) == 1


async def test_au3_the_approval_desks_decisions_are_in_the_trail_before_they_return(world: World) -> None:
    desks = world.gateway.approvals
    with world.gateway.audit.entered_via("console"):
        filed = await desks.requests.file(
            client_id=BOT, scopes=("payments",), origin="agent", justification="payroll"
        )
        approved = await desks.requests.approve(filed.request_id, ADMIN)
        assert approved.grant_id is not None
        await desks.grants.revoke(approved.grant_id, ADMIN, "no longer needed")
    trail = await world.events("access_requested", "access_approved", "grant_revoked")
    assert [(e["type"], e["actor"].get("subject"), e["actor"]["via"]) for e in trail] == [
        ("access_requested", None, "console"),
        ("access_approved", "sec", "console"),
        ("grant_revoked", "sec", "console"),
    ]
    second = await desks.requests.file(
        client_id=BOT, scopes=("payments",), origin="agent", justification="payroll"
    )
    world.trail.down = True
    with pytest.raises(AuditUnavailable):  # fail_closed: the decision is not given without its record
        await desks.requests.deny(second.request_id, ADMIN, "not now")


async def test_au1_no_token_or_secret_reaches_an_event_or_a_log_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    token = (await world.token(scope="tools:read")).json()["access_token"]
    await world.http.post("/introspect", data={"token": token}, auth=(BOT, SECRET))
    await world.http.post("/token", data={"grant_type": "client_credentials"}, auth=(BOT, "wrong-" + SECRET))
    await world.http.post(
        "/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "audience": "https://elsewhere.example",
        },
        auth=(BOT, SECRET),
    )
    await world.http.post("/revoke", data={"token": token}, auth=(BOT, SECRET))
    await world.gateway.audit_trail.flush()
    bodies = [s.body for s in await world.trail.read(limit=10_000)]
    assert {json.loads(b)["type"] for b in bodies} >= {"token_issued", "token_refused", "token_revoked"}
    for text in ("\n".join(bodies), caplog.text):
        assert token not in text and token.split(".")[1] not in text and SECRET not in text


async def test_au1_each_face_enters_its_channel() -> None:
    """The middleware the app puts in front of every route: the admin API, the console, else agents."""
    audit = AuditLog()
    heard: list[str | None] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        heard.append(audit.channel)
        return PlainTextResponse("ok")

    app = AuditChannel(
        Starlette(routes=[Route("/{path:path}", endpoint)]), audit=audit, channels=AUDIT_CHANNELS
    )
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url=GATEWAY_URL) as http:
        for path in (paths.ADMIN_HEALTH, paths.CONSOLE + "/requests", "/token", "/mcp", "/administrator"):
            await http.get(path)
    assert heard == ["admin-api", "console", "agent", "agent", "agent"]
