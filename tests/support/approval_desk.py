"""The console's tests' gateway: two agents, an approval policy, and a security team of people.

``payroll-bot`` is a confidential agent (``client_secret_basic``) that holds ``weather:read`` and
files access requests at ``/access-requests``; ``desk`` is a public client a person authorizes at
``/authorize`` (it holds ``tools:read``). The policy hands ``payments`` to security admins (two of
them for ``payments:bulk``), ``catalogue`` to tool authors, and never grants ``root``. The people,
all with the password :data:`PASSWORD`:

    sec, sec2   security-admin        author   tool-author
    audrey      auditor               nobody   no role
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx2

from gateway import paths
from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.kek import SHARED_STORE_KEK
from tests.support.users import PASSWORD, add_user

BOT = "payroll-bot"
BOT_SECRET = "payroll-bot-secret-2f9c1e"
DESK = "desk"
DESK_NAME = "Desk Assistant"
CB = "http://127.0.0.1:9999/cb"
DESCRIPTIONS = {
    "weather:read": "Read the weather forecast",
    "tools:read": "See which tools exist & read what they return",
    "payments": "Everything about payments",
    "payments:refund": "Refund a customer's payment",
    "payments:read": "Read payments and their status",
}
POLICY: dict[str, Any] = {
    "version": "2026-12-console",
    "rules": [
        {"scope": "payments", "decision": "approval", "max_duration": 7 * 86400},
        {"scope": "payments:bulk", "approvers": 2},
        {"scope": "catalogue", "approver_role": "tool-author"},
        {"scope": "root", "decision": "never"},
    ],
}
PEOPLE: dict[str, tuple[str, ...]] = {
    "sec": ("security-admin",),
    "sec2": ("security-admin",),
    "author": ("tool-author",),
    "audrey": ("auditor",),
    "nobody": (),
}
__all__ = ["PASSWORD"]


def settings_for(store: str, redirect_uri: str = CB, **overrides: Any) -> Callable[[int], Settings]:
    def make(port: int) -> Settings:
        return settings_from(
            port=port,
            store=store,
            key_encryption_key=SHARED_STORE_KEK,
            scope_descriptions=DESCRIPTIONS,
            approvals=POLICY,
            clients=(
                {
                    "client_id": BOT,
                    "name": "Payroll bot",
                    "auth_method": "client_secret_basic",
                    "scopes": ("weather:read",),
                    "secret_hash": hash_secret(BOT_SECRET),
                },
                {
                    "client_id": DESK,
                    "name": DESK_NAME,
                    "auth_method": "none",
                    "scopes": ("tools:read",),
                    "grant_types": ("authorization_code", "refresh_token"),
                    "redirect_uris": (redirect_uri,),
                },
            ),
            **overrides,
        )

    return make


def add_people(store: str, people: dict[str, tuple[str, ...]] | None = None) -> None:
    """Add the people (``PEOPLE`` by default) to the store, from a thread of their own (the caller
    may be running an event loop: playwright's sync API keeps one)."""

    async def add_all() -> None:
        for name, roles in (people or PEOPLE).items():
            await add_user(store, name, PASSWORD, roles=roles)

    worker = threading.Thread(target=anyio.run, args=(add_all,))
    worker.start()
    worker.join(120)


@contextlib.contextmanager
def desk_gateway(store: str, redirect_uri: str = CB, **overrides: Any) -> Iterator[RunningGateway]:
    """The gateway on ``store`` (a SQLite URL), with :data:`PEOPLE` added."""
    with running_gateway(settings_for(store, redirect_uri, **overrides)) as gateway:
        add_people(store)
        yield gateway


async def file_request(
    http: httpx2.AsyncClient, gw: RunningGateway, scope: str, justification: str, duration: int | None = None
) -> str:
    """``payroll-bot`` files an access request; its id."""
    form = {"scope": scope, "justification": justification}
    if duration is not None:
        form["duration"] = str(duration)
    answer = await http.post(gw.endpoint(paths.ACCESS_REQUESTS), data=form, auth=(BOT, BOT_SECRET))
    assert answer.status_code == 201, answer.text
    request_id: str = answer.json()["request_id"]
    return request_id


async def request_status(http: httpx2.AsyncClient, gw: RunningGateway, request_id: str) -> dict[str, Any]:
    """What ``payroll-bot`` reads of its request."""
    answer = await http.get(gw.endpoint(f"{paths.ACCESS_REQUESTS}/{request_id}"), auth=(BOT, BOT_SECRET))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def bot_token(http: httpx2.AsyncClient, gw: RunningGateway, scope: str) -> httpx2.Response:
    """``payroll-bot`` asks ``/token`` for ``scope`` (client credentials)."""
    return await http.post(
        gw.endpoint(paths.TOKEN),
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(BOT, BOT_SECRET),
    )
