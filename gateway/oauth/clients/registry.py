"""Where clients are kept and looked up: the config file first, then the store, then (for a
client that describes itself) the resolver of Client ID Metadata Documents."""

from __future__ import annotations

import json
from dataclasses import asdict

from gateway.oauth.clients.metadata_documents import ClientMetadataDocuments
from gateway.oauth.clients.model import Client, ClientError, validate
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.store import Store

COLLECTION = "clients"


def _to_json(client: Client) -> str:
    data = asdict(client)
    data.pop("source")
    return json.dumps(data, separators=(",", ":"))


def _from_json(value: str) -> Client:
    data = json.loads(value)
    for name in ("scopes", "audiences", "grant_types", "redirect_uris"):
        data[name] = tuple(data.get(name) or ())
    return Client(**data, source="store")


class ClientRegistry:
    """Looks clients up in the config first, then in the store, then asks the resolver (CIMD)."""

    def __init__(
        self,
        store: Store,
        configured: tuple[Client, ...] = (),
        resolver: ClientMetadataDocuments | None = None,
        *,
        marks: NotBeforeMarks,
    ) -> None:
        self._store = store
        self._marks = marks
        self._configured = {client.client_id: client for client in configured}
        self._resolver = resolver

    async def get(self, client_id: str) -> Client | None:
        client = await self._local(client_id)
        if client is None and self._resolver is not None and self._resolver.handles(client_id):
            return await self._resolver.resolve(client_id)
        return client

    async def _local(self, client_id: str) -> Client | None:
        if client_id in self._configured:
            return self._configured[client_id]
        value = await self._store.get_record(COLLECTION, client_id)
        return _from_json(value) if value is not None else None

    async def list_clients(self) -> list[Client]:
        stored = [_from_json(v) for v in (await self._store.list_records(COLLECTION)).values()]
        return sorted([*self._configured.values(), *stored], key=lambda c: c.client_id)

    async def add(self, client: Client) -> None:
        validate(client)
        if await self._local(client.client_id) is not None:
            raise ClientError(f"client {client.client_id!r} already exists")
        await self._store.put_record(COLLECTION, client.client_id, _to_json(client))

    async def replace(self, client: Client) -> None:
        """Overwrite a stored client (RFC 7592 update); a config-file client is never replaced."""
        validate(client)
        if client.client_id in self._configured:
            raise ClientError(f"client {client.client_id!r} is defined in the config file")
        await self._store.put_record(COLLECTION, client.client_id, _to_json(client))

    async def remove(self, client_id: str) -> bool:
        if client_id in self._configured:
            raise ClientError(f"client {client_id!r} is defined in the config file; remove it there")
        removed = await self._store.delete_record(COLLECTION, client_id)
        if removed:  # RV-2: every token, refresh family and consent of the client ends with it
            await self._marks.revoke_client(client_id)
        return removed
