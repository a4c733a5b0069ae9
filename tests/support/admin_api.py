"""The admin API's approval loop as tests drive it: operators with role tokens, agents filing access
requests at ``POST /access-requests``, and a clock the test may move on.

An operator is a ``private_key_jwt`` client allowed the admin API's audience (and the MCP
endpoint's, so it can file a request of its own); its token comes from the gateway's ``/token``
and is kept for the module (admin tokens live five minutes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

from gateway import paths
from tests.support.agents import JWT_BEARER, AgentKey, AuthorizationServer, agent_token


class ShiftedClock:
    """Real time, moved on by the test: tokens and client assertions made with the real time stay
    acceptable (a :class:`~gateway.clock.FrozenClock` would see them come from the future)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def operator_client(client_id: str, key: AgentKey, scope: str, port: int) -> dict[str, Any]:
    """A client holding an admin role ``scope``, allowed the admin API and the MCP endpoint."""
    base = f"http://127.0.0.1:{port}"
    return {
        "client_id": client_id,
        "scopes": (scope,),
        "audiences": (base + paths.ADMIN_API, base + "/mcp"),
        "jwks": key.jwks,
    }


@dataclass
class Operators:
    """The admin API of one running gateway, called as each of its operator clients."""

    gateway: AuthorizationServer
    keys: dict[str, AgentKey]
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, http: httpx2.AsyncClient, caller: str) -> str:
        if caller not in self.tokens:
            resource = self.gateway.endpoint(paths.ADMIN_API)
            self.tokens[caller] = await agent_token(
                http, self.gateway, self.keys[caller], caller, resource=resource
            )
        return self.tokens[caller]

    async def get(self, http: httpx2.AsyncClient, caller: str, path: str, **params: str) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {await self.token(http, caller)}"}
        return await http.get(self.gateway.endpoint(path), params=params or None, headers=headers)

    async def post(
        self, http: httpx2.AsyncClient, caller: str, path: str, body: Any = None, **options: Any
    ) -> httpx2.Response:
        """POST ``body`` as JSON (None: no body); ``options`` go to httpx2 (``content``, ``headers``)."""
        headers = {"Authorization": f"Bearer {await self.token(http, caller)}", **options.pop("headers", {})}
        if body is not None:
            options["json"] = body
        return await http.post(self.gateway.endpoint(path), headers=headers, **options)

    async def read(self, http: httpx2.AsyncClient, caller: str, path: str, **params: str) -> Any:
        response = await self.get(http, caller, path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def decide(self, http: httpx2.AsyncClient, caller: str, path: str, body: Any = None) -> Any:
        response = await self.post(http, caller, path, body)
        assert response.status_code == 200, response.text
        return response.json()


async def file_access_request(
    http: httpx2.AsyncClient,
    gateway: AuthorizationServer,
    key: AgentKey,
    client_id: str,
    scope: str,
    *,
    justification: str = "needed for the test",
    duration: int | None = None,
) -> str:
    """File a request as the agent itself does (AP-3); the new request's id."""
    form = {
        "client_assertion_type": JWT_BEARER,
        "client_assertion": key.assertion(client_id, gateway.issuer),
        "scope": scope,
        "justification": justification,
    }
    if duration is not None:
        form["duration"] = str(duration)
    response = await http.post(gateway.endpoint(paths.ACCESS_REQUESTS), data=form)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["request_id"]
    return request_id


def request_path(request_id: str, action: str = "") -> str:
    return f"{paths.ADMIN_ACCESS_REQUESTS}/{request_id}" + (f"/{action}" if action else "")


def grant_path(grant_id: str, action: str = "") -> str:
    return f"{paths.ADMIN_GRANTS}/{grant_id}" + (f"/{action}" if action else "")
