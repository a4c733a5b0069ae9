"""Built-in users for small deployments: who may sign in at ``/authorize``.

Passwords are hashed with scrypt (stdlib, RFC 7914; n=2**15, r=8, p=1: ~64 MiB and tens of
milliseconds per check), each with its own 16-byte salt. A failed sign-in for an unknown user
spends the same work as for a known one, so the answer time does not tell which names exist.

A user may hold roles at the console (:mod:`gateway.oauth.authorize.roles`); none by default, and a
record stored before roles existed holds none.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, replace

import anyio
import anyio.to_thread

from gateway.oauth.authorize.roles import RoleError, checked_roles
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.store import Store

COLLECTION = "users"
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 128 * 1024 * 1024


FEDERATED_PREFIX = "oidc:"
"""How the names of people signed in at the upstream OpenID provider begin; no built-in user's does,
so a built-in user can never pass for a federated person (AD-6)."""


class UserError(ValueError):
    """A user definition that cannot be accepted."""


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    display_name: str = ""
    roles: tuple[str, ...] = ()
    """Roles at the console; only ``users add --role`` and ``users roles`` change them."""

    def public_view(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name or self.username,
            "roles": list(self.roles),
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> User:
        values = json.loads(text)
        values["roles"] = tuple(values.get("roles", ()))
        return cls(**values)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


class UserDirectory:
    def __init__(
        self, store: Store, max_concurrent_hashes: int = 2, *, marks: NotBeforeMarks | None = None
    ) -> None:
        """``max_concurrent_hashes``: scrypt runs at most this many at once (each takes ~64 MiB and a
        core for tens of milliseconds); more attempts wait their turn instead of starving the host.
        ``marks``: where removing a user revokes all it was issued (RV-2); the gateway always passes
        them, tests that only manage accounts may not."""
        self._store = store
        self._marks = marks
        self._hashing = anyio.CapacityLimiter(max_concurrent_hashes)

    async def add(
        self, username: str, password: str, display_name: str = "", roles: tuple[str, ...] = ()
    ) -> User:
        if not username or len(username) > 128 or not username.isprintable() or " " in username:
            raise UserError("username must be 1-128 printable characters without spaces")
        if username.startswith(FEDERATED_PREFIX):
            raise UserError(
                f"names beginning with {FEDERATED_PREFIX!r} belong to people of the OpenID provider"
            )
        if len(password) < 12:
            raise UserError("password must be at least 12 characters")
        known_roles = _roles(roles)
        if await self._store.get_record(COLLECTION, username) is not None:
            raise UserError(f"user {username!r} already exists")
        user = User(
            username,
            await anyio.to_thread.run_sync(hash_password, password, limiter=self._hashing),
            display_name,
            known_roles,
        )
        await self._store.put_record(COLLECTION, username, user.to_json())
        return user

    async def set_roles(self, username: str, roles: tuple[str, ...]) -> User:
        """The user with exactly ``roles`` (none: an empty tuple); the next page of the console
        they open already sees the change."""
        known_roles = _roles(roles)
        user = await self.get(username)
        if user is None:
            raise UserError(f"no user {username!r}")
        changed = replace(user, roles=known_roles)
        await self._store.put_record(COLLECTION, username, changed.to_json())
        return changed

    async def get(self, username: str) -> User | None:
        value = await self._store.get_record(COLLECTION, username)
        return User.from_json(value) if value is not None else None

    async def list_users(self) -> list[User]:
        records = await self._store.list_records(COLLECTION)
        return sorted((User.from_json(v) for v in records.values()), key=lambda u: u.username)

    async def remove(self, username: str) -> bool:
        """Remove the account and, with it, every token, session and consent it held (RV-2)."""
        removed = await self._store.delete_record(COLLECTION, username)
        if removed and self._marks is not None:
            await self._marks.revoke_subject(username)
        return removed

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password is right; the KDF runs off the event loop."""
        user = await self.get(username) if username else None
        stored = user.password_hash if user is not None else _dummy_hash()
        matches = await anyio.to_thread.run_sync(verify_password, password, stored, limiter=self._hashing)
        return user if matches and user is not None else None


def _roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return checked_roles(roles)
    except RoleError as exc:
        raise UserError(str(exc)) from None
