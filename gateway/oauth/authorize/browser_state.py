"""Browser state of the authorization flow: who is signed in, pending requests, remembered consent.

Cookies carry only random 256-bit handles; what they stand for lives in the store under the
handle's SHA-256 (a stolen store dump yields no usable cookie). On https the cookie names carry
the ``__Host-`` prefix with ``Secure``; on a loopback http issuer (development) browsers would
drop ``Secure`` cookies, so the plain names are used. Always ``HttpOnly``, ``SameSite=Lax``,
``Path=/``.

One sign-in serves ``/authorize`` and the console (``/admin``). The session remembers how the
person signed in and, for a federated person, the roles mapped from the provider's ID token at
that sign-in (AD-6); a built-in user's roles are read from their record at each use. Forms of a
session carry a token derived from the session's handle (HMAC-SHA-256 under the handle), so the
token is bound to the session and the store, which keeps only the handle's digest, cannot yield it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.responses import Response

from gateway.clock import Clock
from gateway.constant_time import same
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.store import Store, digest

_SESSION = "browser-session:"
_PENDING = "authz-request:"
CONSENTS = "consents"


@dataclass(frozen=True)
class PendingRequest:
    """An authorization request waiting for sign-in and consent, bound to one browser."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str
    resource: str
    binder_digest: str
    csrf: str
    awaiting: tuple[str, ...] = ()
    """Scopes asked for that the client does not hold but may be granted after approval: on
    consent, they are filed as an access request (AP-3)."""


@dataclass(frozen=True)
class Session:
    """The person this browser's session cookie names."""

    username: str
    federated: bool
    """Signed in at the upstream OpenID provider (else a built-in user, whose roles are on record)."""
    federated_roles: tuple[str, ...]
    """A federated person's roles, mapped from the provider's ID token when they signed in."""
    csrf: str
    """The token forms of this session carry."""


def form_token(secret: str, purpose: str) -> str:
    """A token for the forms of ``purpose``, derived from a secret only this browser holds."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


class Cookies:
    def __init__(self, secure: bool) -> None:
        self.secure = secure
        prefix = "__Host-" if secure else ""
        self.session = f"{prefix}mcpgw-session"
        self.binder = f"{prefix}mcpgw-authz"

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


class BrowserState:
    def __init__(
        self,
        store: Store,
        cookies: Cookies,
        session_lifetime: int,
        request_lifetime: int,
        *,
        clock: Clock,
        marks: NotBeforeMarks,
    ) -> None:
        """``marks``: a session or a remembered consent made before its user (or client) was
        removed is not honoured (RV-2)."""
        self._store = store
        self._clock = clock
        self._marks = marks
        self.cookies = cookies
        self._session_lifetime = session_lifetime
        self._request_lifetime = request_lifetime

    # -- signed-in users -------------------------------------------------------------------
    async def signed_in_user(self, request: Request) -> str | None:
        session = await self.session(request)
        return session.username if session is not None else None

    async def session(self, request: Request) -> Session | None:
        """The signed-in person, unless the session ended or was made before they were removed."""
        handle = request.cookies.get(self.cookies.session)
        value = await self._store.get(_SESSION + digest(handle)) if handle else None
        if handle is None or value is None:
            return None
        record = json.loads(value)
        username = str(record["user"])
        if not await self._marks.allows(at=float(record["at"]), subject=username):
            return None
        federated = record.get("method") == "oidc"
        roles = tuple(str(role) for role in record.get("roles", ())) if federated else ()
        return Session(username, federated, roles, form_token(handle, "session-forms"))

    async def sign_in(
        self, response: Response, username: str, *, federated_roles: tuple[str, ...] | None = None
    ) -> None:
        """A new session for ``username``: a built-in user, or (with ``federated_roles``, maybe
        empty) a person the upstream OpenID provider signed in."""
        handle = secrets.token_urlsafe(32)
        record: dict[str, object] = {"user": username, "at": self._clock.now(), "method": "password"}
        if federated_roles is not None:
            record |= {"method": "oidc", "roles": list(federated_roles)}
        await self._store.put(_SESSION + digest(handle), json.dumps(record), self._session_lifetime)
        self.cookies.set(response, self.cookies.session, handle, self._session_lifetime)

    async def sign_out(self, request: Request, response: Response) -> None:
        handle = request.cookies.get(self.cookies.session)
        if handle:
            await self._store.delete(_SESSION + digest(handle))
        response.delete_cookie(
            self.cookies.session, path="/", secure=self.cookies.secure, httponly=True, samesite="lax"
        )

    # -- pending authorization requests ----------------------------------------------------
    def binder(self, request: Request) -> tuple[str, bool]:
        """This browser's binder value, and whether it is new (then it must be set as a cookie)."""
        existing = request.cookies.get(self.cookies.binder)
        if existing and 32 <= len(existing) <= 64:
            return existing, False
        return secrets.token_urlsafe(32), True

    async def save_pending(self, pending: PendingRequest) -> str:
        request_id = secrets.token_urlsafe(24)
        await self._store.put(_PENDING + request_id, json.dumps(asdict(pending)), self._request_lifetime)
        return request_id

    async def load_pending(
        self, request: Request, request_id: str, csrf: str | None
    ) -> PendingRequest | None:
        """The pending request, only for the browser it was made in and (on POST) with its CSRF token."""
        value = await self._store.get(_PENDING + request_id) if request_id else None
        if value is None:
            return None
        data = json.loads(value)
        data["scopes"] = tuple(data["scopes"])
        data["awaiting"] = tuple(data.get("awaiting", ()))
        pending = PendingRequest(**data)
        binder = request.cookies.get(self.cookies.binder, "")
        if not same(digest(binder), pending.binder_digest):
            return None
        if csrf is not None and not same(csrf, pending.csrf):
            return None
        return pending

    async def finish_pending(self, request_id: str) -> bool:
        """Single use: True only for the one caller that ends the request."""
        return await self._store.take(_PENDING + request_id) is not None

    def new_pending(self, binder: str, **fields: object) -> PendingRequest:
        return PendingRequest(binder_digest=digest(binder), csrf=secrets.token_urlsafe(24), **fields)  # type: ignore[arg-type]

    # -- remembered consent (per user, client and scope set) --------------------------------
    async def remembered_scopes(self, username: str, client_id: str) -> set[str]:
        value = await self._store.get_record(CONSENTS, digest(f"{username}\x00{client_id}"))
        if not value:
            return set()
        consent = json.loads(value)
        if not await self._marks.allows(at=float(consent["at"]), subject=username, client_id=client_id):
            return set()
        return set(consent["scopes"])

    async def remember_consent(self, username: str, client_id: str, scopes: tuple[str, ...]) -> None:
        granted = await self.remembered_scopes(username, client_id) | set(scopes)
        consent = {"scopes": sorted(granted), "at": self._clock.now()}
        await self._store.put_record(CONSENTS, digest(f"{username}\x00{client_id}"), json.dumps(consent))
