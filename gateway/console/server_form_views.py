"""The HTML of registering, changing and removing an upstream server at the console (AD-9).

Pure functions of the text the form shows (:data:`~gateway.console.server_forms.Values`) and who
reads it; every value is escaped. The page works without a script: both kinds of server have
their fields on the page, and the choice of kind says which ones are read. The fields a security
admin decides are only on a security admin's form; a tool author picks the namespace among those
granted to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from gateway import paths
from gateway.console import html
from gateway.console.pending_views import server_path
from gateway.console.server_forms import DEFAULTS, Values
from tools_registry.pins import PINNING_POLICIES

REGISTER = paths.CONSOLE_TOOLS_REGISTER
PINNING_MEANS = {
    "review": "every tool waits for a security admin's approval, the first ones included",
    "first-use": "the first discovery pins the tools it finds; a later new or changed definition waits",
    "trusted": "definitions are pinned as they come (still screened, audited and announced)",
}


DONE = {
    "changed": "Changed. The server is discovered again with its new settings; a changed definition "
    "waits for approval under its pinning.",
    "removed": "Removed: its tools have left the catalogue, and its pins are forgotten.",
}


def done_notice(done: str, pinning: str = "") -> str:
    """What a change just made says on the page it leads to (``?done=``)."""
    if done == "registered" and pinning in PINNING_MEANS:
        return html.notice(
            "Registered. Its first discovery runs within a few seconds: reload this page to see its "
            f"tools. Its pinning is {pinning}: {PINNING_MEANS[pinning]}.",
            "done",
        )
    return html.notice(DONE.get(done, ""), "done")


def server_actions(server_id: str, *, changes: bool) -> str:
    """The links of a server's page: change and remove it (``changes``), register another."""
    own = (
        f'<a href="{edit_path(server_id)}">Change this server</a>'
        f'<a href="{edit_path(server_id, "remove")}">Remove it</a>'
        if changes
        else ""
    )
    return f'<p class="actions">{own}<a href="{REGISTER}">Register a server</a></p>'


@dataclass(frozen=True)
class Shown:
    """Who fills the form in, and with what: ``namespaces`` to pick from (a tool author's own,
    free of a server), or None for a security admin, who types any id."""

    csrf: str
    keeper: bool
    namespaces: Sequence[str] | None
    message: str = ""


def edit_path(server_id: str, action: str = "edit") -> str:
    return f"{server_path(server_id)}/{action}"


def register_page(values: Values, shown: Shown) -> str:
    if shown.namespaces is not None and not shown.namespaces:
        return (
            f"{_back()}<h1>Register a server</h1>{html.notice(shown.message)}"
            '<p class="card">You own no namespace free of a server. A server\'s id is its '
            "namespace, and a security admin grants one to you first: "
            "<code>mcp-gateway tools owners grant NAMESPACE YOU</code>.</p>"
        )
    return (
        f"{_back()}<h1>Register a server</h1>"
        '<p class="lead">An MCP server, or a REST API by its OpenAPI document: its tools join the '
        "catalogue under its id once discovered and pinned.</p>"
        f"{html.notice(shown.message)}"
        f'<div class="card"><form method="post" action="{REGISTER}">'
        f"{html.hidden({'csrf': shown.csrf})}{_fields(values, shown, editing=False)}"
        '<button type="submit" class="primary">Register the server</button>'
        f'<a class="cancel" href="{paths.CONSOLE_TOOLS}">Cancel</a></form></div>'
    )


def edit_page(server_id: str, values: Values, shown: Shown) -> str:
    return (
        f'<p><a href="{server_path(server_id)}">← Server <code>{escape(server_id)}</code></a></p>'
        f"<h1>Change server <code>{escape(server_id)}</code></h1>"
        '<p class="lead">What you change replaces what is registered; its tools are discovered '
        "again, and a changed definition waits for approval under the server's pinning.</p>"
        f"{html.notice(shown.message)}"
        f'<div class="card"><form method="post" action="{edit_path(server_id)}">'
        f"{html.hidden({'csrf': shown.csrf})}{_fields(values, shown, editing=True)}"
        '<button type="submit" class="primary">Save the changes</button>'
        f'<a class="cancel" href="{server_path(server_id)}">Cancel</a></form></div>'
    )


