"""Where access requests come from besides the agent itself (AP-3): a registration that asks for
more than policy grants at once. The gateway runs in process (no socket: the socket is not the
point here)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from gateway.config import settings_from
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.inprocess import InProcessGateway, in_process_gateway

pytestmark = pytest.mark.anyio

CB = "http://127.0.0.1:9999/cb"


@pytest.fixture
async def gateway() -> AsyncIterator[InProcessGateway]:
    settings = settings_from(
        store="memory://",
        dcr_allowed_scopes=("weather:get_forecast",),
        approvals={
            "rules": [{"scope": "tickets", "max_duration": 3600}, {"scope": "root", "decision": "never"}]
        },
    )
    running = in_process_gateway(settings, AsgiTransport({}))
    async with lifespan(running.app):
        yield running


async def register(gateway: InProcessGateway, scope: str) -> dict[str, object]:
    async with httpx2.AsyncClient(
        transport=gateway.transport(), base_url=gateway.settings.server.base_url
    ) as http:
        metadata = {"redirect_uris": [CB], "token_endpoint_auth_method": "none", "scope": scope}
        response = await http.post("/register", json=metadata)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_ap3_a_registration_asking_for_approvable_scopes_files_one_request_for_them(
    gateway: InProcessGateway,
) -> None:
    client = await register(gateway, "weather:get_forecast tickets:write openid root:shell")
    assert client["scope"] == "weather:get_forecast", "the registration holds what policy grants at once"
    filed = await gateway.gateway.approvals.requests.list()
    assert [(r.client_id, r.scopes, r.origin, r.status) for r in filed] == [
        (client["client_id"], ("tickets:write",), "registration", "pending")
    ], "only what a rule names as approvable: not openid (no rule), not root (never)"


async def test_ap3_a_registration_asking_only_for_what_it_gets_files_nothing(
    gateway: InProcessGateway,
) -> None:
    await register(gateway, "weather:get_forecast openid email profile")
    assert await gateway.gateway.approvals.requests.list() == []
