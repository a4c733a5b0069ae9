"""A gateway whose console people register upstream servers at, and the notes REST API beside it.
Shared by the console's HTTP tests of registration and its Chromium test.

* the gateway under uvicorn on a SQLite file, allowed to fetch from loopback (the notes API's
  OpenAPI document is at ``<notes>/openapi.json``), with :data:`~tests.support.approval_desk.PEOPLE`
  (``sec``, ``author``, ``audrey``, ``nobody``) signed in with :data:`~tests.support.users.PASSWORD`;
* :func:`grant` gives a namespace to a person, as ``mcp-gateway tools owners grant`` does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from gateway.config import settings_from
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.upstream.namespace_owners import NamespaceOwners
from tests.support.approval_desk import add_people
from tests.support.asgi_server import Served
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.notes_api import NotesApi


@dataclass
class Console:
    gateway: RunningGateway
    store: str
    notes: str
    """The notes API's URL (its document is at ``/openapi.json``)."""


def grant(store: str, namespace: str, person: str) -> None:
    """``person`` owns ``namespace`` (from a thread of its own: the caller may run an event loop)."""

    async def granted() -> None:
        opened = open_store(store)
        try:
            await NamespaceOwners(opened).grant(namespace, person)
        finally:
            await opened.close()

    worker = threading.Thread(target=anyio.run, args=(granted,))
    worker.start()
    worker.join(60)


@contextlib.contextmanager
def registering_console(folder: Path) -> Iterator[Console]:
    store = f"sqlite:///{folder / 'gw.sqlite3'}"
    with Served() as served:

        def settings(port: int) -> Settings:
            return settings_from(port=port, store=store, fetch_allowed_private_hosts=("127.0.0.1",))

        with running_gateway(settings) as gateway:
            served.start(NotesApi().app(gateway.issuer, served.url))
            add_people(store)
            yield Console(gateway, store, served.url)
