"""A gateway under uvicorn that holds tool calls for approval (AP-6), with the agents that make them.

The guarded upstream (:mod:`tests.support.guarded_upstream`), built with the ``mcp`` SDK, is served
in the gateway's process as the server ``files``, whose registration holds every call of
``delete_file``; whether a call got through is read from what the upstream did. Two agents call it:

* ``files-bot`` acts on its own (client credentials, ``client_secret_basic``): its calls are made
  for nobody, so a ``security-admin`` decides them whatever the policy;
* ``desk`` is a public client a person authorizes at ``/authorize``: its calls are made for that
  person, whose name at the gateway is the token's ``sub``.

The people are those of :data:`tests.support.approval_desk.PEOPLE` (``sec``, ``sec2``,
``author``, ``audrey``, ``nobody``) and ``alice`` and ``bob``, who hold no role; all of them have
the password :data:`~tests.support.users.PASSWORD`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from gateway import paths
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.resource.call_approval import CALL_PENDING
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.upstream.asgi_transport import AsgiTransport, lifespan
from tests.support.approval_desk import PEOPLE, add_people
from tests.support.authorization_code import PublicClient, new_verifier
from tests.support.browser import Person
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.guarded_upstream import GuardedUpstream, guarded_app
from tests.support.http_clients import blocking_http_client, http_client
from tests.support.kek import SHARED_STORE_KEK
from tests.support.mcp_requests import modern_body, modern_headers
from tests.support.users import PASSWORD

FILES = "files"
ORIGIN = "https://files.test"
TOOL = "files__delete_file"
"""The tool whose every call is held."""
FILES_BOT, FILES_BOT_SECRET = "files-bot", "files-bot-secret-71d0a4"
DESK = "desk"
CB = "http://127.0.0.1:9999/cb"
DESK_CLIENT = PublicClient(DESK, CB, FILES, "st-calls")
CALLERS: dict[str, tuple[str, ...]] = {**PEOPLE, "alice": (), "bob": ()}
DISCOVERY_WAIT = 30.0


def call_settings(
    store: str,
    port: int,
    *,
    call_approver: str = "security-admin",
    more_clients: tuple[dict[str, Any], ...] = (),
    **overrides: Any,
) -> Settings:
    """The gateway on ``store`` (a SQLite URL) at ``port``, ``call_approver`` in its policy;
    ``more_clients`` beside its two agents."""
    return settings_from(
        port=port,
        store=store,
        key_encryption_key=SHARED_STORE_KEK,
        scope_descriptions={FILES: "Read and delete files"},
        approvals={"version": "calls-console", "call_approver": call_approver},
        servers=({"id": FILES, "url": f"{ORIGIN}/mcp", "call_approval": ["delete_file"]},),
        clients=(
            {
                "client_id": FILES_BOT,
                "name": "Files bot",
                "auth_method": "client_secret_basic",
                "scopes": (FILES,),
                "secret_hash": hash_secret(FILES_BOT_SECRET),
            },
            {
                "client_id": DESK,
                "name": "Desk Assistant",
                "auth_method": "none",
                "scopes": (FILES,),
                "grant_types": ("authorization_code", "refresh_token"),
                "redirect_uris": (CB,),
            },
            *more_clients,
        ),
        **overrides,
    )


@dataclass
class CallDeployment:
    gateway: RunningGateway
    upstream: GuardedUpstream

    def done(self, path: str) -> list[tuple[str, str]]:
        """What the upstream did with ``path``."""
        return [entry for entry in self.upstream.done if entry[1] == path]


@contextlib.contextmanager
def call_gateway(make_settings: Callable[[int], Settings], store: str) -> Iterator[CallDeployment]:
    """The gateway of ``make_settings`` (on ``store``) with the upstream behind it and the people of
    :data:`CALLERS` added; once the upstream's tools are in the catalogue."""
    upstream = GuardedUpstream(FILES)
    transport = AsgiTransport({})

    def build(settings: Settings) -> Gateway:
        return build_gateway(settings, open_store(settings.server.store), transport=transport)

    def with_upstream(gateway_app: Starlette, gateway: Gateway) -> ASGIApp:
        files = guarded_app(
            upstream, gateway.settings.server.issuer_id, ORIGIN, httpx2.ASGITransport(gateway_app)
        )
        transport.mount(ORIGIN, files)

        @contextlib.asynccontextmanager
        async def both(app: Starlette) -> AsyncIterator[None]:
            async with lifespan(files), gateway_app.router.lifespan_context(gateway_app):
                yield

        return Starlette(routes=[Mount("/", app=gateway_app)], lifespan=both)

    with running_gateway(make_settings, build=build, wrap=with_upstream) as running:
        add_people(store, CALLERS)
        _wait_for_the_tool(running)
        yield CallDeployment(running, upstream)


