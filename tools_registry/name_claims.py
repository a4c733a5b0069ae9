"""Which tool owns each exposed name when tools of several servers claim the same one.

Within one server the catalogue keeps the first tool listed under a name (a later one is skipped).
Across servers, ids checked by :func:`tools_registry.tool_names.check_server_id` never meet; ids
registered before that check or under another separator still can (``a_`` + ``__`` + ``c`` and
``a`` + ``__`` + ``_c`` are both ``a___c``). Such a name is then withheld from every server that
claims it, healthy or not, and each of them reports why: no server's tool ever answers to a name
an agent saw for another server's, whichever was discovered first, on whichever replica. The
outcome is a pure function of the catalogue's contents, never of the order of discovery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tools_registry.tool_entries import CatalogTool


@dataclass(frozen=True)
class Claims:
    """The settled names: who owns each, and what each server lost."""

    owners: Mapping[str, CatalogTool]
    """Every exposed name claimed by exactly one server, and its tool."""
    withheld: Mapping[str, tuple[str, ...]]
    """Per server id, one line for each of its tools withheld because another server claims its name."""


def settle(tools_by_server: Mapping[str, Iterable[CatalogTool]]) -> Claims:
    """The owners of all names of ``tools_by_server`` (each server's tools have distinct names).

    >>> from tools_registry.servers import UpstreamServer
    >>> from tools_registry.tool_entries import read_tool
    >>> a, a_ = UpstreamServer("a", "https://a.example"), UpstreamServer("a_", "https://b.example")
    >>> claims = settle({"a": [read_tool(a, {"name": "_c"})], "a_": [read_tool(a_, {"name": "c"})]})
    >>> dict(claims.owners), claims.withheld["a"]
    ({}, ("a: tool '_c': exposed name 'a___c' is also claimed by server 'a_'; withheld from all of them",))
    """
    claimants: dict[str, list[CatalogTool]] = {}
    for server_id in sorted(tools_by_server):
        for tool in tools_by_server[server_id]:
            claimants.setdefault(tool.name, []).append(tool)
    owners: dict[str, CatalogTool] = {}
    withheld: dict[str, list[str]] = {}
    for name, tools in claimants.items():
        if len(tools) == 1:
            owners[name] = tools[0]
            continue
        for tool in tools:
            others = ", ".join(repr(t.server_id) for t in tools if t is not tool)
            withheld.setdefault(tool.server_id, []).append(
                f"{tool.server_id}: tool {tool.upstream_name!r}: exposed name {name!r} is also claimed "
                f"by server {others}; withheld from all of them"
            )
    return Claims(owners, {server_id: tuple(lines) for server_id, lines in withheld.items()})


__all__ = ["Claims", "settle"]
