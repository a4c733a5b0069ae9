"""Which tools a token may see: every tool whose required scopes its granted scopes all cover.

The rule is :func:`tools_registry.scopes.covers`; :class:`VisibilityIndex` answers it for a whole
catalogue at once, fast enough for every ``tools/list``.
"""

from __future__ import annotations

from collections.abc import Collection

from tools_registry.scopes import ancestors
from tools_registry.tool_entries import CatalogTool


class VisibilityIndex:
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
        """The tools ``granted`` covers, sorted by exposed name."""
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


__all__ = ["VisibilityIndex"]