def _wait_for_the_tool(running: RunningGateway) -> None:
    """The catalogue is filled in the background, after the server starts."""
    deadline = time.monotonic() + DISCOVERY_WAIT
    while running.gateway is None or running.gateway.catalog.lookup(TOOL) is None:
        assert time.monotonic() < deadline, f"{TOOL} never reached the catalogue"
        time.sleep(0.05)


# -- tokens --------------------------------------------------------------------------------------


def _bot_form() -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": FILES}


async def bot_token(http: httpx2.AsyncClient, gw: RunningGateway) -> str:
    """A token of ``files-bot``, acting on its own."""
    answer = await http.post(gw.endpoint(paths.TOKEN), data=_bot_form(), auth=(FILES_BOT, FILES_BOT_SECRET))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bot_token_blocking(gw: RunningGateway) -> str:
    with blocking_http_client() as http:
        answer = http.post(gw.endpoint(paths.TOKEN), data=_bot_form(), auth=(FILES_BOT, FILES_BOT_SECRET))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def person_token(gw: RunningGateway, username: str, browser: httpx2.AsyncClient | None = None) -> str:
    """A token of ``desk`` acting for ``username``, who signs in (unless ``browser`` has a session
    already) and allows it at ``/authorize``."""
    async with contextlib.AsyncExitStack() as stack:
        http = browser if browser is not None else await stack.enter_async_context(http_client())
        verifier = new_verifier()
        outcome = await Person(username, PASSWORD, http).authorize(DESK_CLIENT.authorize_url(gw, verifier))
        assert outcome.code, (outcome.status, outcome.page[:500])
        form = DESK_CLIENT.redemption_form(outcome.code, verifier)
        answer = await http.post(gw.endpoint(paths.TOKEN), data=form)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


# -- tool calls (2026-07-28, raw JSON-RPC) --------------------------------------------------------


def _tool_call(token: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    body = modern_body("tools/call", {"name": TOOL, "arguments": arguments})
    return body, modern_headers(token, "tools/call", TOOL) | {"Accept": "application/json"}


async def call_tool(
    http: httpx2.AsyncClient, gw: RunningGateway, token: str, arguments: dict[str, Any]
) -> httpx2.Response:
    """The agent holding ``token`` calls :data:`TOOL` with ``arguments``."""
    body, headers = _tool_call(token, arguments)
    return await http.post(gw.endpoint("/mcp"), json=body, headers=headers)


def call_tool_blocking(gw: RunningGateway, token: str, arguments: dict[str, Any]) -> httpx.Response:
    body, headers = _tool_call(token, arguments)
    with blocking_http_client() as http:
        return http.post(gw.endpoint("/mcp"), json=body, headers=headers)


def held_call(response: httpx2.Response | httpx.Response, code: int = CALL_PENDING) -> dict[str, Any]:
    """The held call a refusal names (``data.callApproval``), after checking the refusal's shape."""
    assert response.status_code == 200, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    approval: dict[str, Any] = error["data"]["callApproval"]
    return approval


def passed(response: httpx2.Response | httpx.Response) -> str:
    """The text of a call the upstream answered."""
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["resultType"] == "complete" and not result.get("isError"), result
    return str(result["content"][0]["text"])
