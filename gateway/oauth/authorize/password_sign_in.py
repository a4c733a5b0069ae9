"""One attempt to sign in with a built-in user's name and password, wherever the form is: the
sign-in page of ``/authorize`` and the console's (``/admin``) share the limits (SI-1), the bounded
hashing (SI-2) and the audit lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.audit import AuditLog
from gateway.oauth.authorize.sign_in_limits import SignInLimits, account_digest
from gateway.oauth.authorize.users import User, UserDirectory


@dataclass(frozen=True)
class Attempt:
    """A signed-in user, or why not: the message for the form and the answer's status."""

    user: User | None
    error: str = ""
    status: int = 200


class PasswordSignIn:
    def __init__(self, users: UserDirectory, limits: SignInLimits, audit: AuditLog) -> None:
        self._users = users
        self._limits = limits
        self._audit = audit

    async def attempt(self, request: Request, username: str, password: str, **context: str) -> Attempt:
        """``context`` goes into the audit lines (the client, or the console)."""
        address = request.client.host if request.client is not None else "unknown"
        who = {**context, "account": account_digest(username), "address": address}
        wait = await self._limits.wait_before(username, address)
        if wait is not None:  # SI-1: no password is checked while the limit holds
            self._audit.record("sign_in", outcome="refused", reason="too_many_failures", **who)
            minutes = -(-wait // 60)
            error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
            return Attempt(None, error, 429)
        user = await self._users.authenticate(username, password)
        if user is None:
            await self._limits.failed(username, address)
            self._audit.record("sign_in", outcome="refused", reason="wrong_credentials", **who)
            return Attempt(None, "Wrong username or password.", 401)
        self._audit.record("sign_in", outcome="granted", sub=user.username, **context)
        return Attempt(user)
