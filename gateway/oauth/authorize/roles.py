"""The roles a person may hold at the console (``/admin``), and where they come from (AD-6).

    security-admin   decides access requests, revokes and re-certifies grants
    tool-author      decides the requests whose scopes the policy hands to tool authors
    auditor          reads everything, changes nothing

A person holds no role until the gateway says so, and only the gateway says so: a built-in user's
roles are part of its record in the store (``mcp-gateway users add NAME --role …``, ``users roles``);
a person signed in at the upstream OpenID provider holds the roles the operator mapped from one
claim of the provider's ID token (``oidc_role_claim``, ``[oidc_role_mapping]``). Nothing the browser
sends names a role.

    >>> mapping = RoleMapping("groups", {"sec-team": ("security-admin",), "audit": ("auditor",)})
    >>> mapping.roles_from({"sub": "x", "groups": ["staff", "audit", "sec-team"]})
    ('security-admin', 'auditor')
    >>> mapping.roles_from({"sub": "x", "groups": "sec-team"}), mapping.roles_from({"sub": "x"})
    (('security-admin',), ())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.approvals.policy import APPROVER_ROLES

AUDITOR = "auditor"
WRITERS = APPROVER_ROLES
"""Roles that may act at the console: the ones a policy rule may name as approvers (what each may
do is the desks' rule, not the page's)."""
ROLES = (*WRITERS, AUDITOR)
"""Every role, in the order pages and listings show them."""
TRAIL_READERS = (AUDITOR, "security-admin")
"""Roles that may search the audit trail at the console (AD-7): it names every client, person and
tool and what each did."""


class RoleError(ValueError):
    """A role name the gateway does not know."""


def checked_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """``roles`` in the canonical order, each once; :class:`RoleError` names an unknown one."""
    given = list(roles)
    unknown = [role for role in given if role not in ROLES]
    if unknown:
        raise RoleError(f"unknown role {unknown[0]!r}: the roles are {', '.join(ROLES)}")
    return tuple(role for role in ROLES if role in given)


@dataclass(frozen=True)
class RoleMapping:
    """Which values of which ID-token claim give which roles; an empty claim maps nothing."""

    claim: str = ""
    mapping: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def roles_from(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """The roles the mapped values of the claim give: a list of strings or one string; any
        other shape, and every value nobody mapped, gives nothing."""
        if not self.claim:
            return ()
        value = claims.get(self.claim)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        mapped = (role for item in values if isinstance(item, str) for role in self.mapping.get(item, ()))
        return checked_roles(mapped)
