"""The HTML of the clients page: one card per client with its grants, its last use and live tokens,
and, for a security admin, the forms that revoke a grant or every token of the client. Pure
functions of what :mod:`gateway.console.holdings` and :mod:`gateway.console.trail_usage` found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from gateway import paths
from gateway.console import html
from gateway.console.grant_views import CHANGEABLE, revoke_form
from gateway.console.holdings import HeldGrant, Holdings
from gateway.console.trail_usage import ClientActivity, ClientUsage
from gateway.console.visitors import Visitor

REVOKE_GRANT = paths.CONSOLE_CLIENTS + "/revoke-grant"
REVOKE_TOKENS = paths.CONSOLE_CLIENTS + "/revoke-tokens"


@dataclass(frozen=True)
class Shown:
    """What every part of the page needs besides the client."""

    visitor: Visitor
    descriptions: Mapping[str, str]
    now: float
    suspend_overdue: bool
    may_revoke: bool


def anchor(client_id: str) -> str:
    """The id of a client's card (client ids may hold any printable character)."""
    return "client-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in client_id)


def clients_page(
    holdings: Sequence[Holdings], usage: ClientUsage, shown: Shown, message: str = "", done: str = ""
) -> str:
    cards = "".join(
        _card(held, usage.clients.get(held.client.client_id, ClientActivity()), shown) for held in holdings
    )
    cut = (
        ""
        if usage.complete
        else html.notice(
            "The last 24 hours hold more events than one page reads: only the newest were read, so a "
            "client may be shown as unused when it was used earlier."
        )
    )
    return (
        "<h1>Clients</h1>"
        f'<p class="lead">Every client the gateway knows, what it holds and how it was used since '
        f"{html.moment(usage.since)} (the last 24 hours of the audit trail). <em>Live tokens</em>: access "
        "tokens issued at /token within their lifetime, after the client's not-before mark, not revoked "
        f"at /revoke.</p>{html.notice(message)}{html.notice(done, 'done')}{cut}"
        + (cards or '<p class="card empty">No client is registered.</p>')
    )


def _card(held: Holdings, activity: ClientActivity, shown: Shown) -> str:
    client = held.client
    name = f"<strong>{escape(client.name)}</strong> " if client.name else ""
    last = html.moment(activity.last_use) if activity.last_use else '<span class="muted">not in 24 h</span>'
    facts = (
        '<dl class="stats">'
        f"<div><dt>Live tokens</dt><dd><strong>{activity.live_tokens}</strong></dd></div>"
        f"<div><dt>Last use</dt><dd>{last}</dd></div>"
        f"<div><dt>Tools it can call</dt><dd>{len(held.tools)}</dd></div>"
        f"<div><dt>Source</dt><dd>{escape(client.source)} · {escape(client.auth_method)}</dd></div>"
        f'<div class="wide"><dt>Holds now</dt><dd>{html.scope_list(held.held, shown.descriptions)}</dd></div>'
        "</dl>"
    )
    rows = "".join(_grant_row(g, shown) for g in held.grants)
    grants = (
        '<table><thead><tr><th scope="col">Grant</th><th scope="col">Kind</th><th scope="col">Scopes</th>'
        '<th scope="col">Expires</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        if rows
        else '<p class="muted">No grant.</p>'
    )
    return (
        f'<section class="card client" id="{anchor(client.client_id)}">'
        f"<h2>{name}<code>{escape(client.client_id)}</code></h2>{facts}{grants}"
        f"{_tokens_form(client.client_id, activity, shown)}</section>"
    )


def _grant_row(held: HeldGrant, shown: Shown) -> str:
    grant = held.grant
    status = grant.status(shown.now, shown.suspend_overdue)
    state = html.badge("void") if held.void else html.badge(status)
    kind = "standing" if grant.standing else "approved"
    expires = (
        '<span class="muted">with the client</span>' if grant.standing else html.moment(grant.expires_at)
    )
    action = '<span class="muted">change the client</span>' if grant.standing else ""
    if shown.may_revoke and not grant.standing and not held.void and status in CHANGEABLE:
        fields = {"csrf": shown.visitor.csrf, "grant_id": grant.grant_id}
        action = revoke_form(grant.grant_id, REVOKE_GRANT, fields)
    return (
        f"<tr><td><code>{escape(grant.grant_id)}</code></td><td>{kind}</td>"
        f"<td>{html.scope_list(grant.scopes, shown.descriptions)}</td><td>{expires}</td>"
        f"<td>{state}</td><td>{action}</td></tr>"
    )


def _tokens_form(client_id: str, activity: ClientActivity, shown: Shown) -> str:
    if not shown.may_revoke:
        return ""
    key = escape(anchor(client_id))
    return (
        '<details class="danger-zone"><summary>Revoke all tokens of this client now</summary>'
        f'<form method="post" action="{REVOKE_TOKENS}">'
        f"{html.hidden({'csrf': shown.visitor.csrf, 'client_id': client_id})}"
        "<p>Every access token, refresh token and authorization code issued to this client before now "
        f"stops working ({activity.live_tokens} live). The client and its grants stay: it may ask for "
        "new tokens at once. To end what it may hold, revoke its grants above.</p>"
        f'<label for="tokens-{key}">Reason</label>'
        f'<textarea id="tokens-{key}" name="reason" maxlength="1000" required></textarea>'
        '<button type="submit" class="danger">Revoke all tokens</button></form></details>'
    )
