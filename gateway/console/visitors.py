"""Who is at the console: the person the sign-in session names, with the roles of record (AD-6).

A built-in user's roles are read from their record on every request, so a change made with
``mcp-gateway users roles`` applies at the next page; a federated person's are those their
provider's ID token mapped to when they signed in, kept in the session. Nothing the browser sends
with a request adds a role.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.approvals.decisions import Principal
from gateway.oauth.authorize.browser_state import BrowserState
from gateway.oauth.authorize.roles import WRITERS
from gateway.oauth.authorize.users import UserDirectory


@dataclass(frozen=True)
class Visitor:
    principal: Principal
    """What the desks are told: who acts, and the roles they hold."""
    csrf: str
    """The token this session's forms carry (AD-5)."""

    @property
    def name(self) -> str:
        return self.principal.subject

    @property
    def has_role(self) -> bool:
        return bool(self.principal.roles)

    @property
    def may_act(self) -> bool:
        """Whether the pages offer forms that change something; an auditor only reads. Whether a
        change is allowed is still the desk's decision."""
        return any(self.principal.holds(role) for role in WRITERS)

    def header(self) -> tuple[str, tuple[str, ...], str]:
        return self.name, self.principal.roles, self.csrf


class Visitors:
    def __init__(self, browser: BrowserState, users: UserDirectory) -> None:
        self._browser = browser
        self._users = users

    async def of(self, request: Request) -> Visitor | None:
        """The signed-in person, or None."""
        session = await self._browser.session(request)
        if session is None:
            return None
        if session.federated:
            roles = session.federated_roles
        else:
            user = await self._users.get(session.username)
            roles = user.roles if user is not None else ()
        return Visitor(Principal(session.username, roles), session.csrf)
