"""Registering, changing and removing upstream servers, and who owns which namespace: the one
place the CLI (``mcp-gateway tools add|remove|owners``), the admin API (``/admin/api/v1/servers``,
``/admin/api/v1/namespaces``) and the console (``/admin/tools/register``) call, so the three
cannot drift apart.

Each change is checked in this order, and the first problem is told, worded as what to fix:

1. authority (:func:`~gateway.upstream.registration_rules.authority_refusal`): 403, audited as a
   refusal with who asked;
2. the request's shape (``url``, or ``openapi`` with ``base_url``) and every field
   (:class:`~tools_registry.servers.UpstreamServer` validates): 400;
3. the fields that are a security admin's (:func:`~gateway.upstream.registration_rules.
   field_refusal`): 403, audited;
4. a REST API's document: fetched now through the SSRF-safe fetcher when ``openapi`` is a URL
   (the CLI reads a file itself and hands its text as ``document``; nothing else reads files), and
   checked to import (OA-1), and for a tool author, that the scopes it requires stay in their
   namespace unless ``tool_scopes`` overrides them there (AD-10): 400;
5. the registry's binding of the audience and the id (UP-4, UP-6): 400; an id taken is 409.

A change taken is audited with the server before and after (``upstream_server_added``,
``_updated``, ``_removed``) and who made it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from gateway.approvals.decisions import Principal
from gateway.audit import AuditLog
from gateway.errors import Conflict, Forbidden, InvalidRequest, NotFound
from gateway.fetching.fetcher import FetchError
from gateway.upstream.namespace_owners import NamespaceOwners, checked_namespace, checked_person
from gateway.upstream.public_servers import PublicServers
from gateway.upstream.registration_rules import (
    KEEPER,
    authority_refusal,
    document_scope_refusal,
    field_refusal,
    where_refusal,
)
from tools_registry.server_fields import check_id
from tools_registry.server_registry import ServerRegistry
from tools_registry.servers import RegistryError, UpstreamServer, build_server, is_document_url

REST_ONLY = ("openapi", "base_url", "operations", "document")
T = TypeVar("T")
KEEPER_ONLY = f"only a {KEEPER} grants or withdraws a namespace"


class RestDocuments(Protocol):
    """What registration needs of the REST tool source (:class:`~gateway.upstream.openapi_source.
    OpenApiToolSource`): a document fetched as discovery fetches it, and the check it imports."""

    async def fetch(self, url: str) -> bytes: ...

    def check(self, server: UpstreamServer) -> Mapping[str, Sequence[str]]:
        """Import ``server``'s document: the scopes each tool will require, by tool name."""
        ...


