"""Which tool owns each exposed name when tools of several servers claim the same one.

Within one server the catalogue keeps the first tool listed under a name (a later one is skipped).
Across servers, ids checked by :func:`tools_registry.tool_names.check_server_id` never meet; ids
registered before that check or under another separator still can (``a_`` + ``__`` + ``c`` and
``a`` + ``__`` + ``_c`` are both ``a___c``). Such a name is then withheld from every server that
claims it, healthy or not, and each of them reports why: no server's tool ever answers to a name
an agent saw for another server's, whichever was discovered first, on whichever replica. The
outcome depends only on which tools each server has, never on the order of discovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tools_registry.tool_entries import CatalogTool


class NameClaims:
    """The exposed names every server's tools claim, kept up to date one server at a time.

    >>> from tools_registry.servers import UpstreamServer
    >>> from tools_registry.tool_entries import read_tool
    >>> a, a_ = UpstreamServer("a", "https://a.example"), UpstreamServer("a_", "https://b.example")
    >>> claims = NameClaims()
    >>> claims.claim([read_tool(a, {"name": "_c"})])
    >>> claims.claim([read_tool(a_, {"name": "c"})])
    >>> claims.owner("a___c") is None, claims.withheld()["a"]
    (True, ("a: tool '_c': exposed name 'a___c' is also claimed by server 'a_'; withheld from all of them",))
    """

    def __init__(self) -> None:
        self._claimants: dict[str, dict[str, CatalogTool]] = {}
        self._contested: set[str] = set()

    def claim(self, tools: Iterable[CatalogTool]) -> None:
        """Add the claims of ``tools`` (one server's, with distinct names)."""
        for tool in tools:
            claimants = self._claimants.setdefault(tool.name, {})
            claimants[tool.server_id] = tool
            if len(claimants) > 1:
                self._contested.add(tool.name)

    def release(self, tools: Iterable[CatalogTool]) -> None:
        """Drop the claims of ``tools`` (a server's previous tools, or a removed server's)."""
        for tool in tools:
            claimants = self._claimants.get(tool.name, {})
            if claimants.get(tool.server_id) is not tool:
                continue
            del claimants[tool.server_id]
            if len(claimants) < 2:
                self._contested.discard(tool.name)
            if not claimants:
                del self._claimants[tool.name]

    def owner(self, name: str) -> CatalogTool | None:
        """The one tool exposed as ``name``; None when nobody claims it or several servers do."""
        claimants = self._claimants.get(name)
        if claimants is None or name in self._contested:
            return None
        return next(iter(claimants.values()))

    def owned(self) -> Iterator[CatalogTool]:
        """Every tool whose name no other server claims."""
        for name, claimants in self._claimants.items():
            if name not in self._contested:
                yield from claimants.values()

    def withheld(self) -> dict[str, tuple[str, ...]]:
        """Per server id, one line for each of its tools withheld because another server claims its name."""
        lines: dict[str, list[str]] = {}
        for name in sorted(self._contested):
            claimants = self._claimants[name]
            for server_id in sorted(claimants):
                others = ", ".join(repr(other) for other in sorted(claimants) if other != server_id)
                lines.setdefault(server_id, []).append(
                    f"{server_id}: tool {claimants[server_id].upstream_name!r}: exposed name {name!r} is "
                    f"also claimed by server {others}; withheld from all of them"
                )
        return {server_id: tuple(found) for server_id, found in lines.items()}


__all__ = ["NameClaims"]
