"""A gateway in the test's process whose audit trail a test reads event by event: every decision the
gateway takes through one action, and nothing else (the table of
``tests/test_audit_one_event_per_decision.py``).

The gateway runs without its lifespan, so no flusher and no discovery run behind the test's back:
the catalogue is discovered once, here, and the trail is flushed when read. Its one upstream is a
raw ASGI server (:class:`ScriptedUpstream`) whose tools each answer one way.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from starlette.types import ASGIApp, Send

from gateway import paths
from gateway.app import create_app
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.store.factory import open_store
from gateway.upstream.asgi_transport import AsgiTransport
from tests.support.browser import Person
from tests.support.fake_upstream import GARBAGE_ANSWERS, FakeUpstream
from tests.support.inprocess import GATEWAY_URL
from tests.support.mcp_requests import modern
from tests.support.raw_asgi import send_response

BOT, BOT_SECRET = "payroll-bot", "payroll-bot-secret-7d1c0a9e3f"
SEC, SEC_SECRET = "sec-desk", "sec-desk-secret-0b5e77c2a1"
UPSTREAM = "https://fake.test"
TARGET = "https://reports.example/mcp"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
TOOLS = ["echo", "oops", "broken", "down", "delete_all", "guarded"]
SERVER = {
    "id": "fake",
    "url": f"{UPSTREAM}/mcp",
    "default_scopes": ["fake"],
    "tool_scopes": {"guarded": ["vault"]},
    "call_approval": ["delete_all"],
    "audit_arguments": ["echo"],
    "audit_redact": ["ssn"],
}
DESK, CALLBACK = "desk", "http://127.0.0.1:9999/cb"
PERSON, PASSWORD = "ann", "correct horse battery staple"
POLICY = {"rules": [{"scope": "payments", "decision": "approval", "max_duration": 86400}]}
BOOKKEEPING = ("audit_signing_key", "audit_events_dropped", "upstream_discovery")
"""Events of the trail's and the catalogue's own upkeep, not decisions of an action."""


class ScriptedUpstream(FakeUpstream):
    """``echo`` answers a result, ``oops`` a tool error (``isError``), ``broken`` a JSON-RPC error,
    ``down`` an HTTP 500; every other tool answers a plain result."""

    async def answer_call(self, body: dict[str, Any], send: Send) -> bool:
        name = body["params"]["name"]
        if name == "down":
            await send_response(send, *GARBAGE_ANSWERS["http-500"])
            return True
        if name == "broken":
            answer: dict[str, Any] = {"error": {"code": -32000, "message": "the tool broke"}}
        else:
            text = json.dumps(body["params"].get("arguments", {}))
            answer = {"result": {"content": [{"type": "text", "text": text}], "isError": name == "oops"}}
        payload = json.dumps({"jsonrpc": "2.0", "id": body["id"], **answer}).encode()
        await send_response(send, 200, "application/json", payload)
        return True


def _client(client_id: str, secret: str, scopes: tuple[str, ...], **options: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "auth_method": "client_secret_basic",
        "secret_hash": hash_secret(secret),
        "scopes": scopes,
        **options,
    }


@dataclass
class DecisionWorld:
    gateway: Gateway
    http: httpx2.AsyncClient
    folder: Path
    app: ASGIApp
    admin_token: str = ""
    """The security desk's token for the admin API, taken before any row runs."""

    @property
    def issuer(self) -> str:
        return self.gateway.settings.server.issuer_id

    def endpoint(self, path: str) -> str:
        return GATEWAY_URL + path

    def person(self, password: str = PASSWORD) -> Person:
        """``ann`` at a browser of her own (its own cookies)."""
        browser = httpx2.AsyncClient(transport=httpx2.ASGITransport(self.app), follow_redirects=False)
        return Person(PERSON, password, browser)

    @property
    def mcp_url(self) -> str:
        return GATEWAY_URL + "/mcp"

    async def token(self, client: str = BOT, secret: str = BOT_SECRET, **form: str) -> httpx2.Response:
        data = {"grant_type": "client_credentials", **form}
        return await self.http.post("/token", data=data, auth=(client, secret))

    async def bot_token(self, **form: str) -> str:
        answer = await self.token(**form)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    async def call(self, tool: str, token: str | None = None, **arguments: Any) -> dict[str, Any]:
        answer = await modern(
            self.http,
            self.mcp_url,
            token or await self.bot_token(),
            "tools/call",
            {"name": tool, "arguments": arguments},
        )
        body: dict[str, Any] = answer.json()
        return body

    async def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        answer = await self.http.post(path, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        decided: dict[str, Any] = answer.json()
        return decided

    async def file_request(self, scope: str = "payments") -> str:
        answer = await self.http.post(
            paths.ACCESS_REQUESTS,
            data={"scope": scope, "justification": "month-end payroll"},
            auth=(BOT, BOT_SECRET),
        )
        assert answer.status_code == 201, answer.text
        request_id: str = answer.json()["request_id"]
        return request_id

    async def mark(self) -> int:
        """Where the trail ends now."""
        await self.gateway.audit_trail.flush()
        return (await self.gateway.audit_trail.store.head()).seq

    async def decisions_since(self, mark: int) -> list[dict[str, Any]]:
        """Every event recorded after ``mark``, but the trail's own upkeep."""
        await self.gateway.audit_trail.flush()
        stored = await self.gateway.audit_trail.store.read(after=mark, limit=10_000)
        events = [json.loads(s.body) for s in stored]
        return [e for e in events if e["type"] not in BOOKKEEPING]


@contextlib.asynccontextmanager
async def decision_world(folder: Path, *, step_up: bool = False) -> AsyncIterator[DecisionWorld]:
    """``step_up``: a call refused for a missing scope files an access request (AP-3)."""
    settings = settings_from(
        public_url=GATEWAY_URL,
        store=f"sqlite:///{folder / 'gw.sqlite3'}",
        servers=(SERVER,),
        targets=({"audience": TARGET, "scopes": ("fake",)},),
        approvals={**POLICY, "step_up": step_up},
        dcr_allowed_scopes=("fake",),
        clients=(
            _client(
                BOT,
                BOT_SECRET,
                ("fake",),
                grant_types=("client_credentials", EXCHANGE),
                audiences=(GATEWAY_URL + "/mcp", TARGET),
            ),
            {
                "client_id": DESK,
                "auth_method": "none",
                "scopes": ("fake",),
                "audiences": (GATEWAY_URL + "/mcp",),
                "grant_types": ("authorization_code", "refresh_token"),
                "redirect_uris": (CALLBACK,),
            },
            _client(SEC, SEC_SECRET, ("admin:security-admin",), audiences=(GATEWAY_URL + paths.ADMIN_API,)),
        ),
    )
    transport = AsgiTransport({UPSTREAM: ScriptedUpstream(tool_names=TOOLS)})
    gateway = build_gateway(settings, open_store(settings.server.store), transport=transport)
    await gateway.keys.ensure_keys()
    await gateway.users.add(PERSON, PASSWORD)
    await gateway.refresher.refresh_now(None)
    assert gateway.catalog.lookup("fake__echo") is not None, "the upstream's tools were discovered"
    app = create_app(gateway)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url=GATEWAY_URL) as http:
        world = DecisionWorld(gateway, http, folder, app)
        admin = await world.token(SEC, SEC_SECRET, resource=GATEWAY_URL + paths.ADMIN_API)
        world.admin_token = admin.json()["access_token"]
        yield world
    await gateway.aclose()
