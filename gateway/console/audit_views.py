"""The HTML of the audit search: a GET form of the criteria, then the events found, each a
``<details>`` that opens on its place in the chain and its fields, and a link to the next page.
Pure functions of the criteria as written and the events the store returned."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlencode

from gateway import paths
from gateway.audit.chain import StoredEvent
from gateway.console import html

FIELDS = (
    ("since", "Since", "2h, 7d, 2026-05-01T08:00:00Z"),
    ("until", "Until", "epoch seconds or RFC 3339"),
    ("type", "Types", "token_issued,tool_call"),
    ("client_id", "Client", "client id"),
    ("subject", "Subject", "person or subject"),
    ("tool", "Tool", "weather__echo"),
    ("outcome", "Outcome", "granted, refused, forwarded…"),
)
QUICK = (("1h", "last hour"), ("24h", "last 24 hours"), ("7d", "last 7 days"))


def search_page(
    asked: Mapping[str, str], found: Sequence[StoredEvent], next_after: int | None, message: str = ""
) -> str:
    inputs = "".join(
        f'<div><label for="q-{name}">{label}</label><input type="text" id="q-{name}" name="{name}" '
        f'value="{escape(asked.get(name, ""))}" placeholder="{escape(hint)}" maxlength="512"></div>'
        for name, label, hint in FIELDS
    )
    quick = " · ".join(
        f'<a href="{paths.CONSOLE_AUDIT}?{urlencode({"since": since})}">{text}</a>' for since, text in QUICK
    )
    form = (
        f'<form method="get" action="{paths.CONSOLE_AUDIT}" class="card search">'
        f'<div class="criteria">{inputs}</div>'
        '<button type="submit" class="primary">Search</button>'
        f'<a class="reset" href="{paths.CONSOLE_AUDIT}">Clear</a>'
        f'<span class="muted quick">Quick: {quick}</span></form>'
    )
    events = "".join(_event(stored) for stored in found)
    listing = (
        f'<div class="events">{events}</div>'
        if found
        else '<p class="card empty">No event matches every criterion given.</p>'
    )
    more = ""
    if next_after is not None:
        query = urlencode({**{k: v for k, v in asked.items() if v}, "after": str(next_after)})
        more = f'<p class="pager"><a href="{paths.CONSOLE_AUDIT}?{query}" rel="next">Next page →</a></p>'
    first = found[0].seq if found else None
    shown = f"Events {first} to {found[-1].seq}, oldest first." if first is not None else "Oldest first."
    return (
        "<h1>Audit search</h1>"
        '<p class="lead">The audit trail, oldest first, 50 events a page. Every criterion given must hold; '
        "the same criteria as <code>mcp-gateway audit search</code> and "
        f"<code>GET /admin/api/v1/audit/events</code>.</p>{html.notice(message)}{form}"
        f'<p class="muted">{shown}</p>{listing}{more}'
    )


def _event(stored: StoredEvent) -> str:
    index = stored.index
    actor = index.subject or index.client_id or ""
    try:
        data = stored.to_json()
        via = (data.get("actor") or {}).get("via") or ""
        details = json.dumps(
            data.get("fields", data.get("body")), indent=2, ensure_ascii=False, sort_keys=True
        )
        actor_json = json.dumps(data.get("actor", {}), ensure_ascii=False, sort_keys=True)
    except (TypeError, AttributeError):
        via, details, actor_json = "", stored.body, ""
    outcome = escape(index.outcome)
    return (
        f'<details class="event" id="seq-{stored.seq}"><summary>'
        f'<span class="seq">#{stored.seq}</span>{html.moment(index.at)}'
        f'<span class="type"><code>{escape(index.type)}</code></span>'
        f'<span class="badge {outcome}">{outcome}</span>'
        f'<span class="who">{escape(actor)}{_via(via)}</span>'
        + (f'<span class="tool"><code>{escape(index.tool)}</code></span>' if index.tool else "")
        + "</summary>"
        '<dl class="facts">'
        f"<dt>Event id</dt><dd><code>{escape(index.event_id)}</code></dd>"
        f'<dt>Hash</dt><dd><code class="url">{escape(stored.hash)}</code></dd>'
        f'<dt>Previous hash</dt><dd><code class="url">{escape(stored.prev_hash)}</code></dd>'
        f"<dt>Client</dt><dd>{_or_none(index.client_id)}</dd>"
        f"<dt>Subject</dt><dd>{_or_none(index.subject)}</dd>"
        f'<dt>Actor</dt><dd><code class="url">{escape(actor_json)}</code></dd></dl>'
        f'<pre class="arguments">{escape(details)}</pre></details>'
    )


def _via(via: str) -> str:
    return f' <span class="muted">via {escape(via)}</span>' if via else ""


def _or_none(value: str | None) -> str:
    return f"<code>{escape(value)}</code>" if value else '<span class="muted">—</span>'
