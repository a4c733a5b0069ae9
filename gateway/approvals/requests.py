"""Access requests: "this agent needs these scopes on this resource, for this long, because ...".

A request is filed by the agent itself (``POST /access-requests``), by the gateway on its behalf
when a call lacks a scope (step-up), from the consent page when a person's agent asks for more than
it may hold, or from a registration that asks for more than policy grants automatically. It waits
(``pending``) until it is ``approved`` (with what was granted), ``denied`` (with the reason) or
``expired``.

Decisions are made safe against two people deciding at once: each approval is a vote appended to
an atomic list in the store, and the one transition out of ``pending`` is taken by an
add-if-absent key, so of two concurrent decisions exactly one wins.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.store import Store

COLLECTION = "access_requests"
DECIDED_KEY = "access_request_decided:"
VOTES_KEY = "access_request_votes:"

Origin = Literal["agent", "step-up", "consent", "registration"]
RequestStatus = Literal["pending", "approved", "denied", "expired"]
ORIGINS: tuple[Origin, ...] = ("agent", "step-up", "consent", "registration")
STATUSES: tuple[RequestStatus, ...] = ("pending", "approved", "denied", "expired")


def new_request_id() -> str:
    return "req_" + secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Vote:
    """One approver's approval, with the terms they approved."""

    approver: str
    at: float
    scopes: tuple[str, ...]
    resource: str
    duration: int
    note: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Vote:
        values: dict[str, Any] = json.loads(text)
        values["scopes"] = tuple(values["scopes"])
        return cls(**values)


@dataclass(frozen=True)
class AccessRequest:
    request_id: str
    client_id: str
    scopes: tuple[str, ...]
    resource: str
    justification: str
    duration: int
    """Seconds the agent wishes to hold the scopes (cut to what policy allows)."""
    origin: Origin
    created_at: float
    expires_at: float
    """When a request still pending stops waiting."""
    subject: str | None = None
    """The person the agent acts for, when there is one (consent page, a person's token)."""
    status: RequestStatus = "pending"
    approvers_required: int = 1
    approver_role: str = "security-admin"
    votes: tuple[Vote, ...] = ()
    decided_at: float | None = None
    decided_by: tuple[str, ...] = ()
    grant_id: str | None = None
    granted_scopes: tuple[str, ...] = ()
    granted_resource: str | None = None
    granted_until: float | None = None
    reason: str = ""
    """Why it was denied, or the approver's note."""

    def current_status(self, now: float) -> RequestStatus:
        if self.status == "pending" and now >= self.expires_at:
            return "expired"
        return self.status

    def requesters(self) -> tuple[str, ...]:
        """Who asked: nobody among them may approve (AP-4)."""
        return tuple(p for p in (self.client_id, self.subject) if p)

    def public_view(self, now: float) -> dict[str, Any]:
        view = asdict(self)
        view["status"] = self.current_status(now)
        view["scopes"] = list(self.scopes)
        view["votes"] = [asdict(vote) | {"scopes": list(vote.scopes)} for vote in self.votes]
        view["decided_by"] = list(self.decided_by)
        view["granted_scopes"] = list(self.granted_scopes)
        return view

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AccessRequest:
        values: dict[str, Any] = json.loads(text)
        for name in ("scopes", "decided_by", "granted_scopes"):
            values[name] = tuple(values.get(name, ()))
        values["votes"] = tuple(Vote(**v | {"scopes": tuple(v["scopes"])}) for v in values.get("votes", ()))
        return cls(**values)


class AccessRequestBook:
    """Requests as store records, with the two atomic steps decisions need."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, request: AccessRequest, **changes: Any) -> AccessRequest:
        changed = replace(request, **changes)
        await self._store.put_record(COLLECTION, changed.request_id, changed.to_json())
        return changed

    async def get(self, request_id: str) -> AccessRequest | None:
        text = await self._store.get_record(COLLECTION, request_id)
        return await self._with_votes(AccessRequest.from_json(text)) if text is not None else None

    async def all(self) -> list[AccessRequest]:
        """Every request, oldest first."""
        records = await self._store.list_records(COLLECTION)
        found = [await self._with_votes(AccessRequest.from_json(text)) for text in records.values()]
        return sorted(found, key=lambda r: (r.created_at, r.request_id))

    async def vote(self, request: AccessRequest, vote: Vote, keep_for: float) -> tuple[Vote, ...]:
        """Add ``vote`` atomically; every vote cast so far, first one first."""
        await self._store.append(VOTES_KEY + request.request_id, vote.to_json(), keep_for)
        return await self._votes(request.request_id)

    async def _votes(self, request_id: str) -> tuple[Vote, ...]:
        return tuple(Vote.from_json(item) for item in await self._store.items(VOTES_KEY + request_id))

    async def _with_votes(self, request: AccessRequest) -> AccessRequest:
        """A pending request's record is never rewritten by a vote (two approvers may vote at
        once): its votes are read from their atomic list."""
        if request.status != "pending":
            return request
        return replace(request, votes=await self._votes(request.request_id))

    async def settle(self, request: AccessRequest, outcome: str, keep_for: float) -> bool:
        """Take the one transition out of ``pending``; False when another decision took it."""
        return await self._store.add(DECIDED_KEY + request.request_id, outcome, keep_for)
