"""The HTML of the held calls (AP-6): the list, and one call with everything an approver reads
before deciding, and the forms that decide it.

Pure functions of what the call desk returned (and, for what a tool does, of the catalogue entry
the page looked up): they read records and write markup. Every value an agent, an upstream or a
person chose is escaped; the arguments are shown as text in a ``<pre>`` (:mod:`call_arguments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from gateway import paths
from gateway.approvals.decisions import MAX_NOTE
from gateway.approvals.held_calls import CALL_WINDOW, HeldCall
from gateway.console import html
from gateway.console.call_arguments import readable
from gateway.console.visitors import Visitor
from tools_registry.tool_entries import CatalogTool

HELD_BECAUSE = {
    "registration": "its server's registration holds every call of this tool",
    "destructive": "its upstream marks the tool destructive, and the policy holds such calls",
}


@dataclass(frozen=True)
class Offers:
    """What the call desk would answer this visitor now: None for a decision it would take, else
    its refusal, worded for the page. The forms follow from it; the desk still decides on POST."""

    approve: str | None
    deny: str | None


def call_path(call_id: str, action: str = "") -> str:
    return f"{paths.CALL_PAGES}/{quote(call_id, safe='')}" + (f"/{action}" if action else "")


def _caller(call: HeldCall, visitor: Visitor | None = None) -> str:
    """The agent, the person it acts for (``you`` to that person) and the actors before it."""
    text = f"<code>{escape(call.client_id)}</code>"
    if call.person:
        yours = visitor is not None and visitor.name == call.person
        text += " for " + ("you" if yours else f"<strong>{escape(call.person)}</strong>")
    return text + (f'<br><span class="muted">through {_actors(call)}</span>' if call.actor_chain else "")


def _actors(call: HeldCall) -> str:
    return ", then ".join(f"<code>{escape(actor)}</code>" for actor in call.actor_chain)


def _tool(call: HeldCall) -> str:
    return f'<code>{escape(call.tool)}</code><br><span class="muted">at {escape(call.server_id)}</span>'


def _approver(call: HeldCall) -> str:
    if call.approver == "person":
        return escape(call.person or "")
    return "security-admin"


def calls(pending: Sequence[HeldCall], decided: Sequence[HeldCall], now: float) -> str:
    rows = "".join(
        "<tr>"
        f'<td><a href="{call_path(c.call_id)}">{escape(c.call_id)}</a></td>'
        f"<td>{_tool(c)}</td><td>{_caller(c)}</td>"
        f'<td>{html.age(now - c.created_at)}<br><span class="muted">{html.moment(c.created_at)}</span></td>'
        f"<td>{html.moment(c.expires_at)}</td><td>{_approver(c)}</td>"
        "</tr>"
        for c in pending
    )
    waiting = (
        "<table><caption>Oldest first. Open a call to read its arguments and decide it.</caption>"
        '<thead><tr><th scope="col">Call</th><th scope="col">Tool</th><th scope="col">Called by</th>'
        '<th scope="col">Waiting</th><th scope="col">Expires</th><th scope="col">Approver</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
        if pending
        else '<p class="card empty">No tool call is waiting for a decision.</p>'
    )
    return (
        "<h1>Held calls</h1>"
        f'<p class="lead">{len(pending)} tool call{"s" if len(pending) != 1 else ""} waiting · an approval '
        f"lets one call through, exactly as it was made, within {html.length(CALL_WINDOW)}</p>"
        f"{waiting}<h2>Decided lately</h2>{_decided(decided, now)}"
    )


def _decided(decided: Sequence[HeldCall], now: float) -> str:
    if not decided:
        return '<p class="card empty">Nothing decided yet.</p>'
    rows = "".join(
        "<tr>"
        f'<td><a href="{call_path(c.call_id)}">{escape(c.call_id)}</a></td>'
        f"<td>{_tool(c)}</td><td>{_caller(c)}</td>"
        f"<td>{html.badge(c.current_status(now))}</td>"
        f"<td>{html.moment(c.decided_at or c.expires_at)}</td>"
        f"<td>{html.people([c.decided_by] if c.decided_by else [])}</td>"
        f"<td>{escape(c.reason)}</td>"
        "</tr>"
        for c in decided
    )
    return (
        '<table><thead><tr><th scope="col">Call</th><th scope="col">Tool</th><th scope="col">Called by</th>'
        '<th scope="col">Status</th><th scope="col">Decided</th><th scope="col">By</th>'
        f'<th scope="col">Reason or note</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def one(
    call: HeldCall,
    *,
    tool: CatalogTool | None,
    now: float,
    visitor: Visitor,
    offers: Offers,
    message: str = "",
    done: str = "",
) -> str:
    status = call.current_status(now)
    back = f'<p><a href="{paths.CALL_PAGES}">← Held calls</a></p>' if visitor.has_role else ""
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in _facts(call, tool, now, status))
    return (
        f"{back}<h1>Held call <code>{escape(call.call_id)}</code></h1>"
        f'<p class="lead">{html.badge(status)} <code>{escape(call.tool)}</code>, called by '
        f"{_caller(call, visitor)}</p>"
        f"{html.notice(message)}{html.notice(done, 'done')}"
        f'<div class="card"><dl class="facts">{listed}</dl></div>'
        f"{_arguments(call)}"
        f"{_decision_forms(call, visitor, offers) if status == 'pending' else ''}"
    )


def _facts(call: HeldCall, tool: CatalogTool | None, now: float, status: str) -> list[tuple[str, str]]:
    facts = [
        (
            "Tool",
            f"<code>{escape(call.tool)}</code>, which is <code>{escape(call.upstream_name)}</code> "
            f"at the server <code>{escape(call.server_id)}</code>",
        ),
        ("What it does", _description(call, tool)),
        ("Client", f"<code>{escape(call.client_id)}</code>"),
        (
            "For the person",
            escape(call.person) if call.person else '<span class="muted">nobody: the agent itself</span>',
        ),
        ("Actors", _actors(call) if call.actor_chain else '<span class="muted">none</span>'),
        ("Held because", HELD_BECAUSE.get(call.held_because, escape(call.held_because))),
        ("Approver", _who_approves(call)),
        ("Made", f"{html.moment(call.created_at)} ({html.age(now - call.created_at)})"),
    ]
    if status == "pending":
        facts.append(("Waits until", html.moment(call.expires_at)))
    elif status == "expired":
        facts.append(("Expired", html.moment(call.expires_at)))
    if call.decided_at is not None:
        facts.append(("Decided", f"{html.moment(call.decided_at)} by {escape(call.decided_by or '')}"))
    if status == "approved":
        facts.append(("May be made until", f"{html.moment(call.expires_at)}, once"))
    if call.used_at is not None:
        facts.append(("Passed", f"{html.moment(call.used_at)}: the upstream received it"))
    if call.reason:
        facts.append(("Reason" if call.status == "denied" else "Note", escape(call.reason)))
    facts.append(("Fingerprint", f'<code class="url">{escape(call.fingerprint)}</code>'))
    return facts


def _who_approves(call: HeldCall) -> str:
    if call.approver == "person":
        return f"{escape(call.person or '')}, for whom the agent made it (a security-admin may still deny it)"
    if call.person:
        return f"a security-admin other than {escape(call.person)}, for whom it was made"
    return "a security-admin"


def _description(call: HeldCall, tool: CatalogTool | None) -> str:
    """What the catalogue says the tool does, if it still lists this tool under the name held."""
    if tool is None or (tool.server_id, tool.upstream_name) != (call.server_id, call.upstream_name):
        return '<span class="muted">the catalogue lists no such tool now</span>'
    title = f"<strong>{escape(tool.title)}</strong><br>" if tool.title else ""
    said = escape(tool.description) if tool.description else '<span class="muted">no description</span>'
    return f'{title}{said}<br><span class="muted">as its server describes it</span>'


def _arguments(call: HeldCall) -> str:
    text, laid_out = readable(call.arguments)
    how = (
        "one member a line"
        if laid_out
        else "as stored, on one line (laid out, they would be too long to show)"
    )
    return (
        '<h2 id="arguments-heading">Arguments</h2>'
        f'<p class="muted">Exactly what the upstream receives if this call is approved: JSON, {how}. '
        "Characters that could hide or disguise text are shown as <code>\\u</code> escapes.</p>"
        f'<pre class="arguments" aria-labelledby="arguments-heading">{escape(text)}</pre>'
    )


def _decision_forms(call: HeldCall, visitor: Visitor, offers: Offers) -> str:
    if offers.approve is not None and offers.deny is not None:
        return f'<p class="muted">You can read this call but not decide it: {escape(offers.approve)}</p>'
    token = html.hidden({"csrf": visitor.csrf})
    approve = (
        '<section class="card" aria-labelledby="approve-heading"><h2 id="approve-heading">Approve</h2>'
        f"<p>The agent's next call that is identical to this one is made, once, within "
        f"{html.length(CALL_WINDOW)} of your approval. A call with anything changed needs its own.</p>"
        f'<form method="post" action="{call_path(call.call_id, "approve")}">{token}'
        '<label for="approve-note">Note (optional)</label>'
        f'<textarea id="approve-note" name="note" maxlength="{MAX_NOTE}"></textarea>'
        '<button type="submit" class="approve">Approve this call</button></form></section>'
        if offers.approve is None
        else ""
    )
    deny = (
        '<section class="card" aria-labelledby="deny-heading"><h2 id="deny-heading">Deny</h2>'
        f'<form method="post" action="{call_path(call.call_id, "deny")}">{token}'
        '<label for="deny-reason">Reason (the agent is told)</label>'
        f'<textarea id="deny-reason" name="reason" maxlength="{MAX_NOTE}" required></textarea>'
        '<button type="submit" class="danger">Deny this call</button></form></section>'
        if offers.deny is None
        else ""
    )
    why_not = f"<p class=muted>You cannot approve this call: {escape(offers.approve or '')}</p>"
    return f'{why_not if offers.approve else ""}<div class="forms">{approve}{deny}</div>'
