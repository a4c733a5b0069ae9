"""Every type of audit event, what it means, and the OCSF class a security team files it under.

The catalogue is data: ``docs/audit.md`` shows it as rendered by :func:`markdown_table`
(``python -m gateway.audit.catalogue`` prints it), and ``tests/test_audit_catalogue.py`` reads every
``record``/``durable`` call of the code, failing when a type in use is missing here or a type here
is used nowhere (unless it is marked ``planned``). An exporter (syslog, OTLP) maps an event with
:func:`ocsf_class` and needs nothing else.

OCSF classes are those of the Open Cybersecurity Schema Framework 1.x, by ``class_uid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

OCSF_CLASSES: Mapping[int, str] = MappingProxyType(
    {
        3001: "Account Change",
        3002: "Authentication",
        3003: "Authorize Session",
        3004: "Entity Management",
        3005: "User Access Management",
        4002: "HTTP Activity",
        6002: "Application Lifecycle",
        6003: "API Activity",
    }
)
BASE_EVENT = 0
"""OCSF's class for an event of no known class: what an uncatalogued type would be exported as."""


@dataclass(frozen=True)
class EventType:
    name: str
    meaning: str
    ocsf_class: int
    planned: bool = False
    """Catalogued for the coverage still to come; no code records it yet."""

    @property
    def ocsf_name(self) -> str:
        return OCSF_CLASSES[self.ocsf_class]


def _catalogue(*entries: EventType) -> Mapping[str, EventType]:
    return MappingProxyType({entry.name: entry for entry in entries})


