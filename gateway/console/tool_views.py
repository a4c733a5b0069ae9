"""The HTML of the tools page and of the access graph. Pure functions of what
:mod:`gateway.console.holdings` and :mod:`gateway.console.trail_usage` found.

The graph reads left to right without a script: each client, the grants that allow something now,
and under each grant the upstreams and tools its scopes reach; tools a client reaches only through
several grants together are listed under "through several grants".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

from gateway.console import html
from gateway.console.holdings import Holdings, callers
from gateway.console.trail_usage import SCAN_BOUND, ToolUsage, ToolUse
from tools_registry.catalog import ServerHealth
from tools_registry.tool_entries import CatalogTool


def tools_page(
    tools: Sequence[CatalogTool],
    holdings: Sequence[Holdings],
    usage: ToolUsage,
    health: Mapping[str, ServerHealth],
    descriptions: Mapping[str, str],
    overview: str = "",
) -> str:
    """The tools page; ``overview`` (markup) comes first under the lead: what waits, each server."""
    able = callers(holdings)
    rows = "".join(
        _tool_row(t, able.get(t.name, []), usage.tools.get(t.name, ToolUse()), health, descriptions)
        for t in tools
    )
    table = (
        '<table><thead><tr><th scope="col">Tool</th><th scope="col">Requires</th>'
        '<th scope="col">Upstream</th>'
        '<th scope="col">Clients that can call it now</th><th scope="col">Calls</th>'
        '<th scope="col">Upstream errors</th><th scope="col">Error rate</th><th scope="col">Refused</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
        if tools
        else '<p class="card empty">No upstream has answered with tools yet.</p>'
    )
    cut = (
        ""
        if usage.complete
        else html.notice(
            f"The last 24 hours hold more than {SCAN_BOUND:,} events: only the newest were read, and "
            "the counts below are a lower bound."
        )
    )
    return (
        "<h1>Tools</h1>"
        f'<p class="lead">Every tool of the catalogue, what calling it takes, and how it was called since '
        f"{html.moment(usage.since)} (the last 24 hours of the audit trail, read among its newest "
        f"{SCAN_BOUND:,} events). "
        "The error rate is upstream errors over calls that reached the upstream; refusals by the "
        f"gateway are counted apart.</p>{overview}{cut}{table}"
    )


def _tool_row(
    tool: CatalogTool,
    able: Sequence[str],
    use: ToolUse,
    health: Mapping[str, ServerHealth],
    descriptions: Mapping[str, str],
) -> str:
    about = tool.title or tool.description or ""
    state = health.get(tool.server_id)
    up = state is None or state.healthy
    badge = f'<span class="badge {"active" if up else "revoked"}">{"up" if up else "down"}</span>'
    clients = (
        '<ul class="scopes">' + "".join(f"<li><code>{escape(c)}</code></li>" for c in able) + "</ul>"
        if able
        else '<span class="muted">none</span>'
    )
    rate = "—" if use.error_rate is None else f"{use.error_rate:.0%}"
    flagged = " bad" if use.error_rate else ""
    return (
        f'<tr id="tool-{escape(tool.name)}"><td><code>{escape(tool.name)}</code>'
        + (f'<br><span class="muted">{escape(about[:140])}</span>' if about else "")
        + f"</td><td>{html.scope_list(tool.scopes, descriptions)}</td>"
        f"<td><code>{escape(tool.server_id)}</code> {badge}<br>"
        f'<span class="muted">{escape(tool.server.url)}</span></td><td>{clients}</td>'
        f'<td class="num">{use.calls}</td><td class="num">{use.upstream_errors}</td>'
        f'<td class="num{flagged}">{rate}</td><td class="num">{use.refused}</td></tr>'
    )


def access_graph(holdings: Sequence[Holdings], now: float, suspend_overdue: bool) -> str:
    clients = "".join(_client_branch(held, now, suspend_overdue) for held in holdings)
    return (
        "<h1>Access graph</h1>"
        '<p class="lead">Who can reach what, now: each client, the grants that allow something, and the '
        "upstreams and tools their scopes reach. Revoked, expired, suspended and void grants are left "
        "out.</p>"
        + (f'<ul class="graph">{clients}</ul>' if clients else '<p class="card empty">No client.</p>')
    )


def _client_branch(held: Holdings, now: float, suspend_overdue: bool) -> str:
    live = [g for g in held.grants if not g.void and g.grant.status(now, suspend_overdue) == "active"]
    reached = {tool.name for g in live for tool in g.tools}
    together = [tool for tool in held.tools if tool.name not in reached]
    grants = "".join(
        f'<li><span class="node grant">{"standing" if g.grant.standing else "grant"} '
        f"<code>{escape(g.grant.grant_id)}</code> {_codes(g.grant.scopes)}"
        f"</span>{_upstreams(g.tools)}</li>"
        for g in live
    )
    if together:
        grants += f'<li><span class="node grant">through several grants</span>{_upstreams(together)}</li>'
    name = f" {escape(held.client.name)}" if held.client.name else ""
    count = len(held.tools)
    return (
        f'<li><span class="node client"><code>{escape(held.client.client_id)}</code>{name}'
        f' <span class="muted">· {count} tool{"s" if count != 1 else ""}</span></span>'
        + (f"<ul>{grants}</ul>" if grants else '<ul><li><span class="muted">holds nothing</span></li></ul>')
        + "</li>"
    )


def _codes(names: Iterable[str]) -> str:
    return " ".join(f"<code>{escape(name)}</code>" for name in names)


def _upstreams(tools: Iterable[CatalogTool]) -> str:
    by_server: dict[str, list[CatalogTool]] = {}
    for tool in tools:
        by_server.setdefault(tool.server_id, []).append(tool)
    if not by_server:
        return '<ul><li><span class="muted">no tool of the catalogue</span></li></ul>'
    branches = "".join(
        f'<li><span class="node upstream">upstream <code>{escape(server)}</code></span><ul class="tools">'
        + "".join(f'<li><code class="tool">{escape(t.upstream_name)}</code></li>' for t in found)
        + "</ul></li>"
        for server, found in sorted(by_server.items())
    )
    return f"<ul>{branches}</ul>"
