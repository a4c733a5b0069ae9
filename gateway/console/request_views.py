"""The HTML of the approval queue and of one access request with its decision forms.

Pure functions of what the desks returned: they read records and write markup, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from gateway import paths
from gateway.approvals.requests import AccessRequest
from gateway.console import html
from gateway.console.visitors import Visitor

UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1))
"""The units a duration is given in on the decision form, largest first."""


ORIGINS = {
    "agent": "by the agent itself",
    "step-up": "by the gateway, for a call the agent was refused (step-up)",
    "consent": "at the consent page, when the person allowed",
    "registration": "at the client's registration",
}


def request_path(request_id: str, action: str = "") -> str:
    return f"{paths.CONSOLE_REQUESTS}/{quote(request_id, safe='')}" + (f"/{action}" if action else "")


def _requester(request: AccessRequest) -> str:
    person = f" for <strong>{escape(request.subject)}</strong>" if request.subject else ""
    return f"<code>{escape(request.client_id)}</code>{person}"


def _approvals(request: AccessRequest) -> str:
    return (
        f"{len(request.votes)} of {request.approvers_required}"
        f'<br><span class="muted">by {escape(request.approver_role)}</span>'
    )


def queue(
    pending: Sequence[AccessRequest],
    decided: Sequence[AccessRequest],
    held: Mapping[str, tuple[str, ...]],
    descriptions: Mapping[str, str],
    now: float,
    policy_version: str,
    held_calls: int = 0,
) -> str:
    rows = "".join(
        "<tr>"
        f'<td><a href="{request_path(r.request_id)}">{escape(r.request_id)}</a></td>'
        f"<td>{html.age(now - r.created_at)}"
        f'<br><span class="muted">{html.moment(r.created_at)}</span></td>'
        f"<td>{_requester(r)}</td>"
        f"<td>{html.scope_list(r.scopes, descriptions)}</td>"
        f"<td>{escape(r.justification) or '<span class=muted>none given</span>'}</td>"
        f"<td>{html.scope_list(held.get(r.client_id, ()), descriptions)}</td>"
        f"<td>{_approvals(r)}</td>"
        "</tr>"
        for r in pending
    )
    waiting = (
        "<table><caption>Oldest first. Open a request to decide it.</caption>"
        '<thead><tr><th scope="col">Request</th>'
        '<th scope="col">Waiting</th><th scope="col">Requester</th><th scope="col">Asks for</th>'
        '<th scope="col">Justification</th><th scope="col">Already holds</th>'
        f'<th scope="col">Approvals</th></tr></thead><tbody>{rows}</tbody></table>'
        if pending
        else '<p class="card empty">No access request is waiting for a decision.</p>'
    )
    calls = f"{held_calls} held tool call{'s' if held_calls != 1 else ''}"
    return (
        "<h1>Approval queue</h1>"
        f'<p class="lead">{len(pending)} access request{"s" if len(pending) != 1 else ""} waiting · '
        f'<a href="{paths.CALL_PAGES}">{calls} waiting</a> · '
        f"approval policy <code>{escape(policy_version)}</code></p>"
        f"{waiting}<h2>Decided lately</h2>{_decided(decided, descriptions, now)}"
    )


def _decided(decided: Sequence[AccessRequest], descriptions: Mapping[str, str], now: float) -> str:
    if not decided:
        return '<p class="card empty">Nothing decided yet.</p>'
    rows = "".join(
        "<tr>"
        f'<td><a href="{request_path(r.request_id)}">{escape(r.request_id)}</a></td>'
        f"<td>{_requester(r)}</td>"
        f"<td>{html.scope_list(r.granted_scopes or r.scopes, descriptions)}</td>"
        f"<td>{html.badge(r.current_status(now))}</td>"
        f"<td>{html.moment(r.decided_at or r.expires_at)}</td>"
        f"<td>{html.people(r.decided_by)}</td>"
        "</tr>"
        for r in decided
    )
    return (
        '<table><thead><tr><th scope="col">Request</th><th scope="col">Requester</th>'
        '<th scope="col">Scopes</th><th scope="col">Status</th><th scope="col">Decided</th>'
        f'<th scope="col">By</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def one(
    request: AccessRequest,
    *,
    held: tuple[str, ...],
    descriptions: Mapping[str, str],
    now: float,
    visitor: Visitor,
    message: str = "",
    done: str = "",
) -> str:
    status = request.current_status(now)
    votes = "".join(
        f"<li><strong>{escape(v.approver)}</strong> at {html.moment(v.at)}: "
        f"{' '.join(f'<code>{escape(s)}</code>' for s in v.scopes)} for {html.length(v.duration)}"
        f"{' — ' + escape(v.note) if v.note else ''}</li>"
        for v in request.votes
    )
    facts = [
        ("Client", f"<code>{escape(request.client_id)}</code>"),
        (
            "For the person",
            escape(request.subject)
            if request.subject
            else '<span class="muted">nobody: the agent itself</span>',
        ),
        ("Asks for", html.scope_list(request.scopes, descriptions)),
        ("Resource", f'<code class="url">{escape(request.resource)}</code>'),
        ("Justification", escape(request.justification) or '<span class="muted">none given</span>'),
        ("For how long", f"{html.length(request.duration)} at most"),
        (
            "Filed",
            f"{html.moment(request.created_at)} ({html.age(now - request.created_at)}), "
            f"{ORIGINS.get(request.origin, escape(request.origin))}",
        ),
        ("Already holds", html.scope_list(held, descriptions)),
        (
            "Approvals",
            f"{len(request.votes)} of {request.approvers_required} needed, "
            f"by {escape(request.approver_role)}" + (f"<ul>{votes}</ul>" if votes else ""),
        ),
    ]
    if status == "pending":
        facts.append(("Waits until", html.moment(request.expires_at)))
    elif status == "expired":
        facts.append(("Expired", f"{html.moment(request.expires_at)}, undecided"))
    else:
        facts.append(("Decided", f"{html.moment(request.decided_at)} by {html.people(request.decided_by)}"))
    if status == "approved":
        grant_id = request.grant_id or ""
        grant = f'<a href="{paths.CONSOLE_GRANTS}#{quote(grant_id)}">{escape(grant_id)}</a>'
        facts.append(
            (
                "Granted",
                f"{html.scope_list(request.granted_scopes, descriptions)} until "
                f"{html.moment(request.granted_until)} (grant {grant})",
            )
        )
    if request.reason:
        facts.append(("Reason" if status == "denied" else "Notes", escape(request.reason)))
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return (
        f'<p><a href="{paths.CONSOLE}">← Approval queue</a></p>'
        f"<h1>Access request <code>{escape(request.request_id)}</code></h1>"
        f'<p class="lead">{html.badge(status)} asked by {_requester(request)}</p>'
        f"{html.notice(message)}{html.notice(done, 'done')}"
        f'<div class="card"><dl class="facts">{listed}</dl></div>'
        f"{_decision_forms(request, visitor, descriptions) if status == 'pending' else ''}"
    )


def _decision_forms(request: AccessRequest, visitor: Visitor, descriptions: Mapping[str, str]) -> str:
    if not visitor.may_act:
        return (
            '<p class="muted">You can read this request. Deciding it needs the '
            f"<code>{escape(request.approver_role)}</code> role.</p>"
        )
    token = html.hidden({"csrf": visitor.csrf})
    boxes = "".join(
        f'<div class="check"><input type="checkbox" id="grant-{i}" name="scope" value="{escape(s)}" checked> '
        f'<label for="grant-{i}">{html.scope_text(s, descriptions)}</label></div>'
        for i, s in enumerate(request.scopes)
    )
    amount, unit = _largest_unit(request.duration)
    options = "".join(
        f'<option value="{name}"{" selected" if name == unit else ""}>{name}</option>' for name, _ in UNITS
    )
    return (
        '<div class="forms">'
        '<section class="card" aria-labelledby="approve-heading"><h2 id="approve-heading">Approve</h2>'
        f'<form method="post" action="{request_path(request.request_id, "approve")}">{token}'
        f"<fieldset><legend>Scopes to grant</legend>{boxes}</fieldset>"
        '<label for="duration">Grant for</label><div class="inline">'
        f'<input type="number" id="duration" name="duration" min="1" value="{amount}" required>'
        f'<select name="unit" aria-label="Unit of time">{options}</select></div>'
        f'<p class="muted">At most {html.length(request.duration)}: what was asked, within policy.</p>'
        '<label for="approve-note">Note (optional)</label>'
        '<textarea id="approve-note" name="note" maxlength="1000"></textarea>'
        '<button type="submit" class="approve">Approve selected scopes</button></form></section>'
        '<section class="card" aria-labelledby="deny-heading"><h2 id="deny-heading">Deny</h2>'
        f'<form method="post" action="{request_path(request.request_id, "deny")}">{token}'
        '<label for="deny-reason">Reason (the agent is told)</label>'
        '<textarea id="deny-reason" name="reason" maxlength="1000" required></textarea>'
        '<button type="submit" class="danger">Deny request</button></form></section></div>'
    )


def _largest_unit(seconds: int) -> tuple[int, str]:
    """``seconds`` as a whole number of the largest unit that divides it."""
    for name, size in UNITS:
        if seconds % size == 0:
            return seconds // size, name
    return seconds, "seconds"
