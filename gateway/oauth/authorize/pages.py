"""Server-rendered pages of the authorization flow: sign-in, consent, error.

Plain HTML that needs no JavaScript: labelled controls, one ``h1`` per page, ``lang`` set, so a
screen reader reads it as it reads the screen. Every value is escaped. Every page carries the
anti-framing and no-referrer headers (CO-7) and is never cached; its one stylesheet is inline and
allowed by its hash, so no other style (and no script at all) runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "fieldset{border:1px solid #999;padding:1rem}label{display:block;margin:.25rem 0}"
    "input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem}"
    "button{font-size:1rem;padding:.5rem 1.25rem;margin:1rem .5rem 0 0}.error{color:#a00}"
    ".scope{margin:.5rem 0}.scope label{display:inline}code{background:#eee;padding:0 .25rem}"
    "h2{font-size:1.1rem;margin-top:1.5rem}"
)


_CSP_SOURCE = re.compile(r"https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")


def style_hash(style: str) -> str:
    """The CSP source that allows exactly the inline stylesheet ``style``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


def page_headers(form_targets: Sequence[str] = (), style: str = _STYLE) -> dict[str, str]:
    """The headers of every page whose one inline stylesheet is ``style``. ``form_targets`` are
    origins built from parsed URLs (``tools_registry.urls.origin``); one that is not a plain
    ``scheme://host[:port]`` is left out rather than pasted into the policy (no directive can be
    smuggled in)."""
    form_action = " ".join(["'self'", *(t for t in form_targets if _CSP_SOURCE.fullmatch(t))])
    return {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style_hash(style)}; form-action {form_action}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _page(title: str, body: str, status: int, form_targets: Sequence[str] = ()) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=page_headers(form_targets))


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())


def error_page(message: str, status: int = 400) -> HTMLResponse:
    body = f'<h1>This request cannot be completed</h1><p class="error" role="alert">{escape(message)}</p>'
    return _page("Authorization error", body, status)


def login_page(
    *,
    action: str,
    hidden: Mapping[str, str],
    client_name: str,
    error: str | None,
    form_targets: Sequence[str],
    federated: tuple[str, str] | None = None,
    status: int = 401,
) -> HTMLResponse:
    """``federated``: (action, provider name) of a "Sign in with …" button posting the same fields;
    ``status`` is the answer's status when there is an ``error`` (401; 429 while attempts are limited)."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    other = (
        f'<form method="post" action="{escape(federated[0])}">{_hidden(hidden)}'
        f'<button type="submit">Sign in with {escape(federated[1])}</button></form>'
        if federated
        else ""
    )
    body = (
        f"<h1>Sign in</h1><p>Sign in to continue to <strong>{escape(client_name)}</strong>.</p>{alert}"
        f'<form method="post" action="{escape(action)}">{_hidden(hidden)}'
        '<label for="username">Username</label>'
        '<input type="text" id="username" name="username" autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" required>'
        f'<button type="submit">Sign in</button></form>{other}'
    )
    return _page("Sign in", body, status if error else 200, form_targets)


def _scope_text(name: str, text: str) -> str:
    return f"<code>{escape(name)}</code>{' — ' + escape(text) if text else ''}"


def consent_page(
    *,
    action: str,
    hidden: Mapping[str, str],
    client_name: str,
    client_id: str,
    redirect_host: str,
    user: str,
    scopes: Sequence[tuple[str, str]],
    form_targets: Sequence[str],
    awaiting: Sequence[tuple[str, str]] = (),
) -> HTMLResponse:
    """``awaiting``: scopes the client does not hold that go to the security team for approval if
    the person allows (AP-3); with no ``scopes`` at all, allowing only sends them."""
    items = "".join(
        f'<div class="scope"><input type="checkbox" id="scope-{i}" name="scope" value="{escape(name)}"'
        f' checked> <label for="scope-{i}">{_scope_text(name, text)}</label></div>'
        for i, (name, text) in enumerate(scopes)
    )
    held = (
        "<fieldset><legend>Permissions requested (untick any you do not want to grant)</legend>"
        f"{items}</fieldset>"
        if scopes
        else ""
    )
    approval = (
        '<section aria-labelledby="approval"><h2 id="approval">Needs approval by the security team</h2>'
        f"<p><strong>{escape(client_name)}</strong> may not hold these yet. If you allow, they go to "
        "the security team for approval, and the application gets them only once approved:</p>"
        f"<ul>{''.join(f'<li>{_scope_text(name, text)}</li>' for name, text in awaiting)}</ul></section>"
        if awaiting
        else ""
    )
    heading = f"Allow {client_name} to act for you?" if scopes else f"Ask for approval for {client_name}?"
    allow, deny = ("Allow", "Deny") if scopes else ("Send for approval", "Cancel")
    body = (
        f"<h1>{escape(heading)}</h1>"
        f"<p>Signed in as <strong>{escape(user)}</strong>. The application "
        f"<strong>{escape(client_name)}</strong> (client id <code>{escape(client_id)}</code>) asks for the "
        "permissions below. After you decide, you will be sent to "
        f"<strong>{escape(redirect_host)}</strong>.</p>"
        f'<form method="post" action="{escape(action)}">{_hidden(hidden)}{held}{approval}'
        f'<button type="submit" name="decision" value="allow">{allow}</button>'
        f'<button type="submit" name="decision" value="deny">{deny}</button></form>'
    )
    return _page(heading, body, 200, form_targets)


def approval_requested_page(
    *, client_name: str, request_id: str, scopes: Sequence[tuple[str, str]]
) -> HTMLResponse:
    """What the person sees when nothing could be granted now and the rest went for approval."""
    body = (
        "<h1>Sent to the security team for approval</h1>"
        f"<p>The application <strong>{escape(client_name)}</strong> asked for permissions it may not hold "
        "yet. They went to the security team for approval:</p>"
        f"<ul>{''.join(f'<li>{_scope_text(name, text)}</li>' for name, text in scopes)}</ul>"
        f"<p>Request <code>{escape(request_id)}</code>. Once it is approved, the application can ask "
        "again and you will be asked to allow it. You can close this page.</p>"
    )
    return _page("Sent for approval", body, 200)
