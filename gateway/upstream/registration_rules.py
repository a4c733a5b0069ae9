"""Who may register, change and remove which upstream server, and which of its fields are whose
(AD-9). Pure functions of the principal, the namespace's owners and the server before and after:
:class:`~gateway.upstream.registration.Registrations` asks them and does the I/O.

Authority:

* a security admin registers, changes and removes servers in any namespace;
* a tool author only in a namespace they own (:mod:`gateway.upstream.namespace_owners`), granted
  by a security admin. A new namespace is granted before it is used: an unowned namespace is
  never claimed by registering in it, so no author can squat an id another team was promised,
  nor take over the namespace of a server whose owners were withdrawn;
* anyone else (an auditor) never.

Fields: a tool author decides where the server is (``url``, ``openapi``, ``base_url``,
``operations``), its audience on the url's own origin, its scopes *within its namespace*, its
descriptions, timeout and refresh interval. The fields that decide how much review and exposure
the server gets are a security admin's:

    pinning           how much review its tools get (TP-2): never set or changed by an author
    foreign_audience  tokens for another origin sent to this url (UP-4): never set or changed
    audit_arguments   argument values recorded in the trail (AU-4): never set or changed
    call_approval     an author may add tools to it, never take one out
    audit_redact      an author may add names to it, never take one out
    input_requests    an author may take kinds out of it, never add one (IN: what it may ask)

Scopes stay within the namespace (``ns`` or ``ns:...``) for an author: a scope of another
namespace would put the author's tools under grants approved for someone else's. The same holds
for the scopes a REST API's imported document requires (AD-10): an author overrides the tools whose
document names another namespace's scopes (``tool_scopes``), or a security admin registers it.

    >>> from gateway.approvals.decisions import Principal
    >>> authority_refusal(Principal("ana", ("tool-author",)), "notes", ("ana",)) is None
    True
    >>> authority_refusal(Principal("ana", ("auditor",)), "notes", ("ana",))
    'this needs the tool-author or security-admin role'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gateway.approvals.decisions import Principal
from tools_registry.pins import DEFAULT_PINNING
from tools_registry.server_fields import EVERY_TOOL
from tools_registry.servers import UpstreamServer

KEEPER = "security-admin"
AUTHOR = "tool-author"
KEPT_FIELDS = ("pinning", "foreign_audience", "audit_arguments")
"""Fields only a security admin sets or changes."""


def authority_refusal(by: Principal, namespace: str, owners: Iterable[str]) -> str | None:
    """Why ``by`` may not register, change or remove in ``namespace``; None when they may."""
    if by.holds(KEEPER):
        return None
    if not by.holds(AUTHOR):
        return f"this needs the {AUTHOR} or {KEEPER} role"
    if by.subject in owners:
        return None
    return (
        f"you do not own the namespace {namespace!r}: a {KEEPER} grants it to you first "
        f"(mcp-gateway tools owners grant {namespace} {by.subject})"
    )


def field_refusal(by: Principal, before: UpstreamServer | None, after: UpstreamServer) -> str | None:
    """Why ``by`` may not make ``after`` of ``before`` (None: a new server) by the fields above."""
    if by.holds(KEEPER):
        return None
    kept = {
        "pinning": (before.pinning if before else DEFAULT_PINNING, after.pinning),
        "foreign_audience": (before.foreign_audience if before else False, after.foreign_audience),
        "audit_arguments": (set(before.audit_arguments) if before else set(), set(after.audit_arguments)),
    }
    for name, (was, now) in kept.items():
        if was != now:
            return f"{name} is a {KEEPER}'s decision: leave it out (it stays {_shown(was)})"
    held = set(before.call_approval) if before else set()
    if EVERY_TOOL not in after.call_approval and held - set(after.call_approval):
        taken = ", ".join(sorted(held - set(after.call_approval)))
        return f"call_approval: only a {KEEPER} takes a tool out of call approval ({taken})"
    redacted = set(before.audit_redact) if before else set()
    if redacted - set(after.audit_redact):
        return f"audit_redact: only a {KEEPER} stops redacting an argument"
    asked = set(after.input_requests) - (set(before.input_requests) if before else set())
    if asked:
        return f"input_requests: only a {KEEPER} lets a server ask agents for {', '.join(sorted(asked))}"
    return _scope_refusal(after)


def document_scope_refusal(
    by: Principal, server: UpstreamServer, required: Mapping[str, Sequence[str]]
) -> str | None:
    """Why ``by`` may not register ``server`` whose imported tools require ``required`` (by tool
    name, after its ``tool_scopes`` overrides) (AD-10). The scopes a REST API's document names are
    the author's words as much as ``tool_scopes`` are: a document requiring ``billing:admin`` would
    put the author's tools under grants approved for the ``billing`` namespace. A security admin
    registers such a document; an author overrides those tools' scopes within the namespace."""
    if by.holds(KEEPER):
        return None
    for tool, scopes in sorted(required.items()):
        outside = [scope for scope in scopes if not _within(server.id, scope)]
        if outside:
            return (
                f"operation {tool!r} requires scope {outside[0]!r} (its OpenAPI document's security), "
                f"outside the namespace {server.id!r}: override its scopes in tool_scopes within the "
                f"namespace (e.g. {tool} = {server.id}:{tool}), or ask a {KEEPER} to register it"
            )
    return None


WHERE = "give url (an MCP server's endpoint) or openapi and base_url (a REST API's document and address)"


def where_refusal(raw: Mapping[str, object]) -> str | None:
    """MCP or REST, said once: ``url``, or ``openapi`` with ``base_url``; None when so."""
    if "url" in raw and "openapi" in raw:
        return f"{WHERE}, not both"
    if "openapi" in raw and not raw.get("base_url"):
        return "openapi needs base_url: where the API's operations are called"
    if "url" in raw and any(name in raw for name in ("base_url", "operations")):
        return "base_url and operations are for a REST API (openapi)"
    if "url" not in raw and "openapi" not in raw:
        return WHERE
    return None


def _within(namespace: str, scope: str) -> bool:
    return scope == namespace or scope.startswith(namespace + ":")


def _scope_refusal(server: UpstreamServer) -> str | None:
    named = [*(server.default_scopes or ()), *(s for scopes in server.tool_scopes.values() for s in scopes)]
    outside = [scope for scope in named if not _within(server.id, scope)]
    if outside:
        return (
            f"scope {outside[0]!r} is outside the namespace: a tool author's scopes are "
            f"{server.id!r} or start with '{server.id}:'"
        )
    return None


def _shown(value: object) -> str:
    if isinstance(value, set):
        return ", ".join(sorted(value)) or "empty"
    return repr(value).lower() if isinstance(value, bool) else repr(value)


__all__ = ["AUTHOR", "KEEPER", "KEPT_FIELDS", "authority_refusal", "document_scope_refusal", "field_refusal"]
