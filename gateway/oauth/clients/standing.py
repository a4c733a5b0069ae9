"""The clients' own scopes, seen as standing grants (:mod:`gateway.approvals.grants`): what the
configuration file, ``clients add --scope`` or a registration's automatic scopes gave them."""

from __future__ import annotations

from gateway.approvals.grants import Grant, Source, standing_grant
from gateway.oauth.clients.model import Client
from gateway.oauth.clients.registry import ClientRegistry


def source_of(client: Client) -> Source:
    if client.source == "config":
        return "config"
    return "registration" if client.self_registered else "store"


class StandingFromClients:
    def __init__(self, clients: ClientRegistry) -> None:
        self._clients = clients

    async def standing(self, client_id: str | None = None) -> list[Grant]:
        if client_id is not None:
            found = await self._clients.get(client_id)
            clients = [found] if found is not None else []
        else:
            clients = await self._clients.list_clients()
        return [
            standing_grant(c.client_id, c.scopes, source_of(c), float(c.created_at))
            for c in clients
            if c.scopes
        ]
