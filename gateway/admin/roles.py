"""The admin API's roles: scopes on tokens the gateway issued for the admin API (AD-1).

A role is a scope under ``admin``; the scope hierarchy (:mod:`tools_registry.scopes`) applies, so a
client holding ``admin`` holds every role. Roles are granted like any scope, by listing them in a
client's ``scopes``; the token must also be minted for the admin API's audience, which a client may
ask for only when its ``audiences`` name it (self-registered clients never do).

    admin:security-admin   decides who may hold what, revokes, reads everything
    admin:tool-author      registers upstream servers and their tools
    admin:auditor          reads (audit trail, health) and changes nothing
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.approvals.decisions import Principal
from gateway.challenges import ResourceChallenge
from gateway.claims import Claims
from gateway.errors import InsufficientScope
from tools_registry.scopes import covers

ADMIN = "admin"
SECURITY_ADMIN = "admin:security-admin"
TOOL_AUTHOR = "admin:tool-author"
AUDITOR = "admin:auditor"
ROLES = (SECURITY_ADMIN, TOOL_AUTHOR, AUDITOR)

READERS = (AUDITOR, SECURITY_ADMIN, TOOL_AUTHOR)
"""Who may read what every role may see (the health report, requests, grants, the policy); the
least of them first."""
DECIDERS = (SECURITY_ADMIN, TOOL_AUTHOR)
"""Who may approve or deny an access request at all; the policy names which of the two decides
each request, and the request desk checks that (AP-4)."""
AUDIT_READERS = (AUDITOR, SECURITY_ADMIN)
"""Who may search the audit trail: it names every client, person and tool, and what each did."""
KEEPERS = (SECURITY_ADMIN,)
"""Who may revoke and re-certify grants (the grant desk checks it too)."""


def require_role(claims: Claims, allowed: Sequence[str], resource_metadata: str) -> None:
    """Pass when the token holds one of the ``allowed`` roles (or a scope covering one); else 403
    ``insufficient_scope`` whose challenge names the first, least privileged, of them.

    >>> claims = Claims.from_jwt({"sub": "ops", "aud": "a", "jti": "j", "iat": 1, "exp": 2,
    ...                           "scope": "admin"})
    >>> require_role(claims, READERS, "https://gw.example/.well-known/oauth-protected-resource")
    """
    if not any(covers(claims.scopes, role) for role in allowed):
        raise InsufficientScope(
            f"this operation needs one of the roles {', '.join(allowed)}",
            challenge=ResourceChallenge(resource_metadata, allowed[0]),
        )


def principal_of(claims: Claims) -> Principal:
    """Who acts, as the approval desks know people: the token's subject, with every role its scopes
    cover, named without the ``admin:`` prefix (a held ``admin`` covers all three).

    >>> claims = Claims.from_jwt({"sub": "ops", "aud": "a", "jti": "j", "iat": 1, "exp": 2,
    ...                           "scope": "admin:auditor admin:security-admin tools:read"})
    >>> principal_of(claims)
    Principal(subject='ops', roles=('security-admin', 'auditor'))
    """
    held = (role for role in ROLES if covers(claims.scopes, role))
    return Principal(claims.subject, tuple(role.removeprefix(ADMIN + ":") for role in held))