def remove_page(server_id: str, csrf: str, message: str = "") -> str:
    name = escape(server_id)
    return (
        f'<p><a href="{server_path(server_id)}">← Server <code>{name}</code></a></p>'
        f"<h1>Remove server <code>{name}</code>?</h1>{html.notice(message)}"
        '<div class="card"><p>Its tools leave the catalogue at every replica within about a second, '
        "and calls to them are refused. Its pins and pending definitions are forgotten: the same id "
        "registered again is a first discovery. The namespace stays with its owners, and the "
        "removal is recorded in the audit trail with the server as it was.</p>"
        f'<form method="post" action="{edit_path(server_id, "remove")}">'
        f"{html.hidden({'csrf': csrf})}"
        f'<button type="submit" class="danger">Remove {name}</button>'
        f'<a class="cancel" href="{server_path(server_id)}">Keep it</a></form></div>'
    )


def _back() -> str:
    return f'<p><a href="{paths.CONSOLE_TOOLS}">← Tools</a></p>'


FIELDS: dict[str, tuple[str, str, str]] = {
    "url": ("MCP endpoint URL", "https://notes.example/mcp", "https; http only on loopback."),
    "openapi": (
        "OpenAPI document URL",
        "https://notes.example/openapi.json",
        "Fetched now, and again at each refresh.",
    ),
    "base_url": ("Base URL", "https://notes.example/v1", "Where its operations are called."),
    "operations": (
        "Operations (optional)",
        "listNotes, getNote",
        "Tool names or operationIds, commas or spaces; empty: every operation.",
    ),
    "default_scopes": (
        "Default scopes (optional)",
        "notes:read",
        "What every tool not named below requires, commas or spaces; empty: tool t requires <id>:t. "
        "A tool author's scopes are the namespace, or start with it and a colon.",
    ),
    "tool_scopes": (
        "Scopes per tool (optional)",
        "createNote = notes:write",
        "One tool a line, tool = scopes (a tool requires all of them). For a REST API they replace "
        "what its document requires.",
    ),
    "audience": ("Audience (optional)", "", "The aud of the tokens it accepts; empty: its URL."),
    "descriptions": (
        "Descriptions (optional)",
        "listNotes = Every note, newest first.",
        "One tool a line, tool = text: they replace what the server says.",
    ),
    "timeout": ("Timeout (seconds)", "", "Per call, at most 120."),
    "refresh_interval": ("Refresh interval (seconds)", "", "Between two discoveries."),
    "call_approval": (
        "Tools whose calls wait for approval (optional)",
        "deleteNote",
        "Tool names, or * for every tool. A tool author adds tools; only a security admin takes one out.",
    ),
    "audit_arguments": (
        "Tools audited with their argument values (optional)",
        "",
        "Tool names, or *; empty: each call is audited with a digest of its arguments only.",
    ),
}
"""Each text field: its label, an example (the placeholder) and the hint under it."""


