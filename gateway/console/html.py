"""The console's look: one stylesheet, the frame around every page, and the small pieces pages share
(moments and lengths of time, scopes with what they mean, status badges, notices, hidden fields).

Every value is escaped here or by the caller before it meets markup. The stylesheet is inline and
allowed by its hash (the page policy of :mod:`gateway.oauth.authorize.pages`), so the pages need no
second request, run no script, and accept no other style (AD-5).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

from gateway import paths
from gateway.oauth.authorize.pages import page_headers
from gateway.oauth.authorize.roles import TRAIL_READERS

STYLE = (
    ":root{--ink:#1d2330;--muted:#5b6472;--line:#d9dde3;--bg:#f5f6f8;--card:#fff;--accent:#1f5fbf;"
    "--ok:#1e7b3a;--warn:#8a5200;--bad:#b3261e}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);"
    "background:var(--bg)}"
    "header{background:#1d2330;color:#fff}"
    "header .bar{max-width:82rem;margin:0 auto;padding:.55rem 1.25rem;display:flex;gap:1.25rem;"
    "align-items:center;flex-wrap:wrap}"
    "header .brand{font-weight:700;letter-spacing:.01em}"
    "header nav{display:flex;gap:1rem}"
    "header a{color:#fff;text-decoration:none;padding:.2rem 0;border-bottom:2px solid transparent}"
    "header a[aria-current=page]{border-bottom-color:#8fb4ff}"
    "header .who{margin-left:auto;color:#c9d1e0;font-size:.9rem}"
    "header form{margin:0}"
    "header button{margin:0;background:transparent;color:#fff;border:1px solid #6b7486;padding:.2rem .7rem;"
    "font-size:.85rem}"
    "main{max-width:82rem;margin:1.5rem auto 3rem;padding:0 1.25rem}"
    "h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .75rem}"
    ".lead{color:var(--muted);margin:0 0 1.25rem}"
    "table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line)}"
    "caption{text-align:left;color:var(--muted);padding:0 0 .4rem}"
    "th,td{text-align:left;vertical-align:top;padding:.55rem .7rem;border-bottom:1px solid var(--line)}"
    "th{background:#eef0f4;font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}"
    "tr.overdue td{background:#fff5dc}"
    "code{font:.88em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f4;"
    "padding:.05rem .3rem;border-radius:3px}"
    "td code,time{white-space:nowrap}td code.url{white-space:normal;word-break:break-all}"
    "ul.scopes{list-style:none;margin:0;padding:0}ul.scopes li{margin:.1rem 0}"
    ".muted,.desc{color:var(--muted)}"
    ".badge{display:inline-block;padding:.05rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;"
    "background:#e3e6eb;color:var(--muted);white-space:nowrap}"
    ".badge.pending{background:#e4ecfb;color:#1f4a99}"
    ".badge.active,.badge.approved{background:#e2f3e6;color:var(--ok)}"
    ".badge.overdue,.badge.suspended{background:#fdecc8;color:var(--warn)}"
    ".badge.revoked,.badge.denied{background:#f9dedc;color:var(--bad)}"
    ".badge.used{background:#e2f3e6;color:var(--ok)}"
    ".notice{padding:.75rem 1rem;border-radius:6px;margin:0 0 1.25rem;border:1px solid}"
    ".notice.error{background:#fbeaea;border-color:#f0b8b4;color:#7d1a14}"
    ".notice.done{background:#e8f5ec;border-color:#b5dcc0;color:#17532a}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;"
    "margin:0 0 1rem}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.45rem 1.5rem;margin:0}"
    "dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}"
    "pre.arguments{font:.88em/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f6;"
    "border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:0 0 1rem;white-space:pre-wrap;"
    "overflow-wrap:anywhere;max-height:40rem;overflow:auto}"
    ".forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem;margin-top:1rem}"
    ".forms h2{margin-top:0}"
    "fieldset{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem .75rem;margin:0 0 .75rem}"
    "legend{font-weight:600;padding:0 .3rem}"
    "label{display:block;margin:.6rem 0 .25rem;font-weight:600}"
    ".check{margin:.3rem 0}.check label{display:inline;font-weight:400;margin:0}"
    ".inline{display:flex;gap:.5rem;align-items:center}"
    "input[type=text],input[type=password],input[type=number],select,textarea{font:inherit;"
    "padding:.45rem .55rem;border:1px solid #b0b7c3;border-radius:5px;background:#fff;color:var(--ink)}"
    "input[type=text],input[type=password],textarea{width:100%}input[type=number]{width:7rem}"
    "textarea{min-height:4.5rem}"
    "button{font:inherit;font-weight:600;padding:.5rem 1.1rem;border-radius:6px;border:1px solid transparent;"
    "cursor:pointer;margin:.75rem .5rem 0 0}"
    "button.primary{background:var(--accent);color:#fff}button.approve{background:var(--ok);color:#fff}"
    "button.danger{background:var(--bad);color:#fff}"
    "button.secondary{background:#fff;border-color:#b0b7c3;color:var(--ink)}"
    "details{margin:.25rem 0}"
    "details summary{cursor:pointer;color:var(--accent);font-weight:600;white-space:nowrap}"
    "a{color:var(--accent)}:focus-visible{outline:3px solid #8fb4ff;outline-offset:2px}"
    ".narrow{max-width:26rem}.empty{padding:1.5rem;text-align:center;color:var(--muted)}"
    ".client h2{margin:0 0 .7rem;font-size:1.1rem}.client h2 code{font-size:.95rem}"
    "dl.stats{display:flex;flex-wrap:wrap;gap:.6rem 2.5rem;margin:0 0 1rem}dl.stats dd{margin:.1rem 0 0}"
    "dl.stats dt{color:var(--muted);font-size:.78rem;text-transform:uppercase;letter-spacing:.04em}"
    "dl.stats strong{font-size:1.25rem}dl.stats .wide{flex-basis:100%}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}td.num.bad{color:var(--bad);font-weight:700}"
    ".danger-zone{margin-top:1rem;border-top:1px solid var(--line);padding-top:.6rem}"
    ".danger-zone summary{color:var(--bad)}.danger-zone p{max-width:48rem}"
    "ul.graph,ul.graph ul{list-style:none;margin:0;padding:0}"
    "ul.graph>li{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;"
    "margin:0 0 .9rem}"
    "ul.graph ul{margin:.35rem 0 0 .9rem;padding-left:1.1rem;border-left:2px solid var(--line)}"
    "ul.graph li li{margin:.4rem 0}"
    "ul.graph ul.tools{display:flex;flex-wrap:wrap;gap:.35rem;border-left-style:dotted}"
    "ul.graph ul.tools li{margin:0}"
    ".node{display:inline-block;padding:.15rem .6rem;border-radius:5px;font-weight:600}"
    ".node.client{background:#1d2330;color:#fff}.node.client code{background:#39414f;color:#fff}"
    ".node.client .muted{color:#c9d1e0}"
    ".node.grant{background:#e4ecfb;color:#1f4a99}.node.upstream{background:#e2f3e6;color:var(--ok)}"
    "form.search .criteria{display:grid;grid-template-columns:repeat(auto-fit,minmax(13rem,1fr));gap:0 1rem}"
    "form.search .reset{margin-right:1rem}"
    "details.event{background:var(--card);border:1px solid var(--line);border-radius:6px;margin:0 0 .35rem;"
    "padding:.45rem .9rem}"
    "details.event summary{display:flex;gap:1.1rem;align-items:center;flex-wrap:wrap;color:var(--ink);"
    "font-weight:400;white-space:normal}"
    "details.event .seq{font-weight:700;color:var(--muted);min-width:3.5rem}"
    "details.event .type{min-width:13rem}details.event .who{min-width:9rem}details.event dl{margin:.7rem 0}"
    ".badge.forwarded,.badge.granted,.badge.recertified{background:#e2f3e6;color:var(--ok)}"
    ".badge.refused,.badge.upstream_error,.badge.void,.badge.failed{background:#f9dedc;color:var(--bad)}"
    ".pager{text-align:right;font-weight:600}"
    ".badge.serving,.badge.up{background:#e2f3e6;color:var(--ok)}.badge.changed{background:#fdecc8;color:var(--warn)}"
    ".badge.quarantined,.badge.unhealthy,.badge.rejected,.badge.flagged{background:#f9dedc;color:var(--bad)}"
    ".badge.new-tool{background:#e4ecfb;color:#1f4a99}"
    "pre.diff{font:.86em/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--card);"
    "border:1px solid var(--line);border-radius:6px;padding:.4rem 0;margin:0 0 1rem;white-space:pre-wrap;"
    "overflow-wrap:anywhere;max-height:48rem;overflow:auto}"
    "pre.diff span{display:block;padding:0 1rem}pre.diff .add{background:#e6f4ea;color:#14532d}"
    "pre.diff .del{background:#fbe9e7;color:#7d1a14}pre.diff .hunk{background:#eef3fc;color:#1f4a99}"
    "pre.diff .head{color:var(--muted);font-weight:600}"
    ".flags{background:#fff5dc;border:1px solid #f0d08a;border-left:5px solid var(--warn);border-radius:6px;"
    "padding:.75rem 1.1rem;margin:0 0 1.25rem}.flags h2{margin:0 0 .4rem;color:var(--warn)}"
    ".flags ul{margin:.2rem 0 .5rem;padding-left:1.2rem}"
    ".hint{color:var(--muted);font-size:.85rem;margin:.2rem 0 0}"
    ".choice{display:flex;gap:1.5rem;flex-wrap:wrap}"
    ".columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:0 1.25rem}"
    "input.short{width:9rem}select{max-width:100%}a.cancel{margin-left:.25rem}"
    ".actions{display:flex;gap:1.25rem;flex-wrap:wrap;align-items:center;margin:0 0 1rem}"
    ".hidden-name{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}"
)

NAVIGATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (paths.CONSOLE, "Approval queue", ()),
    (paths.CALL_PAGES, "Held calls", ()),
    (paths.CONSOLE_GRANTS, "Grants", ()),
    (paths.CONSOLE_CLIENTS, "Clients", ()),
    (paths.CONSOLE_TOOLS, "Tools", ()),
    (paths.CONSOLE_TOOLS_PENDING, "Pending definitions", ()),
    (paths.CONSOLE_ACCESS_GRAPH, "Access graph", ()),
    (paths.CONSOLE_AUDIT, "Audit", TRAIL_READERS),
)
"""The pages a person holding a role moves between (path, name, and the roles one of which it
needs, when not every role reads it); a person holding none is shown no navigation (they may only
read the held calls made for them, AP-6)."""


def page(
    title: str,
    body: str,
    *,
    status: int = 200,
    person: tuple[str, Sequence[str], str] | None = None,
    current: str = "",
    form_targets: Sequence[str] = (),
) -> HTMLResponse:
    """A whole console page. ``person``: (name, roles, sign-out token) of who is signed in, for the
    header; ``current``: the path of the navigation entry this page is."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · MCP gateway console</title><style>{STYLE}</style></head>"
        f"<body>{_header(person, current)}<main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=page_headers(form_targets, style=STYLE))


