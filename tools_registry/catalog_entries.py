"""What the catalogue keeps per upstream server, and the health it reports of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool


@dataclass(frozen=True)
class ServerHealth:
    server_id: str
    healthy: bool
    reason: str | None
    tools: int
    """Tools kept for this server (hidden while it is unhealthy), withheld names left out."""
    skipped: tuple[str, ...]
    """Why entries of its last answer were skipped, then why any of its names are withheld."""
    updated_at: float
    held: tuple[str, ...] = ()
    """Its tools held until their definition is approved (upstream names), not counted in ``tools``."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "healthy": self.healthy,
            "reason": self.reason,
            "tools": self.tools,
            "skipped": list(self.skipped),
            "updated_at": self.updated_at,
            "held": list(self.held),
        }


@dataclass
class ServerEntry:
    server: UpstreamServer | None
    tools: dict[str, CatalogTool]
    healthy: bool
    reason: str | None
    skipped: tuple[str, ...]
    updated_at: float
    held: dict[str, str] = field(default_factory=dict)
    """Upstream name -> why the tool is held (its definition is not the approved one)."""


__all__ = ["ServerEntry", "ServerHealth"]
