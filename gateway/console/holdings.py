"""Who can do what, now: every client with its grants, the scopes they add up to, and the tools those
scopes reach, read from the client registry, the grant desk, the not-before marks and the catalogue.

A client's *held* scopes are what the grant desk would let it be issued now (its standing scopes
and its active approved grants, for any audience: :meth:`GrantDesk.held`); the tools it can call
are the catalogued tools whose every required scope those cover (:meth:`Catalog.visible_to`), on the
upstreams answering now. An approved grant made before the client's not-before mark moved (the
client was removed, or a security admin ended all its tokens) allows nothing any more: it is
listed as *void*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.approvals.grant_desk import GrantDesk
from gateway.approvals.grants import Grant
from gateway.oauth.clients.model import Client
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.tokens.not_before import NotBeforeMarks
from tools_registry.catalog import Catalog
from tools_registry.tool_entries import CatalogTool


@dataclass(frozen=True)
class HeldGrant:
    grant: Grant
    void: bool
    """Made before the client's not-before mark: it allows nothing."""
    tools: tuple[CatalogTool, ...]
    """The tools this grant's scopes reach on their own (with every other scope a tool needs)."""


@dataclass(frozen=True)
class Holdings:
    client: Client
    grants: tuple[HeldGrant, ...]
    held: tuple[str, ...]
    tools: tuple[CatalogTool, ...]
    """Every tool the client can call now."""


class Inventory:
    def __init__(
        self, clients: ClientRegistry, grants: GrantDesk, marks: NotBeforeMarks, catalog: Catalog
    ) -> None:
        self._clients = clients
        self._grants = grants
        self._marks = marks
        self.catalog = catalog

    async def holdings(self) -> list[Holdings]:
        """Every client the registry keeps (config file and store), by client id."""
        return [await self.of(client) for client in await self._clients.list_clients()]

    async def of(self, client: Client) -> Holdings:
        held = await self._grants.held(client.client_id)
        grants = []
        for grant in await self._grants.list(client.client_id):
            void = not grant.standing and not await self._marks.not_removed_since(
                at=grant.created_at, client_id=client.client_id
            )
            reach = () if void else tuple(self.catalog.visible_to(grant.scopes))
            grants.append(HeldGrant(grant, void, reach))
        return Holdings(client, tuple(grants), held, tuple(self.catalog.visible_to(held)))

    async def known(self, client_id: str) -> bool:
        """Whether the registry keeps this client (config file or store)."""
        return any(client.client_id == client_id for client in await self._clients.list_clients())


def callers(holdings: Sequence[Holdings]) -> dict[str, list[str]]:
    """Tool name -> the ids of the clients that can call it now."""
    found: dict[str, list[str]] = {}
    for held in holdings:
        for tool in held.tools:
            found.setdefault(tool.name, []).append(held.client.client_id)
    return found
