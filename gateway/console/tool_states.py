"""What state each tool of one upstream server is in, for the people who author and keep tools.

A pure function of what the catalogue serves, its health report, the server's pins and pending
records, and recent use. The catalogue lists only what it serves (TP-4), so the tools it holds or
hides are found in the pin records and in the health report's held names:

    unhealthy    the server does not answer well: none of its tools serve (UP-1)
    serving      listed and callable (its definition is the pinned one)
    pending      a new or changed definition waits for a security admin (TP-5)
    quarantined  a security admin rejected the definition its upstream serves
    not listed   pinned once, but its upstream lists it no longer (or its name is withheld, UP-6)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.console.trail_usage import ToolUsage, ToolUse
from gateway.upstream.pin_records import PendingDefinition, Pin
from tools_registry.catalog import ServerHealth
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool
from tools_registry.tool_names import exposed_name


@dataclass(frozen=True)
class ToolState:
    tool: str
    """The tool's name at its upstream."""
    exposed: str
    """Its name in ``tools/list``: what the audit trail's ``tool_call`` events name."""
    state: str
    scopes: tuple[str, ...]
    pin: Pin | None
    pending: PendingDefinition | None
    use: ToolUse


@dataclass(frozen=True)
class ServerTools:
    """One server's own records: what the catalogue serves of it and what the pin book holds."""

    server_id: str
    server: UpstreamServer | None
    health: ServerHealth | None
    served: Sequence[CatalogTool]
    pins: Mapping[str, Pin]
    pending: Mapping[str, PendingDefinition]

    @property
    def known(self) -> bool:
        return bool(self.server or self.health or self.pins or self.pending)


def tool_states(found: ServerTools, usage: ToolUsage, separator: str) -> list[ToolState]:
    """Every tool the server's records name, by upstream name."""
    served = {tool.upstream_name: tool for tool in found.served}
    held = set(found.health.held) if found.health else set()
    names = sorted({*served, *held, *found.pins, *found.pending})
    states = []
    for name in names:
        tool = served.get(name)
        exposed = tool.name if tool else exposed_name(found.server_id, name, separator)
        states.append(
            ToolState(
                tool=name,
                exposed=exposed,
                state=state_of(name, served, held, found.health, found.pending.get(name)),
                scopes=_scopes(found, name, tool),
                pin=found.pins.get(name),
                pending=found.pending.get(name),
                use=usage.tools.get(exposed, ToolUse()),
            )
        )
    return states


def state_of(
    name: str,
    served: Mapping[str, CatalogTool],
    held: set[str],
    health: ServerHealth | None,
    pending: PendingDefinition | None,
) -> str:
    """The one state a person reads first (the table says more: a pending definition of a tool
    that is down, say)."""
    if health is not None and not health.healthy:
        return "unhealthy"
    if name in served:
        return "serving"
    if pending is not None:
        return "pending" if pending.status == "pending" else "quarantined"
    return "pending" if name in held else "not listed"


def _scopes(found: ServerTools, name: str, tool: CatalogTool | None) -> tuple[str, ...]:
    if found.server is not None:
        return found.server.scopes_for(name)
    return tool.scopes if tool else ()


__all__ = ["ServerTools", "ToolState", "state_of", "tool_states"]
