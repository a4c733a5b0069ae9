"""The HTML of tool state for tool authors: the servers at the top of ``/admin/tools``, and one
server's page with every tool its records name (:mod:`gateway.console.tool_states`).

Pure functions; every name, URL and reason is escaped. A pinned hash is shown short (its first
12 hex digits, the whole one in its title), as ``tools review`` names it; the pending page shows the
whole one, which is what a decision names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from gateway import paths
from gateway.console import html
from gateway.console.pending_views import PENDING, definition_path, server_path
from gateway.console.tool_states import ServerTools, ToolState
from gateway.console.trail_usage import SCAN_BOUND, ToolUsage
from gateway.upstream.pin_records import PendingDefinition
from tools_registry.catalog import ServerHealth
from tools_registry.servers import UpstreamServer


def _health(health: ServerHealth | None) -> str:
    if health is None:
        return html.badge("not discovered")
    return html.badge("up" if health.healthy else "unhealthy")


def servers_overview(
    servers: Sequence[UpstreamServer],
    health: Mapping[str, ServerHealth],
    pending: Sequence[PendingDefinition],
    rejected: Sequence[PendingDefinition],
    top: str = "",
) -> str:
    """The link to what waits, and one row per registered server with its tools' states; ``top``
    (markup) comes under the servers' heading: the link to register one, for those who may."""
    waiting = len(pending)
    link = (
        f'<p class="card"><strong>{waiting} tool definition{"s" if waiting != 1 else ""} '
        f"{'wait' if waiting != 1 else 'waits'} for approval.</strong> "
        f'<a href="{PENDING}">Review pending definitions</a></p>'
        if waiting
        else f'<p class="card muted">No tool definition waits for approval. '
        f'<a href="{PENDING}">Pending definitions</a></p>'
    )
    rows = "".join(_server_row(s, health.get(s.id), pending, rejected) for s in servers)
    table = (
        "<table><caption>Open a server to see each of its tools: its state, scopes, pin and "
        'recent calls.</caption><thead><tr><th scope="col">Server</th><th scope="col">Health</th>'
        '<th scope="col">Pinning</th><th scope="col">Serving</th><th scope="col">Pending</th>'
        f'<th scope="col">Quarantined</th></tr></thead><tbody>{rows}</tbody></table>'
        if servers
        else '<p class="card empty">No upstream server is registered.</p>'
    )
    return f"{link}<h2>Servers</h2>{top}{table}<h2>Tools serving</h2>"


def _server_row(
    server: UpstreamServer,
    health: ServerHealth | None,
    pending: Sequence[PendingDefinition],
    rejected: Sequence[PendingDefinition],
) -> str:
    waiting = sum(1 for p in pending if p.server_id == server.id)
    out = sum(1 for p in rejected if p.server_id == server.id)
    serving = health.tools if health is not None and health.healthy else 0
    return (
        f'<tr><td><a href="{server_path(server.id)}"><code>{escape(server.id)}</code></a><br>'
        f'<span class="muted">{escape(server.url)}</span></td><td>{_health(health)}'
        + (
            f'<br><span class="muted">{escape(health.reason or "")}</span>'
            if health and not health.healthy
            else ""
        )
        + f"</td><td><code>{escape(server.pinning)}</code></td>"
        f'<td class="num">{serving}</td><td class="num{" bad" if waiting else ""}">{waiting}</td>'
        f'<td class="num">{out}</td></tr>'
    )


def server_page(
    found: ServerTools,
    states: Sequence[ToolState],
    usage: ToolUsage,
    descriptions: Mapping[str, str],
    top: str = "",
) -> str:
    """One server's page; ``top`` (markup) comes under the lead: a notice, the links that change it."""
    server, health = found.server, found.health
    facts = [
        ("Address", f'<code class="url">{escape(server.url)}</code>' if server else _unregistered()),
        *(
            [("OpenAPI document", f'<code class="url">{escape(server.openapi)}</code>')]
            if server and server.kind == "openapi"
            else []
        ),
        ("Pinning", f"<code>{escape(server.pinning)}</code>" if server else '<span class="muted">—</span>'),
        (
            "Health",
            _health(health) + (f" {escape(health.reason or '')}" if health and not health.healthy else ""),
        ),
        ("Last discovery", html.moment(health.updated_at if health else None)),
    ]
    if health is not None and health.skipped:
        facts.append(("Skipped", "<br>".join(escape(line) for line in health.skipped)))
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    rows = "".join(_tool_row(state, descriptions) for state in states)
    table = (
        '<table><thead><tr><th scope="col">Tool</th><th scope="col">State</th>'
        '<th scope="col">Requires</th><th scope="col">Pinned</th><th scope="col">Calls</th>'
        '<th scope="col">Upstream errors</th><th scope="col">Refused</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
        if states
        else '<p class="card empty">This server has no tool on record yet.</p>'
    )
    cut = (
        ""
        if usage.complete
        else html.notice(f"Only the newest {SCAN_BOUND:,} events were read: counts are a lower bound.")
    )
    return (
        f'<p><a href="{paths.CONSOLE_TOOLS}">← Tools</a></p>'
        f"<h1>Server <code>{escape(found.server_id)}</code></h1>"
        f'<p class="lead">Each tool its records name, what calling it takes, its pinned definition, '
        f"and its calls since {html.moment(usage.since)} (the last 24 hours of the audit trail).</p>"
        f'{top}{cut}<div class="card"><dl class="facts">{listed}</dl></div>{table}'
    )


def _unregistered() -> str:
    return '<span class="muted">not registered now: what is shown comes from its records</span>'


def _tool_row(state: ToolState, descriptions: Mapping[str, str]) -> str:
    waiting = state.pending
    link = (
        f'<br><a href="{definition_path(waiting.server_id, waiting.tool)}">'
        f"{'review the pending definition' if waiting.status == 'pending' else 'the rejected definition'}</a>"
        if waiting is not None
        else ""
    )
    pin = state.pin
    pinned = (
        f'<code title="{escape(pin.hash)}">{escape(pin.hash[:12])}</code><br>'
        f'<span class="muted">by {escape(pin.approved_by)}, {html.moment(pin.approved_at)}</span>'
        if pin is not None
        else '<span class="muted">nothing yet</span>'
    )
    use = state.use
    return (
        f'<tr id="tool-{escape(state.tool)}"><td><code>{escape(state.tool)}</code><br>'
        f'<span class="muted">as <code>{escape(state.exposed)}</code></span></td>'
        f"<td>{html.badge(state.state)}{link}</td>"
        f"<td>{html.scope_list(state.scopes, descriptions)}</td><td>{pinned}</td>"
        f'<td class="num">{use.calls}</td><td class="num{" bad" if use.upstream_errors else ""}">'
        f'{use.upstream_errors}</td><td class="num">{use.refused}</td></tr>'
    )
