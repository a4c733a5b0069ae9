"""private_key_jwt clients whose keys are published at a ``jwks_uri`` (CA-6, RG-2 fetch rules).

A small local HTTP server publishes the agent's JWKS on loopback. Loopback is a private address,
so the gateway fetches from it only when ``fetch_allowed_private_hosts`` names it; by default the
client is refused with ``invalid_client`` and the server sees no connection at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, assertion_form
from tests.support.gateway_server import running_gateway
from tests.support.http_clients import blocking_http_client
from tests.support.http_server import LoopbackServer, serving

AGENT = "uri-agent"


@dataclass
class JwksServer:
    port: int
    connections: list[tuple[str, int]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/jwks.json"


@contextlib.contextmanager
def jwks_server(jwks: dict[str, Any]) -> Iterator[JwksServer]:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.requests.append(self.path)
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = LoopbackServer(Handler, None)
    record = JwksServer(httpd.port, httpd.connections)  # every accepted TCP connection
    with serving(httpd):
        yield record


@pytest.fixture
def agent_key() -> AgentKey:
    return AgentKey()


@pytest.fixture
def served(agent_key: AgentKey) -> Iterator[JwksServer]:
    with jwks_server(agent_key.jwks) as server:
        yield server


def request_token(settings: Any, agent_key: AgentKey) -> httpx.Response:
    with running_gateway(settings) as gateway, blocking_http_client(gateway.url) as http:
        return http.post("/token", data=assertion_form(agent_key.assertion(AGENT, gateway.issuer)))


def gateway_settings(jwks_uri: str, **extra: Any) -> Any:
    def make(port: int) -> Settings:
        return settings_from(
            port=port,
            store="memory://",
            clients=({"client_id": AGENT, "scopes": ("tools:read",), "jwks_uri": jwks_uri},),
            **extra,
        )

    return make


def test_a_client_with_an_allow_listed_loopback_jwks_uri_gets_a_token(
    served: JwksServer, agent_key: AgentKey
) -> None:
    settings = gateway_settings(served.url(), fetch_allowed_private_hosts=(f"127.0.0.1:{served.port}",))
    response = request_token(settings, agent_key)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert served.requests == ["/jwks.json"]
    assert len(served.connections) == 1


def test_an_allow_list_entry_for_the_host_without_a_port_also_allows_it(
    served: JwksServer, agent_key: AgentKey
) -> None:
    response = request_token(
        gateway_settings(served.url(), fetch_allowed_private_hosts=("127.0.0.1",)), agent_key
    )
    assert response.status_code == 200, response.text


def test_the_fetched_keys_are_the_only_keys_accepted(served: JwksServer, agent_key: AgentKey) -> None:
    settings = gateway_settings(served.url(), fetch_allowed_private_hosts=(f"127.0.0.1:{served.port}",))
    response = request_token(settings, AgentKey())  # a key the jwks_uri does not publish
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_by_default_a_loopback_jwks_uri_is_refused_without_a_connection(
    served: JwksServer, agent_key: AgentKey, scheme: str
) -> None:
    response = request_token(gateway_settings(served.url(scheme)), agent_key)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert served.connections == []
    assert served.requests == []


def test_localhost_by_name_is_refused_without_a_connection(served: JwksServer, agent_key: AgentKey) -> None:
    response = request_token(gateway_settings(served.url("https", "localhost")), agent_key)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert served.connections == []


def test_an_allow_list_entry_for_another_port_does_not_allow_this_one(
    served: JwksServer, agent_key: AgentKey
) -> None:
    other_port = served.port + 1 if served.port < 65535 else served.port - 1
    settings = gateway_settings(served.url(), fetch_allowed_private_hosts=(f"127.0.0.1:{other_port}",))
    response = request_token(settings, agent_key)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert served.connections == []
