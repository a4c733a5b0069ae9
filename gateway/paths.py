"""Every path the gateway serves, in one place, so no module imports another only for a constant.

The MCP endpoint's own path is a setting (``mcp_path``, ``/mcp`` by default); the rest are fixed
and advertised in the metadata documents, which clients follow instead of guessing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# -- authorization server ---------------------------------------------------------------------
AUTHORIZE = "/authorize"
LOGIN = "/authorize/login"
CONSENT = "/authorize/consent"
FEDERATED_START = "/authorize/federated"
FEDERATED_CALLBACK = "/authorize/federated/callback"
TOKEN = "/token"
JWKS = "/jwks.json"
INTROSPECT = "/introspect"
REVOKE = "/revoke"
REGISTER = "/register"
ACCESS_REQUESTS = "/access-requests"
"""Where agents file access requests and look at them (``/access-requests/{id}``)."""

# -- protected resource -----------------------------------------------------------------------
PROTECTED_RESOURCE_METADATA = "/.well-known/oauth-protected-resource"
CALL_APPROVALS = "/call-approvals"
"""Where an agent reads the state of a call of its own held for approval (``/call-approvals/{id}``)."""

# -- operations -------------------------------------------------------------------------------
HEALTHZ = "/healthz"
"""The public probe for load balancers: whether this replica can serve, and nothing more."""
ADMIN_API = "/admin/api"
"""The admin API: its resource URL (the ``aud`` of admin tokens, the same for every version) and
the prefix every admin path is under."""
ADMIN_API_V1 = ADMIN_API + "/v1"
ADMIN_HEALTH = ADMIN_API_V1 + "/health"
ADMIN_OPENAPI = ADMIN_API_V1 + "/openapi.json"
"""The OpenAPI 3.1 document of the admin API, served to any admin role like the rest of it."""
ADMIN_ACCESS_REQUESTS = ADMIN_API_V1 + "/access-requests"
ADMIN_GRANTS = ADMIN_API_V1 + "/grants"
ADMIN_POLICY = ADMIN_API_V1 + "/policy"
ADMIN_CALLS = ADMIN_API_V1 + "/calls"
ADMIN_TOOLS_PENDING = ADMIN_API_V1 + "/tools/pending"
"""Held calls for approvers: ``?status=``, ``/{id}``, ``/{id}/approve``, ``/{id}/deny``."""
ADMIN_SERVERS = ADMIN_API_V1 + "/servers"
"""Upstream servers, registered by tool authors in the namespaces they own (AD-9)."""
ADMIN_NAMESPACES = ADMIN_API_V1 + "/namespaces"
"""Who owns which namespace: ``/{namespace}/owners`` grants, ``/{namespace}/owners/{person}`` revokes."""
ADMIN_AUDIT_EVENTS = ADMIN_API_V1 + "/audit/events"
"""The audit trail, searched and paged, for auditors and security admins."""
CALL_PAGES = "/admin/calls"
"""The held calls at the console: ``/admin/calls`` lists them, ``/admin/calls/{id}`` is the approval
page of one (the agent is sent there), ``…/approve`` and ``…/deny`` decide it."""
CONSOLE = "/admin"
"""The security team's web console: its pages are under this prefix, except ``/admin/api``."""
CONSOLE_SIGN_IN = CONSOLE + "/sign-in"
CONSOLE_FEDERATED = CONSOLE_SIGN_IN + "/federated"
CONSOLE_SIGN_OUT = CONSOLE + "/sign-out"
CONSOLE_REQUESTS = CONSOLE + "/requests"
"""``/admin/requests/{id}`` shows one access request; ``…/approve`` and ``…/deny`` decide it."""
CONSOLE_GRANTS = CONSOLE + "/grants"
"""The grants; ``/admin/grants/{id}/revoke`` and ``…/review`` change one."""
CONSOLE_CLIENTS = CONSOLE + "/clients"
"""Every client with what it holds; ``/admin/clients/{id}/revoke-tokens`` ends its tokens and
``/admin/clients/grants/{id}/revoke`` one of its grants."""
CONSOLE_TOOLS = CONSOLE + "/tools"
CONSOLE_TOOLS_PENDING = CONSOLE_TOOLS + "/pending"
CONSOLE_TOOLS_REGISTER = CONSOLE_TOOLS + "/register"
CONSOLE_ACCESS_GRAPH = CONSOLE + "/access-graph"
CONSOLE_AUDIT = CONSOLE + "/audit"


def resource_metadata_path(resource: str) -> str:
    """``/.well-known/oauth-protected-resource/<path of the resource>`` (RFC 9728 §3.1)."""
    return PROTECTED_RESOURCE_METADATA + urlsplit(resource).path.rstrip("/")


def well_known_paths(name: str, issuer: str) -> list[str]:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path; the
    root form is served too, for clients that only know that one."""
    path = urlsplit(issuer).path.rstrip("/")
    return [f"/.well-known/{name}"] + ([f"/.well-known/{name}{path}"] if path else [])
