"""The code flow's rule tests' client, ``desk``, and the gateway it is registered on.

``desk`` is a public client (``auth_method = "none"``, PKCE S256) with a loopback redirect URI;
``desk-two`` is a second one, for the rules that bind codes and refresh tokens to their client;
``web-app`` has an https redirect URI. The gateway also serves a second resource (``WEATHER``), for
the resource-indicator rules. The helpers run the flow as the client does: a person authorizes,
the client redeems the code, refreshes, introspects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.store.factory import open_store
from tests.support.authorization_code import PublicClient, new_verifier
from tests.support.browser import Person
from tests.support.gateway_server import RunningGateway
from tests.support.kek import SHARED_STORE_KEK

DESK = "desk"
DESK_NAME = "Desk Assistant"
OTHER = "desk-two"
OTHER_NAME = "Second Desk"
WEB = "web-app"
CB = "http://127.0.0.1:9999/cb"
WEB_CB = "https://app.example/cb"
WEATHER = "https://tools.example/weather"
SCOPES = ("tools:read", "tools:call")
DESCRIPTIONS = {
    "tools:read": "See which tools exist & read what they return",
    "tools:call": "Run tools on your behalf",
}
STATE = "st-8f2c"
CODE_GRANTS = ("authorization_code", "refresh_token")
DESK_CLIENT = PublicClient(DESK, CB, " ".join(SCOPES), STATE)


def settings_for(store: str, **overrides: Any) -> Callable[[int], Settings]:
    """The gateway's settings on ``store``: the three clients, the second resource, ``overrides``."""

    def make(port: int) -> Settings:
        mcp = f"http://127.0.0.1:{port}/mcp"
        return settings_from(
            port=port,
            store=store,
            key_encryption_key=SHARED_STORE_KEK,
            resources=(WEATHER,),
            scope_descriptions=DESCRIPTIONS,
            approvals={"rules": [{"scope": "admin", "decision": "never"}]},  # never for an agent
            clients=(
                {
                    "client_id": DESK,
                    "name": DESK_NAME,
                    "auth_method": "none",
                    "scopes": SCOPES,
                    "audiences": (mcp, WEATHER),
                    "grant_types": CODE_GRANTS,
                    "redirect_uris": (CB,),
                },
                {
                    "client_id": OTHER,
                    "name": OTHER_NAME,
                    "auth_method": "none",
                    "scopes": SCOPES,
                    "audiences": (mcp, WEATHER),
                    "grant_types": CODE_GRANTS,
                    "redirect_uris": (CB,),
                },
                {
                    "client_id": WEB,
                    "name": "Web App",
                    "auth_method": "none",
                    "scopes": SCOPES,
                    "grant_types": CODE_GRANTS,
                    "redirect_uris": (WEB_CB,),
                },
            ),
            **overrides,
        )

    return make


def on_clock(clock: FrozenClock) -> Callable[[Settings], Gateway]:
    """Builds the gateway, and the store it keeps codes and refresh tokens in, on ``clock``: a test
    lets a lifetime pass by advancing it instead of waiting."""
    return lambda settings: build_gateway(settings, open_store(settings.server.store, clock), clock=clock)


def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file of its own for one gateway."""
    return f"sqlite:///{tmp_path_factory.mktemp('authz') / 'gw.sqlite3'}"


def authorize_url(gw: RunningGateway, **params: str | None) -> str:
    """The desk's ``/authorize`` URL, with a fresh verifier; a parameter given as ``None`` is left out."""
    return DESK_CLIENT.authorize_url(gw, **params)


async def authorized(
    gw: RunningGateway, person: Person, *, verifier: str | None = None, **params: str | None
) -> tuple[str, str]:
    """Run the flow to the end with consent; (code, verifier)."""
    verifier = verifier or new_verifier()
    outcome = await person.authorize(DESK_CLIENT.authorize_url(gw, verifier, **params))
    assert outcome.code, (outcome.status, outcome.location, outcome.page[:500])
    assert outcome.params["iss"] == gw.issuer and outcome.params["state"] == STATE
    return outcome.code, verifier


async def redeem(
    http: httpx2.AsyncClient,
    code: str,
    verifier: str | None,
    *,
    client_id: str = DESK,
    redirect_uri: str | None = CB,
    **extra: str,
) -> httpx2.Response:
    """The client redeems ``code`` at ``/token``; ``None`` leaves out the verifier or redirect URI."""
    form = DESK_CLIENT.redemption_form(
        code, verifier, client_id=client_id, redirect_uri=redirect_uri, **extra
    )
    return await http.post("/token", data=form)


async def tokens_for(
    gw: RunningGateway, http: httpx2.AsyncClient, person: Person, **params: str | None
) -> dict[str, Any]:
    """The token response of a whole flow: the person consents, the client redeems the code."""
    code, verifier = await authorized(gw, person, **params)
    resource = params.get("resource")
    response = await redeem(http, code, verifier, **({"resource": resource} if resource else {}))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(
    http: httpx2.AsyncClient, refresh_token: str, *, client_id: str = DESK, **extra: str
) -> httpx2.Response:
    """The client uses ``refresh_token``; ``extra`` adds form parameters (``scope``, ``resource``)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, **extra}
    return await http.post("/token", data=form)


async def introspect(http: httpx2.AsyncClient, token: str, *, client_id: str = DESK) -> dict[str, Any]:
    """A public client authenticates at /introspect with its client_id alone."""
    response = await http.post("/introspect", data={"token": token, "client_id": client_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
