"""The official MCP conformance suite's ``authorization`` command against a running gateway.

Needs ``make conformance-deps`` (``make test`` runs it); without it these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
import pytest

from gateway.config import settings_from
from gateway.settings import Settings
from tests.support.browser import Outcome, Person
from tests.support.conformance import run_authorization_scenario, start_authorization_suite
from tests.support.gateway_server import running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.ports import free_port
from tests.support.users import add_user

pytestmark = pytest.mark.conformance

SUITE_CLIENT = "conformance-public-client"
USER, PASSWORD = "alice", "correct horse battery"


def test_conformance_authorization_server_metadata_endpoint_passes() -> None:
    with running_gateway(lambda port: settings_from(port=port, store="memory://")) as gateway:
        result = run_authorization_scenario(gateway.issuer, "authorization-server-metadata-endpoint")

    report = result.summary()
    passed = result.passed
    assert passed, f"the conformance suite failed:\n{report}"
    assert result.check("authorization-server-metadata")["status"] == "SUCCESS", report


async def play_the_browser(authorize_url: str, callback: str) -> Outcome:
    """Sign in and consent, stop at the redirect to the suite's callback, then deliver it there."""
    person = Person(USER, PASSWORD)
    try:
        outcome = await person.authorize(authorize_url, redirect_prefix=callback)
    finally:
        await person.aclose()
    assert outcome.location is not None and outcome.location.startswith(callback + "?"), outcome
    async with httpx2.AsyncClient(trust_env=False, timeout=10) as http:
        delivered = await http.get(outcome.location)
    assert delivered.status_code == 200, delivered.text
    return outcome


@pytest.mark.parametrize("with_resource", [False, True], ids=["no-resource", "resource"])
def test_conformance_authorization_code_grant_passes_for_a_public_client(
    tmp_path: Path, with_resource: bool
) -> None:
    """The suite's ``authorization-code-grant``: it prints an authorize URL (PKCE S256, no scope,
    ``resource`` when given), a person signs in and consents, the code comes back to the suite's
    callback with ``state`` and ``iss``; the suite checks ``iss`` against the metadata's issuer,
    redeems the code as a public client and checks the token response."""
    store_url = f"sqlite:///{tmp_path / 'gw.sqlite3'}"
    asyncio.run(add_user(store_url, USER, PASSWORD))
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"

    def settings(gateway_port: int) -> Settings:
        return settings_from(
            port=gateway_port,
            store=store_url,
            key_encryption_key=SHARED_STORE_KEK,
            clients=(
                {
                    "client_id": SUITE_CLIENT,
                    "auth_method": "none",
                    "scopes": ("tools:read", "tools:call"),
                    "grant_types": ("authorization_code", "refresh_token"),
                    "redirect_uris": (callback,),
                },
            ),
        )

    with running_gateway(settings) as gateway:
        extra = ("--resource", gateway.settings.mcp.resource) if with_resource else ()
        with start_authorization_suite(gateway.issuer, SUITE_CLIENT, port, *extra) as suite:
            authorize_url = suite.authorize_url()
            assert authorize_url.startswith(gateway.endpoint("/authorize") + "?")
            outcome = asyncio.run(play_the_browser(authorize_url, suite.callback))
            run, results = suite.results()

    assert outcome.params["iss"] == gateway.issuer and outcome.code
    report = "\n".join(result.summary() for result in results.values()) or run.output
    assert set(results) == {"authorization-server-metadata-endpoint", "authorization-code-grant"}, report
    grant = results["authorization-code-grant"]
    assert grant.passed, f"the conformance suite failed:\n{report}"
    assert grant.check("authorization-code-grant")["status"] == "SUCCESS", report
    assert results["authorization-server-metadata-endpoint"].passed, report
    details = grant.check("authorization-code-grant")["details"]
    assert details["authorizationResponseUrl"] == outcome.location
    assert details["body"]["token_type"] == "Bearer"
    assert details["body"]["scope"] == "tools:read tools:call"
