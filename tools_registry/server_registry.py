"""Where upstream servers are kept: the config file's ``[[servers]]`` (read-only at run time) and
the store (``mcp-gateway tools add``, collection ``upstream_servers``); an id is unique across both,
and every server's audience is bound to it alone (UP-4). An id must also keep its tools' exposed
names apart from every other server's (UP-6, :func:`tools_registry.tool_names.check_server_id`).

A REST API's document text (up to 20 MiB) is kept beside its record, in collection
``upstream_documents`` under the same id, so that every replica imports the same document and the
record itself stays small: the refresher lists the records every second, the documents are read
only when a server is discovered. The record names its document by SHA-256, checked on each read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Protocol

from tools_registry.servers import RegistryError, UpstreamServer, build_server, document_digest
from tools_registry.tool_names import DEFAULT_SEPARATOR, check_server_id
from tools_registry.urls import canonical_url, origin

logger = logging.getLogger("tools_registry")

COLLECTION = "upstream_servers"
DOCUMENTS = "upstream_documents"


class RecordStore(Protocol):
    """The part of the gateway's store this package uses: durable JSON records by collection."""

    async def get_record(self, collection: str, record_id: str) -> str | None: ...

    async def put_record(self, collection: str, record_id: str, value: str) -> None: ...

    async def delete_record(self, collection: str, record_id: str) -> bool: ...

    async def list_records(self, collection: str) -> dict[str, str]: ...


def _to_json(server: UpstreamServer) -> str:
    data = server.as_dict()
    data.pop("source")
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _from_json(value: str) -> UpstreamServer:
    return build_server(json.loads(value), source="store")


class ServerRegistry:
    """Looks servers up in the config first, then in the store. Config entries are read-only."""

    def __init__(
        self,
        store: RecordStore,
        configured: Iterable[UpstreamServer] = (),
        reserved_audiences: Iterable[str] = (),
        separator: str = DEFAULT_SEPARATOR,
    ) -> None:
        """``reserved_audiences``: audiences no upstream may hold (the gateway's own resource and
        issuer, the resources and exchange targets of its configuration), in canonical form.
        ``separator``: the one the catalogue joins server ids and tool names with."""
        self._store = store
        self._separator = separator
        self._reserved = frozenset(canonical_url(a) for a in reserved_audiences)
        self._configured: dict[str, UpstreamServer] = {}
        for server in configured:
            self._check_binding(server, self._configured.values())
            self._configured[server.id] = server

    async def get(self, server_id: str) -> UpstreamServer | None:
        if server_id in self._configured:
            return self._configured[server_id]
        value = await self._store.get_record(COLLECTION, server_id)
        return _from_json(value) if value is not None else None

    async def list_servers(self) -> list[UpstreamServer]:
        """Every server, sorted by id. A stored record that no longer validates is logged and
        left out, so one bad record never hides the rest of the catalogue."""
        stored: list[UpstreamServer] = []
        for server_id, value in (await self._store.list_records(COLLECTION)).items():
            if server_id in self._configured:
                continue
            try:
                stored.append(_from_json(value))
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("stored upstream server %r is skipped: %s", server_id, exc)
        return sorted([*self._configured.values(), *stored], key=lambda s: s.id)

    async def add(self, server: UpstreamServer) -> UpstreamServer:
        """Keep a new server in the store; its id must be new (in any letter case), keep its tools'
        names apart (UP-6), and its audience be bound to it alone (:meth:`_check_binding`). Returns
        it as stored."""
        if server.id in self._configured:
            raise RegistryError(f"server {server.id!r} is defined in the config file")
        if await self._store.get_record(COLLECTION, server.id) is not None:
            raise RegistryError(f"server {server.id!r} already exists")
        self._check_binding(server, await self.list_servers())
        if server.document is not None:  # first: a record never names a document not yet kept
            await self._store.put_record(DOCUMENTS, server.id, server.document)
        await self._store.put_record(COLLECTION, server.id, _to_json(server))
        return _from_json(_to_json(server))

    async def replace(self, server: UpstreamServer) -> UpstreamServer:
        """Keep a stored server's new definition under its id; its binding is checked against
        every other server, as for a new one. Returns it as stored."""
        if server.id in self._configured:
            raise RegistryError(f"server {server.id!r} is defined in the config file; change it there")
        if await self._store.get_record(COLLECTION, server.id) is None:
            raise RegistryError(f"server {server.id!r} does not exist")
        self._check_binding(server, [s for s in await self.list_servers() if s.id != server.id])
        if server.document is not None:
            await self._store.put_record(DOCUMENTS, server.id, server.document)
        elif not server.document_sha256:  # no longer a REST API registered with a document
            await self._store.delete_record(DOCUMENTS, server.id)
        await self._store.put_record(COLLECTION, server.id, _to_json(server))
        return _from_json(_to_json(server))

    def _check_binding(self, server: UpstreamServer, others: Iterable[UpstreamServer]) -> None:
        """UP-4: an audience names one upstream and nothing else. Never the gateway's own resource
        or issuer or a configured target (the upstream would receive tokens the gateway honours);
        never one another server holds; on the url's own origin unless ``foreign_audience`` says
        so explicitly. Server ids are unique whatever their letter case, and (UP-6) never blur into
        the tool name separator, so no two servers' tools can be exposed under one name."""
        try:
            check_server_id(server.id, self._separator)
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        for other in others:
            if other.id.lower() == server.id.lower():
                raise RegistryError(f"server id {server.id!r} is taken (as {other.id!r}; ids ignore case)")
            if other.audience == server.audience:
                raise RegistryError(f"audience {server.audience!r} is already held by server {other.id!r}")
        if server.audience in self._reserved:
            raise RegistryError(
                f"audience {server.audience!r} is the gateway's own or a configured target; "
                "an upstream may never receive tokens for it"
            )
        if not server.foreign_audience and origin(server.audience) != origin(canonical_url(server.url)):
            raise RegistryError(
                f"audience {server.audience!r} is not on the url's origin; "
                "set foreign_audience (--foreign-audience) if that is intended"
            )

    async def remove(self, server_id: str) -> bool:
        """True when a stored server was removed; a config-file server raises RegistryError."""
        if server_id in self._configured:
            raise RegistryError(f"server {server_id!r} is defined in the config file; remove it there")
        removed = await self._store.delete_record(COLLECTION, server_id)
        await self._store.delete_record(DOCUMENTS, server_id)
        return removed

    async def document(self, server: UpstreamServer) -> str | None:
        """The text of the document ``server`` (a REST API) was registered with; None when it has
        none (a document URL given in the config file) or the kept text is not the one its record
        names (logged: a record written by hand, or a half-finished removal)."""
        if server.document is not None:
            return server.document
        if not server.document_sha256:
            return None
        text = await self._store.get_record(DOCUMENTS, server.id)
        if text is None or document_digest(text) != server.document_sha256:
            logger.warning("the OpenAPI document kept for %r is missing or not the registered one", server.id)
            return None
        return text


__all__ = ["COLLECTION", "DOCUMENTS", "RecordStore", "ServerRegistry"]