def _fields(values: Values, shown: Shown, *, editing: bool) -> str:
    v = {**DEFAULTS, **values}
    kind = v.get("kind", "mcp")
    return (
        '<fieldset><legend>What it is</legend><div class="choice">'
        f"{_radio('kind', 'mcp', 'An MCP server', kind)}"
        f"{_radio('kind', 'openapi', 'A REST API, by its OpenAPI document', kind)}</div>"
        f'<div class="columns"><div>{_text("url", v)}</div>'
        f"<div>{_text('openapi', v)}{_text('base_url', v)}{_text('operations', v)}</div></div></fieldset>"
        f"<fieldset><legend>Namespace</legend>{_namespace(v, shown, editing)}</fieldset>"
        "<fieldset><legend>Scopes and tokens</legend>"
        f"{_text('default_scopes', v)}{_area('tool_scopes', v)}{_text('audience', v)}</fieldset>"
        "<fieldset><legend>What agents read, and how it is called</legend>"
        f"{_area('descriptions', v)}"
        f'<div class="columns"><div>{_text("timeout", v, short=True)}</div>'
        f"<div>{_text('refresh_interval', v, short=True)}</div></div>"
        f"{_text('call_approval', v)}</fieldset>{_kept(v) if shown.keeper else ''}"
    )


def _namespace(v: Values, shown: Shown, editing: bool) -> str:
    hint = "The server's id: its tools are exposed as <id>__<tool>."
    if editing:
        return (
            f'<p><code>{escape(v.get("id", ""))}</code> <span class="muted">— an id never changes.</span></p>'
        )
    if shown.namespaces is None:
        return _text("id", v, label="Id", example="notes", hint=hint + " Any id: you are a security admin.")
    options = "".join(
        f'<option value="{escape(ns)}"{" selected" if ns == v.get("id") else ""}>{escape(ns)}</option>'
        for ns in shown.namespaces
    )
    return (
        '<label for="f-id">Id</label>'
        f'<select id="f-id" name="id" aria-describedby="f-id-hint">{options}</select>'
        f'<p class="hint" id="f-id-hint">{escape(hint)} These are the namespaces a security admin '
        "granted you that hold no server yet.</p>"
    )


def _kept(v: Values) -> str:
    options = "".join(
        f'<option value="{p}"{" selected" if p == v.get("pinning") else ""}>'
        f"{p}: {escape(PINNING_MEANS[p])}</option>"
        for p in PINNING_POLICIES
    )
    checked = " checked" if v.get("foreign_audience") else ""
    return (
        "<fieldset><legend>A security admin's decisions</legend>"
        '<label for="f-pinning">Pinning</label>'
        f'<select id="f-pinning" name="pinning">{options}</select>'
        '<div class="check"><input type="checkbox" id="f-foreign_audience" name="foreign_audience" '
        f'value="on"{checked}> <label for="f-foreign_audience">The audience is on another origin, '
        "on purpose (tokens for it are sent to this server)</label></div>"
        f"{_text('audit_arguments', v)}</fieldset>"
    )


def _radio(name: str, value: str, label: str, current: str) -> str:
    checked = " checked" if value == current else ""
    return (
        f'<div class="check"><input type="radio" id="f-{name}-{value}" name="{name}" value="{value}"'
        f'{checked}> <label for="f-{name}-{value}">{escape(label)}</label></div>'
    )


def _text(
    name: str, v: Values, *, short: bool = False, label: str = "", example: str = "", hint: str = ""
) -> str:
    label, example, hint = FIELDS.get(name, (label, example, hint))
    placeholder = f' placeholder="{escape(example)}"' if example else ""
    size = ' class="short" inputmode="decimal"' if short else ' spellcheck="false"'
    return (
        f'<label for="f-{name}">{escape(label)}</label>'
        f'<input type="text" id="f-{name}" name="{name}" value="{escape(v.get(name, ""))}"{placeholder}'
        f'{size} aria-describedby="f-{name}-hint"><p class="hint" id="f-{name}-hint">{escape(hint)}</p>'
    )


def _area(name: str, v: Values) -> str:
    label, example, hint = FIELDS[name]
    return (
        f'<label for="f-{name}">{escape(label)}</label>'
        f'<textarea id="f-{name}" name="{name}" placeholder="{escape(example)}" spellcheck="false" '
        f'aria-describedby="f-{name}-hint">{escape(v.get(name, ""))}</textarea>'
        f'<p class="hint" id="f-{name}-hint">{escape(hint)}</p>'
    )
