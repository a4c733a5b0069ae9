"""The catalogue of discovered tools: namespacing, health, who sees what, and pagination.

Each upstream server's ``tools/list`` answer goes through :meth:`Catalog.replace`, which exposes
tool ``t`` of server ``s`` as ``s.t``. An entry that is not a tool (not an object, no string
name, a schema that is not an object) or whose exposed name would not be 1-128 characters of
``[A-Za-z0-9_.-]`` (SEP-986) is skipped and reported; the rest of that server's tools are kept.

Health: an answer that is not a list, or a non-empty list with no usable tool, marks the server
unhealthy, as does :meth:`Catalog.mark_unhealthy` (a timeout, an HTTP error). While unhealthy, a
server's tools are hidden from ``tools/list`` and :meth:`Catalog.lookup` does not find them, so a
call fails at once instead of waiting for the upstream's timeout;
:meth:`Catalog.unavailable_reason` says why. Its last good tools are kept and come back with
:meth:`Catalog.mark_healthy` or the next good answer. Other servers are not affected.

``tools/list`` for an agent is :meth:`Catalog.visible_to` (the tools whose every scope its token
covers, see :mod:`tools_registry.scopes`), sorted by exposed name, then :func:`page`. Cursors are
opaque to clients and name the last tool of the previous page, so paging stays consistent when
tools come or go between pages.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools_registry.scopes import ancestors
from tools_registry.servers import TOOL_NAME, UpstreamServer

logger = logging.getLogger("tools_registry")

DEFAULT_PAGE_SIZE = 100
_CURSOR_PREFIX = "after:"
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,200}")


class CursorError(ValueError):
    """A ``tools/list`` cursor this catalogue did not issue (JSON-RPC: invalid params)."""


@dataclass(frozen=True)
class CatalogTool:
    """One upstream tool as agents see it, and what calling it takes."""

    name: str
    """The exposed name, ``<server>.<tool>``."""
    server_id: str
    upstream_name: str
    description: str | None
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    title: str | None
    annotations: Mapping[str, Any] | None
    scopes: tuple[str, ...]
    """The scopes a token must cover (all of them) to see and call this tool."""
    server: UpstreamServer = field(repr=False, compare=False)
    descriptor: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    """The MCP ``Tool`` object for ``tools/list``, built once."""


@dataclass(frozen=True)
class ServerHealth:
    server_id: str
    healthy: bool
    reason: str | None
    tools: int
    """Tools kept for this server (hidden while it is unhealthy)."""
    skipped: tuple[str, ...]
    """Why entries of its last answer were skipped."""
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "healthy": self.healthy,
            "reason": self.reason,
            "tools": self.tools,
            "skipped": list(self.skipped),
            "updated_at": self.updated_at,
        }


class _Skip(Exception):
    """Why one entry of a tools/list answer is not exposed."""


@dataclass
class _Entry:
    server: UpstreamServer | None
    tools: dict[str, CatalogTool]
    healthy: bool
    reason: str | None
    skipped: tuple[str, ...]
    updated_at: float


class _Index:
    """What ``tools/list`` needs, precomputed from the healthy servers' tools.

    Work per query is proportional to the tools the agent may see, not to the catalogue: for
    every scope a token might hold (each required scope and its ancestors), the ascending ranks
    of the one-scope tools it covers are listed once. Tools needing several scopes count hits.
    """

    def __init__(self, tools: list[CatalogTool]) -> None:
        tools.sort(key=lambda t: t.name)
        self.tools = tools
        self.by_name = {tool.name: tool for tool in tools}
        self.ranks: dict[str, list[int]] = {}
        self.needs: dict[int, int] = {}
        self.needed_by: dict[str, list[int]] = {}
        covered: dict[str, set[str]] = {}
        for rank, tool in enumerate(tools):
            if len(tool.scopes) == 1:
                for granted in ancestors(tool.scopes[0]):
                    self.ranks.setdefault(granted, []).append(rank)
                continue
            self.needs[rank] = len(tool.scopes)
            for scope in tool.scopes:
                self.needed_by.setdefault(scope, []).append(rank)
                for granted in ancestors(scope):
                    covered.setdefault(granted, set()).add(scope)
        self.covered = {granted: tuple(scopes) for granted, scopes in covered.items()}

    def visible(self, granted: Collection[str]) -> list[CatalogTool]:
        runs = [ranks for g in granted if (ranks := self.ranks.get(g))]
        if self.needs:
            runs.append(self._several_scopes(granted))
        # one run is already ascending; several may overlap (weather and weather:read both held)
        ranks = runs[0] if len(runs) == 1 else sorted({rank for run in runs for rank in run})
        tools = self.tools
        return [tools[rank] for rank in ranks]

    def _several_scopes(self, granted: Collection[str]) -> list[int]:
        required = {scope for g in granted for scope in self.covered.get(g, ())}
        hits: dict[int, int] = {}
        for scope in required:
            for rank in self.needed_by[scope]:
                hits[rank] = hits.get(rank, 0) + 1
        return sorted(rank for rank, count in hits.items() if count == self.needs[rank])


class Catalog:
    """The tools of every upstream server, by exposed name.

    ``clock`` gives the ``updated_at`` of :meth:`health`; ``cache_size`` bounds the per-scope-set
    cache of :meth:`visible_to` (emptied whenever the catalogue changes).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, cache_size: int = 256) -> None:
        self._clock = clock
        self._cache_size = cache_size
        self._entries: dict[str, _Entry] = {}
        self._index: _Index | None = None
        self._cache: dict[frozenset[str], list[CatalogTool]] = {}

    # -- changes ------------------------------------------------------------------------------
    def replace(self, server: UpstreamServer, raw_tools: Any) -> list[str]:
        """Take ``server``'s ``tools/list`` answer (the ``tools`` array) as its whole tool set.

        Returns what was skipped, one line each. Garbage (not a list, or a non-empty list with no
        usable tool) marks the server unhealthy and keeps its previous tools hidden.
        """
        if not isinstance(raw_tools, list):
            reason = f"tools/list answered {type(raw_tools).__name__}, not a list of tools"
            self.mark_unhealthy(server.id, reason, server=server)
            return [reason]
        tools: dict[str, CatalogTool] = {}
        problems: list[str] = []
        for position, raw in enumerate(raw_tools):
            try:
                tool = _tool(server, raw)
                if tool.upstream_name in tools:
                    raise _Skip(f"tool {tool.upstream_name!r} is listed twice; the first is kept")
            except _Skip as exc:
                problems.append(f"{server.id}: tools[{position}]: {exc}")
                continue
            tools[tool.upstream_name] = tool
        if problems:
            logger.warning("upstream %s: %d tool(s) skipped: %s", server.id, len(problems), problems[0])
        if raw_tools and not tools:
            self.mark_unhealthy(server.id, "tools/list answered no usable tool", server=server)
            self._entries[server.id].skipped = tuple(problems)
            return problems
        if server.id in self._entries and not self._entries[server.id].healthy:
            logger.info("upstream %s is healthy again", server.id)
        self._entries[server.id] = _Entry(server, tools, True, None, tuple(problems), self._clock())
        self._changed()
        return problems

    def remove(self, server_id: str) -> bool:
        """Forget a server and its tools (it was removed from the registry)."""
        removed = self._entries.pop(server_id, None) is not None
        if removed:
            self._changed()
        return removed

    def mark_unhealthy(self, server_id: str, reason: str, *, server: UpstreamServer | None = None) -> None:
        """Hide the server's tools until it answers well again; logged once per new reason."""
        entry = self._entries.get(server_id)
        if entry is None:
            entry = self._entries[server_id] = _Entry(server, {}, False, reason, (), self._clock())
        elif entry.healthy or entry.reason != reason:
            entry.healthy, entry.reason = False, reason
            entry.server = server or entry.server
        else:
            return
        entry.updated_at = self._clock()
        logger.warning("upstream %s is unhealthy, its tools are hidden: %s", server_id, reason)
        self._changed()

    def mark_healthy(self, server_id: str) -> None:
        """Show the server's last good tools again."""
        entry = self._entries.get(server_id)
        if entry is None or entry.healthy:
            return
        entry.healthy, entry.reason, entry.updated_at = True, None, self._clock()
        logger.info("upstream %s is healthy again", server_id)
        self._changed()

    def _changed(self) -> None:
        self._index = None
        self._cache.clear()

    # -- queries ------------------------------------------------------------------------------
    def health(self) -> dict[str, ServerHealth]:
        return {
            server_id: ServerHealth(server_id, e.healthy, e.reason, len(e.tools), e.skipped, e.updated_at)
            for server_id, e in sorted(self._entries.items())
        }

    def lookup(self, name: str) -> CatalogTool | None:
        """The tool exposed as ``name``; None when unknown or while its server is unhealthy."""
        return self._current().by_name.get(name)

    def unavailable_reason(self, name: str) -> str | None:
        """Why ``name`` cannot be called right now, when it is a known tool of an unhealthy server."""
        server_id, _, tool = name.partition(".")
        entry = self._entries.get(server_id)
        if entry is None or entry.healthy or tool not in entry.tools:
            return None
        return f"upstream {server_id!r} is unavailable: {entry.reason}"

    def visible_to(self, granted: Collection[str]) -> list[CatalogTool]:
        """The tools whose every required scope ``granted`` covers, sorted by exposed name."""
        return list(self._visible(granted))

    def list_page(
        self, granted: Collection[str], cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> tuple[list[CatalogTool], str | None]:
        """One page of ``tools/list`` for a token holding ``granted``."""
        return page(self._visible(granted), cursor, page_size)

    def __len__(self) -> int:
        """The tools ``tools/list`` can show (healthy servers only)."""
        return len(self._current().tools)

    def _visible(self, granted: Collection[str]) -> list[CatalogTool]:
        key = frozenset(granted)
        found = self._cache.get(key)
        if found is None:
            found = self._current().visible(key)
            if len(self._cache) >= self._cache_size:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = found
        return found

    def _current(self) -> _Index:
        if self._index is None:
            healthy = [t for e in self._entries.values() if e.healthy for t in e.tools.values()]
            self._index = _Index(healthy)
        return self._index


def page(
    tools: Sequence[CatalogTool], cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> tuple[list[CatalogTool], str | None]:
    """The tools after ``cursor`` (all of ``tools``, sorted by name, when None), at most
    ``page_size``, and the cursor of the next page (None on the last page)."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    start = 0
    if cursor is not None:
        start = bisect.bisect_right(tools, decode_cursor(cursor), key=lambda t: t.name)
    chunk = list(tools[start : start + page_size])
    more = start + page_size < len(tools)
    return chunk, encode_cursor(chunk[-1].name) if more else None


def encode_cursor(name: str) -> str:
    raw = (_CURSOR_PREFIX + name).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The exposed name a cursor points after; :class:`CursorError` for anything else."""
    if not isinstance(cursor, str) or not _CURSOR_CHARS.fullmatch(cursor):
        raise CursorError("the cursor is not one this server issued")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise CursorError("the cursor is not one this server issued") from None
    name = text.removeprefix(_CURSOR_PREFIX)
    if name == text or not TOOL_NAME.fullmatch(name):
        raise CursorError("the cursor is not one this server issued")
    return name


def _tool(server: UpstreamServer, raw: Any) -> CatalogTool:
    if not isinstance(raw, dict):
        raise _Skip(f"not a tool object: {type(raw).__name__}")
    upstream = raw.get("name")
    if not isinstance(upstream, str):
        raise _Skip("the tool has no string name")
    name = f"{server.id}.{upstream}"
    if not TOOL_NAME.fullmatch(upstream) or not TOOL_NAME.fullmatch(name):
        raise _Skip(f"exposed name {name[:140]!r} is not 1-128 characters of [A-Za-z0-9_.-]")
    input_schema = raw.get("inputSchema", {"type": "object"})
    output_schema, annotations = raw.get("outputSchema"), raw.get("annotations")
    title, description = raw.get("title"), raw.get("description")
    for label, value, kind, what in (
        ("inputSchema", input_schema, dict, "an object"),
        ("outputSchema", output_schema, dict | None, "an object"),
        ("annotations", annotations, dict | None, "an object"),
        ("title", title, str | None, "a string"),
        ("description", description, str | None, "a string"),
    ):
        if not isinstance(value, kind):
            raise _Skip(f"tool {upstream!r}: {label} is not {what}")
    description = server.descriptions.get(upstream, description)
    descriptor: dict[str, Any] = {"name": name, "inputSchema": input_schema}
    optional_members = (
        ("title", title),
        ("description", description),
        ("outputSchema", output_schema),
        ("annotations", annotations),
    )
    descriptor.update((key, value) for key, value in optional_members if value is not None)
    return CatalogTool(
        name=name,
        server_id=server.id,
        upstream_name=upstream,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        title=title,
        annotations=annotations,
        scopes=server.scopes_for(upstream),
        server=server,
        descriptor=descriptor,
    )


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Catalog",
    "CatalogTool",
    "CursorError",
    "ServerHealth",
    "decode_cursor",
    "encode_cursor",
    "page",
]
