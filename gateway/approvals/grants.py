"""Grants: what a client may hold, as records a security team can read, question and revoke.

A grant names a client, the scopes it may hold, the resource (audience) they are for, where it came
from, who decided and why, when it ends (``expires_at``) and when someone must look at it again
(``review_by``). Two kinds:

* **standing** grants are the scopes a client definition lists (the configuration file,
  ``clients add --scope``, a registration's automatic scopes). They are not stored twice: they are
  read from the client and shown with the id ``standing:<client id>``; they last as long as the
  client does.
* **approved** grants are records made when an access request is approved. Their ids travel in the
  tokens they allowed (the ``grants`` claim), so revoking one moves its not-before mark
  (:mod:`gateway.oauth.tokens.not_before`) and every live token that carries it stops working,
  with no store round trip on the MCP path.

A token never outlives a grant that allowed one of its scopes: its ``exp`` is at most the grant's
``expires_at``, and its review date too when overdue grants are suspended.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.store import Store

COLLECTION = "grants"
STANDING_PREFIX = "standing:"

Source = Literal["config", "store", "registration", "approval", "policy"]
Status = Literal["active", "expired", "revoked", "suspended"]


def new_grant_id() -> str:
    return "grt_" + secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    scopes: tuple[str, ...]
    resource: str | None
    """The audience the scopes are for; ``None`` (standing grants): every audience the client may
    ask for."""
    source: Source
    granted_by: tuple[str, ...] = ()
    """Who decided: the approvers' subjects, or ``policy`` for automatic grants."""
    reason: str = ""
    created_at: float = 0.0
    expires_at: float | None = None
    review_by: float | None = None
    request_id: str | None = None
    revoked_at: float | None = None
    revoked_by: str | None = None
    revoke_reason: str = ""
    reviewed_at: float | None = None
    reviewed_by: str | None = None
    review_note: str = ""
    suspended_at: float | None = None
    announced: tuple[str, ...] = ()
    """Events already announced for this grant (``grant.expired``, ``review.due``): each once."""

    @property
    def standing(self) -> bool:
        return self.grant_id.startswith(STANDING_PREFIX)

    def status(self, now: float, suspend_overdue: bool) -> Status:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        if self.suspended_at is not None or (suspend_overdue and self.overdue(now)):
            return "suspended"
        return "active"

    def overdue(self, now: float) -> bool:
        return self.review_by is not None and now >= self.review_by

    def active_until(self, suspend_overdue: bool) -> float | None:
        """The latest instant a token allowed by this grant may live to (None: no bound)."""
        ends = [self.expires_at]
        if suspend_overdue:
            ends.append(self.review_by)
        bounds = [end for end in ends if end is not None]
        return min(bounds) if bounds else None

    def public_view(self, now: float, suspend_overdue: bool) -> dict[str, Any]:
        view = asdict(self)
        view["scopes"] = list(self.scopes)
        view["granted_by"] = list(self.granted_by)
        view["status"] = self.status(now, suspend_overdue)
        view["overdue"] = self.overdue(now)
        view.pop("announced")
        return view

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Grant:
        values: dict[str, Any] = json.loads(text)
        for name in ("scopes", "granted_by", "announced"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


def standing_grant(client_id: str, scopes: Iterable[str], source: Source, created_at: float) -> Grant:
    return Grant(
        grant_id=STANDING_PREFIX + client_id,
        client_id=client_id,
        scopes=tuple(scopes),
        resource=None,
        source=source,
        created_at=created_at,
    )


class GrantBook:
    """The approved grants, kept as store records (every replica and the CLI share them)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, grant: Grant) -> Grant:
        await self._store.put_record(COLLECTION, grant.grant_id, grant.to_json())
        return grant

    async def get(self, grant_id: str) -> Grant | None:
        text = await self._store.get_record(COLLECTION, grant_id)
        return Grant.from_json(text) if text is not None else None

    async def save(self, grant: Grant, **changes: Any) -> Grant:
        changed = replace(grant, **changes)
        await self._store.put_record(COLLECTION, grant.grant_id, changed.to_json())
        return changed

    async def all(self) -> list[Grant]:
        """Every approved grant, oldest first."""
        records = await self._store.list_records(COLLECTION)
        grants = [Grant.from_json(text) for text in records.values()]
        return sorted(grants, key=lambda g: (g.created_at, g.grant_id))

    async def of_client(self, client_id: str) -> list[Grant]:
        return [grant for grant in await self.all() if grant.client_id == client_id]


def by_id(grants: Iterable[Grant]) -> Mapping[str, Grant]:
    return {grant.grant_id: grant for grant in grants}
