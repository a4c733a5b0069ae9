"""The catalogue of discovered tools: each server's tools, its health, and what each token sees.

Each upstream server's ``tools/list`` answer goes through :meth:`Catalog.replace`, which exposes
tool ``t`` of server ``s`` under the name :func:`tools_registry.tool_names.exposed_name` gives
(``s__t`` by default; :mod:`tools_registry.tool_entries` reads each entry; one that cannot be
exposed is skipped and reported, the rest of that server's tools are kept). Two tools never share
a name: within one server the first listed keeps it and a later one is skipped; across servers the
name is withheld from all of them (:mod:`tools_registry.name_claims`). Both are reported in
:meth:`Catalog.health` and by :meth:`Catalog.replace`.

Health: an answer that is not a list, or a non-empty list with no usable tool, marks the server
unhealthy, as does :meth:`Catalog.mark_unhealthy` (a timeout, an HTTP error). While unhealthy, a
server's tools are hidden from ``tools/list`` and :meth:`Catalog.lookup` does not find them, so a
call fails at once instead of waiting for the upstream's timeout;
:meth:`Catalog.unavailable_reason` says why. Its last good tools are kept (and keep their names)
and come back with :meth:`Catalog.mark_healthy` or the next good answer. Other servers are not
affected.

Pinning (TP-4): :meth:`Catalog.replace` may be told the approved definition hash of each tool;
a tool whose definition has another hash is *held*: kept (with its name) but, like the tools of an
unhealthy server, neither listed nor found, and :meth:`Catalog.unavailable` says it awaits
approval. :meth:`Catalog.approve` serves it once its hash is approved. The decision is taken here,
when the answer is taken, so ``tools/list`` and ``tools/call`` pay nothing for it.

Screening (TS-9): each entry is screened as the catalogue reads it
(:func:`tools_registry.tool_entries.read_tool`): a refused one is skipped with its reason,
agents see the cleaned one, and its flags travel with the tool to the pin keeper (TP-7). A claim on
another server's namespace (TS-7) is judged against every registered server, discovered or not:
the ``namespaces`` callable (the gateway passes its registry's), never the servers discovered so
far, so what is exposed does not depend on the order of discovery (UP-6).

Reading is pure and may run off the event loop: screening costs about 0.4 ms per definition, two
seconds for one server at the 5,000-tool cap, so discovery runs :meth:`Catalog.reader`'s function
in a worker thread and hands its result to :meth:`Catalog.replace`, which alone changes the
catalogue, on the loop. The reader is fixed on the loop (the separator, and the namespaces read
then), so the thread touches nothing the loop may change meanwhile.

``tools/list`` for an agent is :meth:`Catalog.visible_to` (the tools whose every scope its token
covers: :mod:`tools_registry.visibility`), sorted by exposed name, then paged
(:mod:`tools_registry.pagination`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any

from tools_registry.catalog_entries import ServerEntry, ServerHealth
from tools_registry.name_claims import NameClaims
from tools_registry.pagination import DEFAULT_PAGE_SIZE, page
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool, Read, read_tools
from tools_registry.tool_names import DEFAULT_SEPARATOR, check_separator
from tools_registry.visibility import VisibilityIndex

logger = logging.getLogger("tools_registry")


class Catalog:
    """The tools of every upstream server, by exposed name.

    ``separator`` joins server id and tool name (:mod:`tools_registry.tool_names`). ``clock``
    gives the ``updated_at`` of :meth:`health`, in seconds since the epoch: a callable, since this
    package never imports the gateway (the gateway passes its ``Clock``'s ``now``). ``cache_size``
    bounds the per-scope-set cache of :meth:`visible_to` (emptied whenever the catalogue changes).
    ``namespaces`` gives the ids of the registered servers, read at each discovery: another
    server's namespace named in a definition refuses it (TS-7), even before that server's tools
    were ever discovered.
    """

    def __init__(
        self,
        *,
        separator: str = DEFAULT_SEPARATOR,
        clock: Callable[[], float] = time.time,
        cache_size: int = 256,
        namespaces: Callable[[], Collection[str]] = tuple,
    ) -> None:
        self._separator = check_separator(separator)
        self._clock = clock
        self._cache_size = cache_size
        self._entries: dict[str, ServerEntry] = {}
        self._claims = NameClaims()
        self._withheld: dict[str, tuple[str, ...]] | None = None
        self._index: VisibilityIndex | None = None
        self._cache: dict[frozenset[str], list[CatalogTool]] = {}
        self._namespaces = namespaces

    # -- changes ------------------------------------------------------------------------------
    def replace(
        self,
        server: UpstreamServer,
        raw_tools: Any,
        approved: Mapping[str, str] | None = None,
        found: Read | None = None,
    ) -> list[str]:
        """Take ``server``'s ``tools/list`` answer (the ``tools`` array) as its whole tool set.

        Returns what was skipped, one line each. Garbage (not a list, or a non-empty list with no
        usable tool) marks the server unhealthy and keeps its previous tools hidden. ``approved``:
        the approved definition hash per upstream tool name; a tool of another hash is held (None:
        nothing is pinned, every tool is served). ``found``: this very answer as :meth:`reader`
        read it already (discovery reads it in a worker thread, for the pins), so its definitions
        are screened once, not twice.
        """
        if not isinstance(raw_tools, list):
            reason = f"tools/list answered {type(raw_tools).__name__}, not a list of tools"
            self.mark_unhealthy(server.id, reason, server=server)
            return [reason]
        tools, problems = found if found is not None else self.reader(server)(raw_tools)
        if problems:
            logger.warning("upstream %s: %d tool(s) skipped: %s", server.id, len(problems), problems[0])
        if raw_tools and not tools:
            self.mark_unhealthy(server.id, "tools/list answered no usable tool", server=server)
            self._entries[server.id].skipped = tuple(problems)
            return problems
        if server.id in self._entries and not self._entries[server.id].healthy:
            logger.info("upstream %s is healthy again", server.id)
        previous = self._entries.get(server.id)
        self._claims.release(previous.tools.values() if previous is not None else ())
        self._claims.claim(tools.values())
        held = {
            name: f"tool {name!r} of upstream {server.id!r} awaits approval: its definition "
            f"(sha256 {tool.definition_hash[:12]}…) is not the approved one"
            for name, tool in tools.items()
            if approved is not None and approved.get(name) != tool.definition_hash
        }
        now = self._clock()
        self._entries[server.id] = ServerEntry(server, tools, True, None, tuple(problems), now, held)
        self._changed()
        withheld = self._withheld_names().get(server.id, ())
        if withheld:
            logger.warning("upstream %s: %d tool name(s) withheld: %s", server.id, len(withheld), withheld[0])
        return [*problems, *withheld]

    def reader(self, server: UpstreamServer) -> Callable[[list[Any]], Read]:
        """How an answer of ``server`` is read (:func:`tools_registry.tool_entries.read_tools`), fixed
        now: a pure function of the answer, which a worker thread may run while the loop goes on."""
        namespaces = frozenset({*self._namespaces(), server.id})
        return partial(read_tools, server, separator=self._separator, namespaces=namespaces)

    def read(self, server: UpstreamServer, raw_tools: list[Any]) -> dict[str, CatalogTool]:
        """The usable tools of one answer by upstream name, as :meth:`replace` would take them."""
        return self.reader(server)(raw_tools)[0]

    def approve(self, server_id: str, upstream_name: str, definition_hash: str) -> bool:
        """Serve a held tool now that ``definition_hash`` is approved; True when it was held with it."""
        entry = self._entries.get(server_id)
        tool = entry.tools.get(upstream_name) if entry is not None else None
        if entry is None or tool is None or tool.definition_hash != definition_hash:
            return False
        if entry.held.pop(upstream_name, None) is None:
            return False
        self._changed()
        return True

    def remove(self, server_id: str) -> bool:
        """Forget a server and its tools (it was removed from the registry)."""
        removed = self._entries.pop(server_id, None)
        if removed is not None:
            self._claims.release(removed.tools.values())
            self._changed()
        return removed is not None

    def mark_unhealthy(self, server_id: str, reason: str, *, server: UpstreamServer | None = None) -> None:
        """Hide the server's tools until it answers well again; logged once per new reason."""
        entry = self._entries.get(server_id)
        if entry is None:
            entry = self._entries[server_id] = ServerEntry(server, {}, False, reason, (), self._clock())
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
        self._withheld = None
        self._index = None
        self._cache.clear()

    # -- queries ------------------------------------------------------------------------------
    def health(self) -> dict[str, ServerHealth]:
        withheld = self._withheld_names()
        report: dict[str, ServerHealth] = {}
        for server_id, e in sorted(self._entries.items()):
            lost = withheld.get(server_id, ())
            tools = len(e.tools) - len(lost) - len(e.held)
            report[server_id] = ServerHealth(
                server_id,
                e.healthy,
                e.reason,
                tools,
                (*e.skipped, *lost),
                e.updated_at,
                tuple(sorted(e.held)),
            )
        return report

    def lookup(self, name: str) -> CatalogTool | None:
        """The tool exposed as ``name``; None when unknown, withheld, or while its server is unhealthy."""
        return self._current().by_name.get(name)

    def unavailable(self, name: str) -> tuple[CatalogTool, str] | None:
        """A known tool of an unhealthy server, or held until its definition is approved, and why it
        cannot be called right now. The caller checks the tool's scopes before it tells anyone why
        (the reason names upstream details)."""
        tool = self._claims.owner(name)
        entry = self._entries.get(tool.server_id) if tool is not None else None
        if tool is None or entry is None:
            return None
        if not entry.healthy:
            return tool, f"upstream {tool.server_id!r} is unavailable: {entry.reason}"
        held = entry.held.get(tool.upstream_name)
        return (tool, held) if held is not None else None

    def held(self, tool: CatalogTool) -> bool:
        """Whether ``tool`` is held until its definition is approved (TP-4)."""
        entry = self._entries.get(tool.server_id)
        return entry is not None and tool.upstream_name in entry.held

    def unavailable_reason(self, name: str) -> str | None:
        """Why ``name`` cannot be called right now (:meth:`unavailable`)."""
        found = self.unavailable(name)
        return found[1] if found is not None else None

    def tools(self) -> list[CatalogTool]:
        """Every tool ``tools/list`` can show (healthy servers only), sorted by exposed name."""
        return list(self._current().tools)

    def visible_to(self, granted: Collection[str]) -> list[CatalogTool]:
        """The tools whose every required scope ``granted`` covers, sorted by exposed name."""
        return list(self._visible(granted))

    def list_page(
        self, granted: Collection[str], cursor: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> tuple[list[CatalogTool], str | None]:
        """One page of ``tools/list`` for a token holding ``granted``."""
        return page(self._visible(granted), cursor, page_size)

    def hidden_from(self, granted: Collection[str]) -> int:
        """How many tools ``tools/list`` can show that ``granted`` does not cover."""
        return len(self) - len(self._visible(granted))

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

    def _withheld_names(self) -> dict[str, tuple[str, ...]]:
        """Why tools are withheld, per server. Every kept tool claims its name, its server healthy
        or not: a server that goes down keeps its names, they never pass to another's tools."""
        if self._withheld is None:
            self._withheld = self._claims.withheld()
        return self._withheld

    def _current(self) -> VisibilityIndex:
        if self._index is None:
            entries = self._entries
            self._index = VisibilityIndex(
                [t for t in self._claims.owned() if _served(entries[t.server_id], t.upstream_name)]
            )
        return self._index


def _served(entry: ServerEntry, upstream_name: str) -> bool:
    return entry.healthy and upstream_name not in entry.held


__all__ = ["Catalog", "ServerHealth"]