CATALOGUE = _catalogue(
    # -- people and clients proving who they are ------------------------------------------------
    EventType("sign_in", "a person signed in (password or OpenID provider), or was refused", 3002),
    EventType(
        "federated_sign_in", "a sign-in at the OpenID provider started, or its answer was refused", 3002
    ),
    EventType(
        "token_refused", "the token endpoint refused a request: client, grant, scope or audience", 3002
    ),
    EventType(
        "bearer_refused", "a token presented at /mcp or the admin API was refused (invalid, revoked …)", 3002
    ),
    EventType("client_auth_refused", "a client failed to authenticate at /introspect or /revoke", 3002),
    EventType("client_metadata_document", "a Client ID Metadata Document was refused or not fetched", 3002),
    # -- what a session (a code, a token) may do ------------------------------------------------
    EventType("authorize_granted", "an authorization code was issued to a client for a person", 3003),
    EventType(
        "authorize_refused", "an authorization request was refused, back to its client or on the page", 3003
    ),
    EventType(
        "token_issued", "an access token was issued at /token (grant, client, subject, scope, jti)", 3003
    ),
    EventType("token_exchange", "a token exchange (RFC 8693) was granted or refused", 3003),
    EventType("token_revoked", "a client revoked one of its access tokens, or was refused another's", 3003),
    EventType(
        "refresh_revoked", "a client revoked a refresh token and its family, or was refused another's", 3003
    ),
    EventType("code_replayed", "an authorization code came back: what it issued is revoked", 3003),
    # -- what a client may hold: consent, access requests, grants -------------------------------
    EventType("consent", "a person allowed or denied a client's scopes, or sent them for approval", 3005),
    EventType("consent_access_request", "scopes a person allowed could not be sent for approval", 3005),
    EventType("access_requested", "a client filed an access request", 3005),
    EventType("access_request_approval", "one approver approved a request that needs more", 3005),
    EventType("access_approved", "an access request was approved: its grant exists", 3005),
    EventType("access_denied", "an access request was denied", 3005),
    EventType("access_request_decision", "a decision on an access request was refused by the rules", 3005),
    EventType("access_request_expired", "an access request expired undecided", 3005),
    EventType("grant_revoked", "a grant was revoked: every token carrying it stops", 3005),
    EventType("grant_expired", "a grant reached its expiry", 3005),
    EventType("grant_reviewed", "a grant was re-certified by a reviewer", 3005),
    EventType("review_due", "a grant's review date passed", 3005),
    EventType(
        "client_tokens_revoked",
        "a security admin ended every token of a client at once (its not-before mark), or was refused",
        3005,
    ),
    # -- accounts: clients and people -----------------------------------------------------------
    EventType("client_registration", "a dynamic registration was accepted, refused or rate limited", 3001),
    EventType("client_management", "a registered client was updated or deleted (RFC 7592), or refused", 3001),
    EventType("client_added", "an operator added a client (its public fields after)", 3001),
    EventType("client_removed", "an operator removed a client (its public fields before)", 3001),
    EventType("user_added", "a built-in user was added", 3001),
    EventType("user_removed", "a built-in user was removed", 3001),
    EventType("user_roles_changed", "a built-in user's console roles changed", 3001),
    # -- tool calls -----------------------------------------------------------------------------
    EventType("tools_list", "an agent listed tools: how many shown, how many hidden by scope", 6003),
    EventType(
        "tool_call", "a tool call was forwarded (the upstream answered), failed upstream, or refused", 6003
    ),
    EventType("call_pending", "a tool call was held for approval", 6003),
    EventType("call_approved", "a held tool call was approved", 6003),
    EventType("call_denied", "a held tool call was denied", 6003),
    EventType("call_passed", "an approved tool call passed, once", 6003),
    EventType("call_expired", "a held tool call expired undecided", 6003),
    # -- tool definitions: pins and quarantine (TP-2..TP-6) -------------------------------------
    EventType("tool_pending", "a tool definition not pinned (new or changed) waits for approval", 6002),
    EventType(
        "tool_changed", "a pinned tool's definition changed: held until approved, or approved by policy", 6002
    ),
    EventType(
        "tool_approved", "a tool definition was pinned (by a security admin or by policy), or refused", 6002
    ),
    EventType(
        "tool_quarantined", "a security admin rejected a tool definition: it stays out, or was refused", 6002
    ),
    # -- webhooks -------------------------------------------------------------------------------
    EventType("webhook_endpoint", "a webhook endpoint was added, removed, paused, resumed or re-keyed", 3004),
    EventType("webhook_delivery", "a webhook delivery ended (delivered or failed) or was refused", 4002),
    # -- the gateway itself ---------------------------------------------------------------------
    EventType("upstream_server_added", "an operator or tool author registered an upstream server", 6002),
    EventType("upstream_server_removed", "an operator or tool author removed an upstream server", 6002),
    EventType("upstream_server_updated", "a tool author or security admin changed an upstream server", 6002),
    EventType("namespace_owner_granted", "a security admin made a person an owner of a tool namespace", 3005),
    EventType("namespace_owner_revoked", "a security admin withdrew a person's namespace ownership", 3005),
    EventType("signing_key_rotated", "an operator published a new signing key (kid, purpose)", 6002),
    EventType("upstream_discovery", "an upstream's tools could not be discovered, or could again", 6002),
    EventType("background_task", "a background task stopped and was started again", 6002),
    EventType("audit_signing_key", "the public key that signs the trail's checkpoints, recorded in it", 6002),
    EventType(
        "audit_events_dropped", "events the trail's full buffer could not keep (in the log only)", 6002
    ),
    EventType("audit_pruned", "events past the retention, delivered by every exporter, left the trail", 6002),
)


def ocsf_class(event_type: str) -> int:
    """The OCSF ``class_uid`` of a type; :data:`BASE_EVENT` for a type the catalogue lacks."""
    entry = CATALOGUE.get(event_type)
    return BASE_EVENT if entry is None else entry.ocsf_class


def markdown_table() -> str:
    """The catalogue as ``docs/audit.md`` shows it."""
    lines = ["| type | meaning | OCSF class |", "|---|---|---|"]
    for entry in CATALOGUE.values():
        meaning = entry.meaning + (" *(planned)*" if entry.planned else "")
        lines.append(f"| `{entry.name}` | {meaning} | {entry.ocsf_name} ({entry.ocsf_class}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
