"""The HTML of the grants list, with a revoke form and a review (re-certify) form on every approved
grant that still allows something. Pure functions of what the grant desk returned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from gateway import paths
from gateway.approvals.grants import Grant
from gateway.console import html
from gateway.console.visitors import Visitor

CHANGEABLE = ("active", "suspended")
"""Statuses of an approved grant that revoking or reviewing still changes."""


def grant_path(grant_id: str, action: str) -> str:
    return f"{paths.CONSOLE_GRANTS}/{quote(grant_id, safe='')}/{action}"


def grants(
    found: Sequence[Grant],
    *,
    descriptions: Mapping[str, str],
    now: float,
    suspend_overdue: bool,
    visitor: Visitor,
    message: str = "",
    done: str = "",
) -> str:
    overdue = sum(1 for g in found if g.overdue(now) and g.status(now, suspend_overdue) in CHANGEABLE)
    rows = "".join(_row(g, descriptions, now, suspend_overdue, visitor) for g in found)
    table = (
        '<table><thead><tr><th scope="col">Grant</th><th scope="col">Client</th><th scope="col">Scopes</th>'
        '<th scope="col">Resource</th><th scope="col">Source</th><th scope="col">Granted by</th>'
        '<th scope="col">Expires</th><th scope="col">Review by</th><th scope="col">Status</th>'
        f'<th scope="col">Actions</th></tr></thead><tbody>{rows}</tbody></table>'
        if found
        else '<p class="card empty">No client holds anything yet.</p>'
    )
    summary = f"{len(found)} grant{'s' if len(found) != 1 else ''}"
    if overdue:
        summary += f" · <strong>{overdue} overdue for review</strong>"
    return (
        "<h1>Grants</h1>"
        f'<p class="lead">What every client may hold: standing grants from its definition, and the '
        f"grants approved here. {summary}</p>{html.notice(message)}{html.notice(done, 'done')}{table}"
    )


def _row(
    grant: Grant, descriptions: Mapping[str, str], now: float, suspend_overdue: bool, visitor: Visitor
) -> str:
    status = grant.status(now, suspend_overdue)
    late = grant.overdue(now) and status in CHANGEABLE
    state = html.badge(status) + (f" {html.badge('overdue')}" if late else "")
    if grant.standing:
        expires, review = '<span class="muted">with the client</span>', '<span class="muted">—</span>'
        granted_by = '<span class="muted">its definition</span>'
    else:
        expires, granted_by = html.moment(grant.expires_at), html.people(grant.granted_by)
        review = (
            html.moment(grant.review_by)
            if grant.review_by
            else '<span class="muted">none: it ends first</span>'
        )
    if grant.revoked_at is not None:
        state += (
            f'<br><span class="muted">by {escape(grant.revoked_by or "")} at '
            f"{html.moment(grant.revoked_at)}: {escape(grant.revoke_reason)}</span>"
        )
    if grant.reviewed_at is not None:
        review += f'<br><span class="muted">reviewed by {escape(grant.reviewed_by or "")}</span>'
    return (
        f'<tr id="{escape(grant.grant_id)}"{" class=overdue" if late else ""}>'
        f"<td><code>{escape(grant.grant_id)}</code></td>"
        f"<td><code>{escape(grant.client_id)}</code></td>"
        f"<td>{html.scope_list(grant.scopes, descriptions)}</td>"
        f"<td>{_resource(grant.resource)}</td>"
        f"<td>{escape(grant.source)}</td>"
        f"<td>{granted_by}</td>"
        f"<td>{expires}</td><td>{review}</td><td>{state}</td>"
        f"<td>{_actions(grant, status, visitor)}</td></tr>"
    )


def revoke_form(grant_id: str, action: str, fields: Mapping[str, str]) -> str:
    """The revoke form of one grant (folded under a "Revoke" summary), posting ``fields`` and a
    reason to ``action``."""
    key = escape(grant_id)
    return (
        f'<details><summary>Revoke<span class="hidden-name"> {key}</span></summary>'
        f'<form method="post" action="{action}">{html.hidden(fields)}'
        f'<label for="revoke-{key}">Reason</label>'
        f'<textarea id="revoke-{key}" name="reason" maxlength="1000" required></textarea>'
        '<button type="submit" class="danger">Revoke grant</button></form></details>'
    )


def _resource(resource: str | None) -> str:
    return (
        f'<code class="url">{escape(resource)}</code>'
        if resource
        else '<span class="muted">any it may use</span>'
    )


def _actions(grant: Grant, status: str, visitor: Visitor) -> str:
    if grant.standing:
        return '<span class="muted">change the client</span>'
    if status not in CHANGEABLE or not visitor.may_act:
        return ""
    token = html.hidden({"csrf": visitor.csrf})
    key = escape(grant.grant_id)
    return (
        revoke_form(grant.grant_id, grant_path(grant.grant_id, "revoke"), {"csrf": visitor.csrf})
        + f'<details><summary>Review<span class="hidden-name"> {key}</span></summary>'
        f'<form method="post" action="{grant_path(grant.grant_id, "review")}">{token}'
        f'<label for="review-{key}">Note (optional)</label>'
        f'<textarea id="review-{key}" name="note" maxlength="1000"></textarea>'
        '<button type="submit" class="primary">Re-certify grant</button></form></details>'
    )