def _header(person: tuple[str, Sequence[str], str] | None, current: str) -> str:
    if person is None:
        return '<header><div class="bar"><span class="brand">MCP gateway console</span></div></header>'
    name, roles, token = person
    links = "".join(
        f'<a href="{path}"{" aria-current=page" if path == current else ""}>{text}</a>'
        for path, text, needs in NAVIGATION
        if not needs or any(role in roles for role in needs)
    )
    navigation = f'<nav aria-label="Console">{links}</nav>' if roles else ""
    held = ", ".join(roles) or "no role"
    return (
        '<header><div class="bar"><span class="brand">MCP gateway console</span>'
        f"{navigation}"
        f'<span class="who">Signed in as <strong>{escape(name)}</strong> · {escape(held)}</span>'
        f'<form method="post" action="{paths.CONSOLE_SIGN_OUT}">{hidden({"csrf": token})}'
        '<button type="submit">Sign out</button></form></div></header>'
    )


def hidden(fields: Mapping[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())


def notice(text: str, kind: str = "error") -> str:
    """A message at the top of a page: ``error`` (an alert) or ``done``."""
    role = "alert" if kind == "error" else "status"
    return f'<p class="notice {kind}" role="{role}">{escape(text)}</p>' if text else ""


def moment(epoch_seconds: float | None) -> str:
    """A moment as a UTC date people read, marked up as a machine-readable ``time``."""
    if epoch_seconds is None:
        return '<span class="muted">never</span>'
    stamp = time.gmtime(epoch_seconds)
    machine = time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)
    return f'<time datetime="{machine}">{time.strftime("%Y-%m-%d %H:%M UTC", stamp)}</time>'