class Registrations:
    def __init__(
        self,
        servers: ServerRegistry,
        owners: NamespaceOwners,
        documents: RestDocuments,
        audit: AuditLog,
        public: PublicServers,
    ) -> None:
        self._public = public  # where a tool author's servers may be (AD-11)
        self._servers = servers
        self._owners = owners
        self._documents = documents
        self._audit = audit

    async def list(self) -> list[tuple[UpstreamServer, tuple[str, ...]]]:
        """Every server with its namespace's owners. Every admin role reads them all (AD-7)."""
        owners = await self._owners.every()
        return [(server, owners.get(server.id, ())) for server in await self._servers.list_servers()]

    async def one(self, server_id: str) -> tuple[UpstreamServer, tuple[str, ...]]:
        server = await self._servers.get(server_id)
        if server is None:
            raise NotFound(f"no upstream server {server_id!r}")
        return server, await self._owners.owners_of(server_id)

    async def may_change(self, by: Principal, server_id: str) -> bool:
        """Whether ``by`` may change or remove servers in namespace ``server_id`` (for pages)."""
        return authority_refusal(by, server_id, await self._owners.owners_of(server_id)) is None

    async def register(self, fields: Mapping[str, Any], by: Principal) -> UpstreamServer:
        """A new server from ``fields`` (named as ``UpstreamServer.as_dict`` names them)."""
        try:
            added = await self._register(fields, by)
        except Forbidden as exc:
            self._audit.record(
                "upstream_server_added", outcome="refused", reason=exc.description, **_asked(fields, by)
            )
            raise
        self._audit.record(
            "upstream_server_added",
            outcome="added",
            by=by.subject,
            server=added.id,
            before=None,
            after=added.as_dict(),
        )
        return added

    async def _register(self, fields: Mapping[str, Any], by: Principal) -> UpstreamServer:
        server_id = fields.get("id")
        if not isinstance(server_id, str) or not server_id:
            raise InvalidRequest("id is required: the server's id, which is also its tools' namespace")
        try:
            check_id(server_id)
        except RegistryError as exc:
            raise InvalidRequest(str(exc)) from None
        await self._authorize(server_id, by)
        for other in await self._servers.list_servers():
            if other.id == server_id:
                where = "is defined in the config file" if other.source == "config" else "already exists"
                raise Conflict(f"server {server_id!r} {where}: change it there, or choose another id")
            if other.id.lower() == server_id.lower():
                raise Conflict(f"server id {server_id!r} is taken (as {other.id!r}; ids ignore case)")
        _refuse_if(where_refusal(fields))
        server = await self._built({**fields, "id": server_id}, by, None)
        return await self._kept(self._servers.add(server))

    async def update(self, server_id: str, changes: Mapping[str, Any], by: Principal) -> UpstreamServer:
        """The server with ``changes`` made (the members given replace the stored ones)."""
        try:
            before = await self._existing(server_id, by)
            after = await self._changed(before, changes, by)
        except Forbidden as exc:
            self._audit.record(
                "upstream_server_updated",
                outcome="refused",
                by=by.subject,
                server=server_id,
                reason=exc.description,
            )
            raise
        self._audit.record(
            "upstream_server_updated",
            outcome="updated",
            by=by.subject,
            server=server_id,
            before=before.as_dict(),
            after=after.as_dict(),
        )
        return after

    async def _changed(
        self, before: UpstreamServer, changes: Mapping[str, Any], by: Principal
    ) -> UpstreamServer:
        server_id = before.id
        if changes.get("id", server_id) != server_id:
            raise InvalidRequest(
                "id cannot change: register the server under the new id, then remove this one"
            )
        raw = {k: v for k, v in before.as_dict().items() if k not in ("source", "document_sha256", "kind")}
        if "url" in changes:  # an MCP server now
            raw = {k: v for k, v in raw.items() if k not in REST_ONLY}
        if "openapi" in changes:  # a REST API now, or by another document
            raw.pop("url", None)
        raw.update(changes)
        _refuse_if(where_refusal(raw))
        if "openapi" in raw and raw["openapi"] == before.openapi and "document" not in raw:
            raw["document"] = await self._servers.document(before)  # the same document: not fetched again
        return await self._kept(self._servers.replace(await self._built(raw, by, before)))

    async def remove(self, server_id: str, by: Principal) -> UpstreamServer:
        try:
            before = await self._existing(server_id, by)
        except Forbidden as exc:
            self._audit.record(
                "upstream_server_removed",
                outcome="refused",
                by=by.subject,
                server=server_id,
                reason=exc.description,
            )
            raise
        await self._kept(self._servers.remove(server_id))
        self._audit.record(
            "upstream_server_removed",
            outcome="removed",
            by=by.subject,
            server=server_id,
            before=before.as_dict(),
            after=None,
        )
        return before

    async def owners(self) -> dict[str, tuple[str, ...]]:
        return await self._owners.every()

    async def grant(self, namespace: str, person: str, by: Principal) -> tuple[str, ...]:
        """Make ``person`` an owner of ``namespace`` (a security admin only); its owners after."""
        namespace, person = checked_namespace(namespace), checked_person(person)
        if not by.holds(KEEPER):
            self._audit.record(
                "namespace_owner_granted", outcome="refused", **_keeper_only(namespace, person, by)
            )
            raise Forbidden(KEEPER_ONLY)
        owners = await self._owners.grant(namespace, person)
        await self._audit.durable(
            "namespace_owner_granted", outcome="granted", by=by.subject, namespace=namespace, owner=person
        )
        return owners

    async def revoke(self, namespace: str, person: str, by: Principal) -> tuple[str, ...]:
        namespace, person = checked_namespace(namespace), checked_person(person)
        if not by.holds(KEEPER):
            self._audit.record(
                "namespace_owner_revoked", outcome="refused", **_keeper_only(namespace, person, by)
            )
            raise Forbidden(KEEPER_ONLY)
        owners = await self._owners.revoke(namespace, person)
        if owners is None:
            raise NotFound(f"{person!r} does not own the namespace {namespace!r}")
        await self._audit.durable(
            "namespace_owner_revoked", outcome="revoked", by=by.subject, namespace=namespace, owner=person
        )
        return owners

    async def _authorize(self, server_id: str, by: Principal) -> None:
        refused = authority_refusal(by, server_id, await self._owners.owners_of(server_id))
        if refused is not None:
            raise Forbidden(refused)

    async def _existing(self, server_id: str, by: Principal) -> UpstreamServer:
        await self._authorize(server_id, by)  # first: an outsider learns nothing of the id
        server = await self._servers.get(server_id)
        if server is None:
            raise NotFound(f"no upstream server {server_id!r}")
        if server.source == "config":
            raise Conflict(f"server {server_id!r} is defined in the config file; change it there")
        return server

    async def _built(
        self, raw: dict[str, Any], by: Principal, before: UpstreamServer | None
    ) -> UpstreamServer:
        if "openapi" in raw and raw.get("document") is None:
            raw["document"] = await self._fetched(raw["openapi"])
        try:
            server = build_server(raw, source="store")
        except RegistryError as exc:
            raise InvalidRequest(str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"the server's fields are not well formed: {exc}") from None
        refused = field_refusal(by, before, server)
        if refused is not None:
            raise Forbidden(refused)
        if not by.holds(KEEPER):
            await self._public.check(server)
        if server.kind == "openapi":
            try:
                required = self._documents.check(server)
            except RegistryError as exc:
                raise InvalidRequest(str(exc)) from None
            outside = document_scope_refusal(by, server, required)
            if outside is not None:
                raise InvalidRequest(outside)
        return server

    async def _fetched(self, openapi: object) -> str:
        if not isinstance(openapi, str) or not is_document_url(openapi):
            raise InvalidRequest("openapi must be the https URL of the REST API's OpenAPI document")
        try:
            return (await self._documents.fetch(openapi)).decode("utf-8")
        except (FetchError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"cannot fetch the OpenAPI document {openapi!r:.200}: {exc}") from None

    @staticmethod
    async def _kept(change: Awaitable[T]) -> T:
        """The registry's change awaited; what it refuses (the binding, UP-4/UP-6) is a 400."""
        try:
            return await change
        except RegistryError as exc:
            raise InvalidRequest(str(exc)) from None


def _asked(fields: Mapping[str, Any], by: Principal) -> dict[str, Any]:
    """What the record of a refused registration names: who asked, and the id they asked for."""
    return {"by": by.subject, "server": str(fields.get("id", ""))[:64]}


def _keeper_only(namespace: str, person: str, by: Principal) -> dict[str, Any]:
    return {"by": by.subject, "namespace": namespace, "owner": person, "reason": KEEPER_ONLY}


def _refuse_if(reason: str | None) -> None:
    if reason is not None:
        raise InvalidRequest(reason)


__all__ = ["Registrations", "RestDocuments"]
