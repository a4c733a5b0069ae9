"""The console's server form as text, and as the fields the registration service takes (AD-9).

A browser sends text, so every field is kept as the text the person typed (:data:`Values`): a
form refused is shown again with exactly that text. :func:`fields_of` turns it into the members
``UpstreamServer.as_dict`` names, and checks nothing beyond the text's shape: what a value may be
(a URL, a scope in the namespace, who may set it) is the registration service's to decide, as for
the CLI and the admin API.

Lists are written with commas or spaces; per-tool values one a line, ``tool = value``:

    >>> fields = fields_of({"kind": "mcp", "id": "notes", "url": "https://n.example/mcp",
    ...     "tool_scopes": "add = notes:write notes:read", "timeout": "5"}, {}, keeper=False)
    >>> fields["tool_scopes"], fields["timeout"], "pinning" in fields
    ({'add': ['notes:write', 'notes:read']}, 5.0, False)

The fields a security admin decides (``pinning``, ``foreign_audience``, ``audit_arguments``) are on
a security admin's form only. Someone else's form carries them only when forged: they are passed on
as sent, so the service refuses them (403) and records the refusal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway.errors import InvalidRequest
from tools_registry.servers import UpstreamServer
from tools_registry.urls import canonical_url

Values = Mapping[str, str]
KEPT = ("pinning", "foreign_audience", "audit_arguments")
"""The security admin's fields (:data:`~gateway.upstream.registration_rules.KEPT_FIELDS`)."""
TEXTS = (
    "kind",
    "id",
    "url",
    "openapi",
    "base_url",
    "operations",
    "audience",
    "default_scopes",
    "tool_scopes",
    "descriptions",
    "timeout",
    "refresh_interval",
    "call_approval",
    *KEPT,
)
DEFAULTS: Values = {"kind": "mcp", "timeout": "10", "refresh_interval": "300", "pinning": "first-use"}
LINE = re.compile(r"\s*([^=\s]+)\s*=\s*(.*?)\s*")


def values_of(form: Mapping[str, list[str]]) -> dict[str, str]:
    """The form's text, field by field (a field not sent is empty)."""
    return {name: (form.get(name) or [""])[0].replace("\r\n", "\n").strip() for name in TEXTS}


def values_from(server: UpstreamServer) -> dict[str, str]:
    """A registered server as its edit form shows it. The audience is left empty when it is the
    default (the url's own), so changing the url moves it along."""
    where = (
        {"url": server.url}
        if server.kind == "mcp"
        else {"openapi": server.openapi, "base_url": server.url, "operations": ", ".join(server.operations)}
    )
    return {
        "kind": server.kind,
        "id": server.id,
        **where,
        "audience": "" if server.audience == canonical_url(server.url) else server.audience,
        "default_scopes": " ".join(server.default_scopes) if server.default_scopes is not None else "",
        "tool_scopes": "\n".join(f"{tool} = {' '.join(s)}" for tool, s in server.tool_scopes.items()),
        "descriptions": "\n".join(f"{tool} = {text}" for tool, text in server.descriptions.items()),
        "timeout": f"{server.timeout:g}",
        "refresh_interval": f"{server.refresh_interval:g}",
        "call_approval": ", ".join(server.call_approval),
        "pinning": server.pinning,
        "foreign_audience": "on" if server.foreign_audience else "",
        "audit_arguments": ", ".join(server.audit_arguments),
    }


def fields_of(
    values: Values, sent: Mapping[str, list[str]], *, keeper: bool, editing: bool = False
) -> dict[str, Any]:
    """The members for :meth:`~gateway.upstream.registration.Registrations.register` (or, with
    ``editing``, ``update``: every member the form shows, which replace the stored ones; those it
    does not show, such as ``input_requests``, stay as they are). ``sent``: the form as posted, to
    tell a field left out from one sent empty."""
    kind = values.get("kind", "")
    if kind == "mcp":
        fields: dict[str, Any] = {"url": values.get("url", "")}
    elif kind == "openapi":
        operations = _names(values.get("operations", ""))
        fields = {"openapi": values.get("openapi", ""), "base_url": values.get("base_url", "")}
        fields["operations"] = operations
    else:
        raise InvalidRequest(
            "choose what the server is: an MCP server, or a REST API by its OpenAPI document"
        )
    if not editing:
        fields["id"] = values.get("id", "")
    if values.get("audience") or editing:
        fields["audience"] = values.get("audience", "")
    default_scopes = _names(values.get("default_scopes", ""))
    fields["default_scopes"] = default_scopes or None
    fields["tool_scopes"] = {tool: _names(text) for tool, text in _lines("tool_scopes", values).items()}
    fields["descriptions"] = _lines("descriptions", values)
    fields["call_approval"] = _names(values.get("call_approval", ""))
    for name in ("timeout", "refresh_interval"):
        fields[name] = _seconds(name, values.get(name) or DEFAULTS[name])  # empty: the default
    for name in KEPT:
        if keeper or name in sent:
            fields.update(_kept(name, values.get(name, ""), keeper))
    return fields


def _kept(name: str, text: str, keeper: bool) -> dict[str, Any]:
    if name == "foreign_audience":
        return {name: bool(text)}
    if name == "audit_arguments":
        return {name: _names(text)}
    return {name: text} if text or not keeper else {}


def _names(text: str) -> list[str]:
    return [name for name in re.split(r"[\s,]+", text) if name]


def _lines(name: str, values: Values) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate(values.get(name, "").splitlines(), start=1):
        if not line.strip():
            continue
        match = LINE.fullmatch(line)
        if match is None or not match.group(2):
            raise InvalidRequest(f"{name}, line {number}: write one tool a line, as tool = value")
        found[match.group(1)] = match.group(2)
    return found


def _seconds(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number of seconds, got {text[:40]!r}") from None


__all__ = ["DEFAULTS", "KEPT", "Values", "fields_of", "values_from", "values_of"]
