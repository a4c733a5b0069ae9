"""The catalogue as the MCP endpoint sees it: pages of tool descriptors and tool lookups."""

from __future__ import annotations

from typing import Any

from tools_registry.catalog import Catalog
from tools_registry.scopes import missing
from tools_registry.tool_entries import CatalogTool


class CatalogDirectory:
    def __init__(self, catalog: Catalog, page_size: int = 100, ttl_ms: int = 60_000) -> None:
        self._catalog = catalog
        self._page_size = page_size
        self.ttl_ms = ttl_ms

    def visible(
        self, granted: tuple[str, ...], cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the tools ``granted`` covers; a cursor we did not issue is ``ValueError``."""
        tools, next_cursor = self._catalog.list_page(granted, cursor, self._page_size)
        return [dict(tool.descriptor) for tool in tools], next_cursor

    def hidden_from(self, granted: tuple[str, ...]) -> int:
        """How many listable tools ``granted`` does not cover (hidden by scope)."""
        return self._catalog.hidden_from(granted)

    def lookup(self, name: str) -> CatalogTool | None:
        return self._catalog.lookup(name)

    def unavailable(self, name: str) -> tuple[CatalogTool, str] | None:
        return self._catalog.unavailable(name)

    def held(self, tool: CatalogTool) -> bool:
        """Whether the tool's definition awaits approval (TP-4)."""
        return self._catalog.held(tool)

    @staticmethod
    def missing_scopes(granted: tuple[str, ...], required: tuple[str, ...]) -> tuple[str, ...]:
        return missing(granted, required)
