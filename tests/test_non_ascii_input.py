"""Input outside ASCII never breaks a comparison of secrets or principals (rule book CO-7, PR-7).

A CSRF value, a client id or a refresh token may carry any character a request can: comparing it
in constant time must still answer "equal" or "not equal", never raise (which would be a 500, or
a client that can never hold a session). The gateway runs in process (no socket).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from gateway.config import settings_from
from gateway.constant_time import same
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.agents import AgentKey, agent_token
from tests.support.authorization_code import PublicClient
from tests.support.browser import form_fields
from tests.support.inprocess import GATEWAY_URL, InProcessGateway, in_process_gateway
from tests.support.mcp_requests import in_session, initialize

pytestmark = pytest.mark.anyio

ACCENTED_AGENT = "agënt-ñ"
DESK = PublicClient("desk", "http://127.0.0.1:9999/cb", "tools:read", "st")


@pytest.fixture(scope="module")
def key() -> AgentKey:
    return AgentKey()


@pytest.fixture(scope="module")
async def gateway(key: AgentKey) -> AsyncIterator[InProcessGateway]:
    settings = settings_from(
        public_url=GATEWAY_URL,
        store="memory://",
        clients=(
            {"client_id": ACCENTED_AGENT, "scopes": ("tools:read",), "jwks": key.jwks},
            {
                "client_id": DESK.client_id,
                "auth_method": "none",
                "scopes": ("tools:read",),
                "grant_types": ("authorization_code",),
                "redirect_uris": (DESK.redirect_uri,),
            },
        ),
    )
    gateway = in_process_gateway(settings, AsgiTransport({}))
    async with lifespan(gateway.app):
        yield gateway


@pytest.fixture
async def http(gateway: InProcessGateway) -> AsyncIterator[httpx2.AsyncClient]:
    async with gateway.client() as client:
        yield client


def test_secrets_compare_equal_and_unequal_whatever_their_characters() -> None:
    assert same("ñ-é", "ñ-é") and not same("ñ-é", "n-e") and not same("\udce9", "é")


async def test_co7_a_csrf_value_outside_ascii_is_refused_not_a_server_error(
    gateway: InProcessGateway, http: httpx2.AsyncClient
) -> None:
    page = await http.get(DESK.authorize_url(gateway))
    assert page.status_code == 200, page.text
    action, hidden, _ = form_fields(page.text)
    forged = {**hidden, "csrf": "ÿ" * len(hidden["csrf"]), "username": "x", "password": "y"}
    response = await http.post(gateway.endpoint(action), data=forged)
    assert response.status_code == 403, response.text
    assert "expired or was not issued to this browser" in response.text


async def test_pr7_a_client_whose_id_is_not_ascii_holds_its_mcp_session(
    gateway: InProcessGateway, http: httpx2.AsyncClient, key: AgentKey
) -> None:
    token = await agent_token(http, gateway, key, ACCENTED_AGENT)
    mcp = gateway.settings.mcp.resource
    session_id = await initialize(http, mcp, token)
    listed = await in_session(http, mcp, token, session_id, "tools/list")
    assert listed.status_code == 200, listed.text
    assert listed.json()["result"]["tools"] == []
