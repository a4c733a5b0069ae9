"""A REST API's tools: the operations of its OpenAPI document, imported on each discovery.

Where the document comes from (decided here, once):

* ``openapi`` is a URL: fetched again at each refresh, through the SSRF-safe fetcher (https, no
  private address unless allow-listed, no redirect, bounded, a JSON media type), so a changed
  document reaches the catalogue like a changed ``tools/list`` does, through the pins (TP-2). When
  the fetch fails, the text fetched at registration (kept with the record) is imported instead,
  logged; a config-file URL has none, and its server is then unhealthy like an MCP server that
  does not answer.
* ``openapi`` is a file: its text was read at registration and travels with it (the settings, or
  the store beside the record), so every replica imports the same document.

Importing a large document takes CPU (about 0.8 s for GitHub's 13 MB one), so it runs in a worker
thread, and not at all when the text, the operations picked and the scope overrides are those of
the last import. A tool the document names no scope for gets the server's default rule
(``UpstreamServer.scopes_for``), never "no scope needed": the server handed back to discovery has
the document's scopes (after the registration's ``tool_scopes`` overrides) as its ``tool_scopes``.

The scopes the document requires are the upstream's words, not the operator's: each listed
definition carries them (:data:`tools_registry.pins.DOCUMENT_SCOPES`), so they are hashed and pinned
with it, and a re-fetched document that weakens them is held like any changed definition (OA-7);
an override in ``tool_scopes`` is not in the hash, it is the operator's decision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from typing import Any, Protocol

import anyio.to_thread

from gateway.fetching.fetcher import FetchError
from gateway.upstream.tool_sources import Listing
from gateway.upstream.transport import UpstreamFailure
from tools_registry.openapi import ImportedApi, OpenApiError, RestTool, import_api, load_document
from tools_registry.pins import DOCUMENT_SCOPES
from tools_registry.servers import RegistryError, UpstreamServer, is_document_url

logger = logging.getLogger("mcp_gateway.discovery")


class Documents(Protocol):
    """Where a document URL is fetched (:class:`~gateway.fetching.fetcher.DocumentFetcher`, SSRF-safe):
    :class:`FetchError` when it cannot be."""

    async def fetch_bytes(self, url: str) -> bytes: ...

    async def aclose(self) -> None: ...


class RegisteredDocuments(Protocol):
    """The text each REST server was registered with (:class:`~tools_registry.server_registry.
    ServerRegistry` is one)."""

    async def document(self, server: UpstreamServer) -> str | None: ...


def _import(raw: bytes, server: UpstreamServer) -> ImportedApi:
    document = load_document(raw)
    return import_api(document, only=server.operations or None, scopes=server.tool_scopes)


def _listed(tool: RestTool) -> dict[str, Any]:
    """The tool as discovery takes it: its MCP definition and the scopes its document requires,
    which are pinned with it (OA-7) and never shown to agents."""
    return {**tool.definition, DOCUMENT_SCOPES: list(tool.document_scopes)}


class OpenApiToolSource:
    """The tools of REST servers, and (for :class:`~gateway.upstream.rest_forwarding.RestForwarder`)
    how each is called: the :class:`RestTool` last imported, per server and tool name."""

    def __init__(self, fetcher: Documents, documents: RegisteredDocuments) -> None:
        self._fetcher = fetcher
        self._documents = documents
        self._imported: dict[str, tuple[str, ImportedApi]] = {}

    async def list_tools(self, server: UpstreamServer) -> Listing:
        raw = await self._text(server)
        key = hashlib.sha256(raw).hexdigest() + repr((server.operations, sorted(server.tool_scopes.items())))
        known = self._imported.get(server.id)
        if known is not None and known[0] == key:
            api = known[1]
        else:
            try:
                api = await anyio.to_thread.run_sync(_import, raw, server)
            except OpenApiError as exc:
                raise UpstreamFailure(
                    f"upstream {server.id}: its OpenAPI document is refused: {exc}"
                ) from None
            self._imported[server.id] = (key, api)
        served = dataclasses.replace(
            server, tool_scopes={tool.name: tool.scopes for tool in api.tools if tool.scopes}
        )
        skipped = tuple(f"{entry.operation}: {entry.reason}" for entry in api.skipped)
        return Listing(served, [_listed(tool) for tool in api.tools], skipped)

    def tool(self, server_id: str, name: str) -> RestTool | None:
        """How to call tool ``name`` of REST server ``server_id``, as last imported."""
        known = self._imported.get(server_id)
        if known is None:
            return None
        try:
            return known[1].tool(name)
        except KeyError:
            return None

    def forget(self, server_id: str) -> None:
        self._imported.pop(server_id, None)

    async def fetch(self, url: str) -> bytes:
        """The document at ``url`` now, as discovery would fetch it (``tools add``)."""
        return await self._fetcher.fetch_bytes(url)

    @staticmethod
    def check(server: UpstreamServer) -> dict[str, tuple[str, ...]]:
        """That ``server``'s registered document imports with its operations and scope overrides:
        :class:`~tools_registry.servers.RegistryError` saying why not (``tools add``). Answers the
        scopes each imported tool will require, by tool name, where the document names any (after
        the ``tool_scopes`` overrides): registration checks a tool author's against their
        namespace (AD-10), since the document's words are as much theirs as ``tool_scopes`` is."""
        try:
            api = _import((server.document or "").encode(), server)
        except OpenApiError as exc:
            raise RegistryError(f"the OpenAPI document is refused: {exc}") from None
        return {tool.name: tool.scopes for tool in api.tools if tool.scopes}

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    async def _text(self, server: UpstreamServer) -> bytes:
        registered = await self._documents.document(server)
        if is_document_url(server.openapi):
            try:
                return await self._fetcher.fetch_bytes(server.openapi)
            except FetchError as exc:
                if registered is None:
                    raise UpstreamFailure(f"upstream {server.id}: its OpenAPI document: {exc}") from None
                logger.warning(
                    "OpenAPI document of %s not fetched (%s): the registered one is used", server.id, exc
                )
        if registered is None:
            raise UpstreamFailure(f"upstream {server.id}: its OpenAPI document is not at hand")
        return registered.encode()


__all__ = ["Documents", "OpenApiToolSource", "RegisteredDocuments"]
