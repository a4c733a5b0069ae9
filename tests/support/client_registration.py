"""The registration tests' gateway, the documents clients publish, and the client's side of both.

Five modules (dynamic registration, registration management, Client ID Metadata Documents, their
fetch rules, the SDK) test on one shape of gateway: registration open (no rate limit to speak of),
Client ID Metadata Documents on, the stand-in protected resource mounted, and a real
:class:`~gateway.fetching.fetcher.DocumentFetcher` whose allow-list names only the loopback
document server. Its resolver seam (:class:`~tests.support.fetch_probes.TableResolver`) maps two
test hostnames to 127.0.0.1 *without* an allow-list entry, so the SSRF rules are proven on the real
fetcher, and a :class:`~tests.support.fetch_probes.Listener` proves a refused fetch connected
nowhere.

The modules get the ``world`` and ``person`` fixtures by naming this module in their
``pytest_plugins``; each still says itself where ``http`` goes (its ``base_url`` fixture).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.settings import Settings
from gateway.store.factory import open_store
from tests.support.agents import JWT_BEARER, AgentKey
from tests.support.authorization_code import PublicClient, new_verifier
from tests.support.browser import Outcome, Person
from tests.support.fetch_probes import Listener, TableResolver
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_server import Documents, LoopbackServer, serving_documents
from tests.support.protected_resource import with_protected_resource
from tests.support.users import signed_up

SCOPES = ("tools:read", "tools:call")
DESCRIPTIONS = {"tools:read": "See which tools exist", "tools:call": "Run tools on your behalf"}
CB = "http://127.0.0.1:9999/cb"
PRIVATE_CIMD_HOST = "cimd.internal.test"
PRIVATE_JWKS_HOST = "jwks.internal.test"
STATE = "st-1"


# -- the gateway -------------------------------------------------------------------------------------


@dataclass
class World:
    """The gateway, the server of the documents clients publish, and the SSRF probes."""

    gateway: RunningGateway
    documents: LoopbackServer[Documents]
    listener: Listener
    resolver: TableResolver

    @property
    def store_url(self) -> str:
        return self.gateway.settings.server.store


def build_with(fetcher: DocumentFetcher, clock: Any = None) -> Callable[[Settings], Gateway]:
    """``running_gateway``'s ``build``: the gateway with this fetcher (and clock, if given), for
    ``jwks_uri`` and metadata documents alike: the documents are served from loopback, which the
    gateway's own metadata fetcher would never reach (RG-3; tests of that rule build without this)."""

    def build(settings: Settings) -> Gateway:
        store = open_store(settings.server.store)
        return build_gateway(settings, store, clock=clock, fetcher=fetcher, metadata_fetcher=fetcher)

    return build


@contextlib.contextmanager
def registration_world(store: str) -> Iterator[World]:
    """The gateway on ``store``, with the document server and the probes, for the block."""
    listener = Listener()
    resolver = TableResolver({PRIVATE_CIMD_HOST: ["127.0.0.1"], PRIVATE_JWKS_HOST: ["127.0.0.1"]})
    try:
        with serving_documents() as documents:
            allowed = (f"127.0.0.1:{documents.port}",)
            policy = FetchPolicy(allowed_private_hosts=frozenset(allowed))
            fetcher = DocumentFetcher(policy, resolver=resolver)

            def settings(port: int) -> Settings:
                return settings_from(
                    port=port,
                    store=store,
                    scope_descriptions=DESCRIPTIONS,
                    dcr_allowed_scopes=tuple(DESCRIPTIONS),  # what self-registered clients may hold
                    fetch_allowed_private_hosts=allowed,
                    dcr_rate_limit_per_minute=100_000,
                )

            build = build_with(fetcher)
            with running_gateway(settings, build=build, wrap=with_protected_resource) as gateway:
                yield World(gateway, documents, listener, resolver)
    finally:
        listener.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One registration gateway per module, on a SQLite file of its own."""
    with registration_world(f"sqlite:///{tmp_path_factory.mktemp('registration') / 'gw.sqlite3'}") as running:
        yield running


@pytest.fixture
async def person(world: World) -> AsyncIterator[Person]:
    """A new user of the gateway, and their browser."""
    async with signed_up(world.store_url) as signed_in:
        yield signed_in


# -- the client's side ---------------------------------------------------------------------------------


def authorize_url(
    gw: RunningGateway, client_id: str, redirect_uri: str = CB, **params: str
) -> tuple[str, str]:
    """``/authorize`` for ``client_id`` with a fresh verifier; (the URL, the verifier)."""
    verifier = new_verifier()
    client = PublicClient(client_id, redirect_uri, " ".join(SCOPES), STATE)
    return client.authorize_url(gw, verifier, **params), verifier


async def register(http: httpx2.AsyncClient, **metadata: Any) -> httpx2.Response:
    body = {"redirect_uris": [CB], "token_endpoint_auth_method": "none", **metadata}
    return await http.post("/register", json={k: v for k, v in body.items() if v is not None})


async def registered(http: httpx2.AsyncClient, **metadata: Any) -> dict[str, Any]:
    response = await register(http, **metadata)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def relative(uri: str) -> str:
    return urlsplit(uri).path


async def records(store_url: str, collection: str) -> dict[str, str]:
    store = open_store(store_url)
    try:
        return await store.list_records(collection)
    finally:
        await store.close()


def unissued_code_form(**client_authentication: str) -> dict[str, str]:
    """A code redemption whose code was never issued: the gateway answers ``invalid_grant`` once the
    client has authenticated (with ``client_authentication``), ``invalid_client`` before."""
    return {
        "grant_type": "authorization_code",
        "code": "x",
        "redirect_uri": CB,
        "code_verifier": "v" * 43,
        **client_authentication,
    }


def signed_by(key: AgentKey, client_id: str, issuer: str) -> dict[str, str]:
    """``private_key_jwt`` client authentication: an assertion ``key`` signs for ``client_id``."""
    return {"client_assertion_type": JWT_BEARER, "client_assertion": key.assertion(client_id, issuer)}


def cimd_document(client_id: str | None, **members: Any) -> dict[str, Any]:
    document = {
        "client_id": client_id,
        "client_name": "Notes Agent",
        "redirect_uris": [CB],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **members,
    }
    return {k: v for k, v in document.items() if v is not None}


def publish(world: World, document_factory: Callable[[str], dict[str, Any]], **headers: str) -> str:
    """Serve a new document at a fresh path; returns its URL (= the client id)."""
    path = f"/clients/{secrets.token_hex(6)}.json"
    url = world.documents.url(path)
    world.documents.state.publish(path, document_factory(url), **headers)
    return url


async def run_flow(gw: RunningGateway, person: Person, client_id: str) -> tuple[Outcome, str]:
    url, verifier = authorize_url(gw, client_id)
    outcome = await person.authorize(url)
    assert outcome.code, (outcome.status, outcome.location, outcome.page[:500])
    assert outcome.params["iss"] == gw.issuer and outcome.params["state"] == STATE
    return outcome, verifier