def length(seconds: float) -> str:
    """A length of time in the two largest units that matter: ``3 d 4 h``, ``45 min``, ``20 s``.

    >>> length(30 * 86400), length(5400), length(59)
    ('30 d', '1 h 30 min', '59 s')
    """
    whole = max(0, int(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 s"


def age(seconds: float) -> str:
    """How long ago something happened: ``just now`` under a minute, else :func:`length` ago."""
    return "just now" if seconds < 60 else f"{length(seconds)} ago"


def scope_list(scopes: Iterable[str], descriptions: Mapping[str, str]) -> str:
    items = "".join(f"<li>{scope_text(scope, descriptions)}</li>" for scope in scopes)
    return f'<ul class="scopes">{items}</ul>' if items else '<span class="muted">nothing</span>'


def scope_text(scope: str, descriptions: Mapping[str, str]) -> str:
    text = descriptions.get(scope, "")
    return f"<code>{escape(scope)}</code>" + (f' <span class="desc">— {escape(text)}</span>' if text else "")


def badge(status: str, text: str = "") -> str:
    """A status as a coloured pill: its class is the status (spaces as ``-``), its text ``text`` or
    the status itself."""
    return f'<span class="badge {escape(status.replace(" ", "-"))}">{escape(text or status)}</span>'


def people(names: Iterable[str]) -> str:
    return escape(", ".join(names)) or '<span class="muted">nobody</span>'
