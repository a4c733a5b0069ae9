"""The HTML of the pending tool definitions (TP-5): the list, and one definition against its pin.

Pure functions of the pin records the page read. A definition is the upstream's words, aimed at a
model, so it is shown and never interpreted: the unified diff is escaped line by line, and every
character that could hide or disguise text is written as its ``\\u`` escape
(:func:`~gateway.console.call_arguments.undisguised`), so the reviewer reads what agents would.

The decision forms are offered to a security admin only (AD-8); a tool author or an auditor reads
the same page with a sentence saying who decides. Each form carries the hash of the definition on
the page, so a definition that changed again since is refused by the desk rather than approved
unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from gateway import paths
from gateway.approvals.decisions import MAX_NOTE
from gateway.console import html
from gateway.console.call_arguments import undisguised
from gateway.console.pin_shelf import ScreeningNotes, screening_notes
from gateway.upstream.pin_records import PendingDefinition, Pin

PENDING = paths.CONSOLE_TOOLS_PENDING
DECIDER = "security-admin"


def definition_path(server_id: str, tool: str, action: str = "") -> str:
    path = f"{PENDING}/{quote(server_id, safe='')}/{quote(tool, safe='')}"
    return path + (f"/{action}" if action else "")


def _kind(pending: PendingDefinition) -> str:
    return "new tool" if pending.previous_hash is None else "changed"


def _flag_cell(notes: ScreeningNotes) -> str:
    if not notes.flags:
        return '<span class="muted">none</span>'
    items = "".join(
        f"<li>{f'<code>{escape(where)}</code> ' if where else ''}{escape(undisguised(reason))}</li>"
        for where, reason in notes.flags
    )
    return f'<span class="badge flagged">{len(notes.flags)} flagged</span><ul class="scopes">{items}</ul>'


def pending_list(
    pending: Sequence[PendingDefinition], rejected: Sequence[PendingDefinition], now: float
) -> str:
    rows = "".join(
        f'<tr id="pending-{escape(p.server_id)}-{escape(p.tool)}">'
        f"<td><code>{escape(p.server_id)}</code></td>"
        f'<td><a href="{definition_path(p.server_id, p.tool)}"><code>{escape(p.tool)}</code></a></td>'
        f"<td>{html.badge(_kind(p))}</td>"
        f"<td>{html.age(now - p.first_seen_at)}<br>"
        f'<span class="muted">{html.moment(p.first_seen_at)}</span></td>'
        f"<td>{_flag_cell(screening_notes(p))}</td>"
        f'<td><code title="{escape(p.hash)}">{escape(p.hash[:12])}</code></td></tr>'
        for p in pending
    )
    waiting = (
        "<table><caption>Oldest first. Open a definition to read what changed and decide it.</caption>"
        '<thead><tr><th scope="col">Server</th><th scope="col">Tool</th><th scope="col">What</th>'
        '<th scope="col">First seen</th><th scope="col">Screening</th><th scope="col">Hash</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
        if pending
        else '<p class="card empty">No tool definition is waiting for approval.</p>'
    )
    count = len(pending)
    return (
        "<h1>Pending tool definitions</h1>"
        f'<p class="lead">{count} definition{"s" if count != 1 else ""} waiting · a new or changed '
        "definition is neither listed to agents nor called until a security admin approves it; the "
        "server's other tools keep serving</p>"
        f"{waiting}<h2>Rejected (quarantined)</h2>{_rejected(rejected)}"
    )


def _rejected(rejected: Sequence[PendingDefinition]) -> str:
    if not rejected:
        return '<p class="card empty">No definition was rejected.</p>'
    rows = "".join(
        "<tr>"
        f"<td><code>{escape(p.server_id)}</code></td>"
        f'<td><a href="{definition_path(p.server_id, p.tool)}"><code>{escape(p.tool)}</code></a></td>'
        f"<td>{html.moment(p.decided_at)}</td><td>{html.people([p.decided_by] if p.decided_by else [])}</td>"
        f"<td>{escape(p.reason)}</td></tr>"
        for p in rejected
    )
    return (
        "<table><caption>Kept out while their upstream serves them; a different definition waits "
        'again.</caption><thead><tr><th scope="col">Server</th><th scope="col">Tool</th>'
        '<th scope="col">Rejected</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


@dataclass(frozen=True)
class Reviewed:
    """One definition as the page shows it: the record, the pin it would replace, their diff."""

    pending: PendingDefinition
    pin: Pin | None
    diff: str


@dataclass(frozen=True)
class Viewer:
    """Who reads the page: whether they decide, the form token, and what to say at the top."""

    decides: bool
    reads_only_because: str
    csrf: str
    message: str = ""
    done: str = ""


def definition_page(shown: Reviewed, viewer: Viewer, now: float) -> str:
    p = shown.pending
    notes = screening_notes(p)
    status = "rejected" if p.status != "pending" else "pending"
    listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in _facts(shown, now))
    return (
        f'<p><a href="{PENDING}">← Pending definitions</a></p>'
        f"<h1>Tool <code>{escape(p.tool)}</code> of <code>{escape(p.server_id)}</code></h1>"
        f'<p class="lead">{html.badge(status)} {html.badge(_kind(p))} first seen '
        f"{html.age(now - p.first_seen_at)}</p>"
        f"{html.notice(viewer.message)}{html.notice(viewer.done, 'done')}"
        f"{_screening(notes)}"
        f'<div class="card"><dl class="facts">{listed}</dl></div>'
        f"{_diff(shown)}"
        f"{_decision(p, viewer) if p.status == 'pending' else ''}"
    )


def _facts(shown: Reviewed, now: float) -> list[tuple[str, str]]:
    p, pin = shown.pending, shown.pin
    facts = [
        ("Server", f'<a href="{server_path(p.server_id)}"><code>{escape(p.server_id)}</code></a>'),
        ("Tool at its upstream", f"<code>{escape(p.tool)}</code>"),
        ("Pending hash", f'<code class="url">{escape(p.hash)}</code>'),
        (
            "Pinned hash",
            f'<code class="url">{escape(pin.hash)}</code>'
            if pin is not None
            else '<span class="muted">none: a new tool</span>',
        ),
    ]
    if pin is not None:
        facts.append(("Pinned", f"{html.moment(pin.approved_at)} by {escape(pin.approved_by)}"))
    facts.append(("First seen", f"{html.moment(p.first_seen_at)} ({html.age(now - p.first_seen_at)})"))
    if p.status != "pending":
        when = html.moment(p.decided_at)
        facts.append(("Rejected", f"{when} by {escape(p.decided_by or '')}"))
        facts.append(("Reason", escape(p.reason) or '<span class="muted">none given</span>'))
    return facts


def server_path(server_id: str) -> str:
    return f"{paths.CONSOLE_TOOLS}/servers/{quote(server_id, safe='')}"


def _screening(notes: ScreeningNotes) -> str:
    removed = (
        '<p class="muted">Screening removed invisible characters before this was shown: '
        + "; ".join(escape(line) for line in notes.removed)
        + ".</p>"
        if notes.removed
        else ""
    )
    if not notes.flags:
        return f'<p class="muted">Screening flagged nothing in this definition.</p>{removed}'
    items = "".join(
        f"<li>{f'<code>{escape(where)}</code>: ' if where else ''}{escape(undisguised(reason))}</li>"
        for where, reason in notes.flags
    )
    return (
        '<section class="flags" role="note" aria-labelledby="flags-heading">'
        f'<h2 id="flags-heading">Screening flagged this definition ({len(notes.flags)})</h2>'
        f"<ul>{items}</ul><p>A flagged definition is never approved by policy: read the text below "
        f"as an agent's model would before you decide.</p>{removed}</section>"
    )


def _diff(shown: Reviewed) -> str:
    lines = "".join(
        f'<span class="{_line_kind(line)}">{escape(undisguised(line)) or " "}</span>'
        for line in shown.diff.splitlines()
    )
    what = (
        "The whole definition, as its upstream gives it: nothing is pinned for this tool yet."
        if shown.pin is None
        else "The pinned definition against the pending one, as laid-out JSON: lines marked "
        "<code>-</code> are only in the pinned one, lines marked <code>+</code> only in the pending one."
    )
    body = lines or '<span class="same">(the two definitions lay out the same)</span>'
    return (
        '<h2 id="diff-heading">What changed</h2>'
        f'<p class="muted">{what} Characters that could hide or disguise text are shown as '
        "<code>\\u</code> escapes.</p>"
        f'<pre class="diff" aria-labelledby="diff-heading">{body}</pre>'
    )


def _line_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


def _decision(p: PendingDefinition, viewer: Viewer) -> str:
    if not viewer.decides:
        return f'<p class="card muted">{escape(viewer.reads_only_because)}</p>'
    fields = html.hidden({"csrf": viewer.csrf, "hash": p.hash})
    approve = (
        '<section class="card" aria-labelledby="approve-heading"><h2 id="approve-heading">Approve</h2>'
        "<p>This exact definition is pinned and served at once; agents whose tokens cover the "
        "tool's scopes see it in <code>tools/list</code>.</p>"
        f'<form method="post" action="{definition_path(p.server_id, p.tool, "approve")}">{fields}'
        '<label for="approve-note">Note (optional)</label>'
        f'<textarea id="approve-note" name="note" maxlength="{MAX_NOTE}"></textarea>'
        '<button type="submit" class="approve">Approve this definition</button></form></section>'
    )
    reject = (
        '<section class="card" aria-labelledby="reject-heading"><h2 id="reject-heading">Reject</h2>'
        "<p>The tool stays out of the catalogue while its upstream serves this definition.</p>"
        f'<form method="post" action="{definition_path(p.server_id, p.tool, "reject")}">{fields}'
        '<label for="reject-reason">Reason</label>'
        f'<textarea id="reject-reason" name="reason" maxlength="{MAX_NOTE}" required></textarea>'
        '<button type="submit" class="danger">Reject this definition</button></form></section>'
    )
    return f'<div class="forms">{approve}{reject}</div>'
