"""Held calls: a tool call that waits for a person's approval before the gateway forwards it (AP-6).

A held call records exactly what would have been sent — the tool (its exposed name, its server,
its name there), the arguments as canonical JSON — and who asked: the client, the token's subject
and the chain of actors. Those together make its **fingerprint**, the SHA-256 of their canonical
JSON; an approval is for that fingerprint only, so a call with one argument changed is another call
and needs its own approval.

A held call is ``pending`` until an approver decides: ``approved`` (the same call may then pass
once, within the window after the approval), ``denied`` (with the reason, told to the agent) or
``expired`` (nobody decided within the window, or the approved call never came). A call that passed
is ``used``; the next identical call is held again.

The one way through is atomic: an approval puts a single-use key under the fingerprint and the
call that passes takes it (``Store.take``), so of two identical calls made at once exactly one
gets it. Decisions are taken once, as for access requests: the first ``Store.add`` of the decision
key wins.

    >>> facts = CallFacts("files__rm", "files", "rm", '{"path":"/tmp/a"}', "agent", "alice", ())
    >>> facts.person, len(facts.fingerprint)
    ('alice', 64)
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from gateway.store import Store

COLLECTION = "held_calls"
LATEST_KEY = "held_call_latest:"
"""fingerprint -> the id of the newest held call with that fingerprint."""
PASS_KEY = "held_call_pass:"
"""fingerprint -> the id of an approved call not used yet: taken by the one call that passes."""
ROUND_KEY = "held_call_round:"
"""fingerprint + an upstream's requestState -> one retry of an approved call that was asked for
input (the 2026-07-28 multi round-trip): the approval covers the rounds of the call it approved."""
DECIDED_KEY = "held_call_decided:"

CALL_WINDOW = 600
"""Seconds a held call waits for a decision, and an approved call for the agent to make it."""
MAX_ARGUMENTS = 64 * 1024
"""Characters of a held call's arguments as canonical JSON."""

CallStatus = Literal["pending", "approved", "denied", "expired", "used"]
CALL_STATUSES: tuple[CallStatus, ...] = ("pending", "approved", "denied", "expired", "used")
HeldBecause = Literal["registration", "destructive"]


def new_call_id() -> str:
    return "call_" + secrets.token_urlsafe(12)


def canonical_json(value: object) -> str:
    """One spelling of a JSON value: keys sorted, no spaces, UTF-8 as is; ``ValueError`` for what
    JSON cannot carry (NaN, infinities)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    """A call's arguments as canonical JSON, at most :data:`MAX_ARGUMENTS` characters; ``ValueError``
    saying why not."""
    try:
        text = canonical_json(arguments)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("the arguments must be plain JSON (no NaN or infinities)") from None
    if len(text) > MAX_ARGUMENTS:
        raise ValueError(
            f"the arguments of a call that needs approval are at most {MAX_ARGUMENTS} characters"
        )
    return text


@dataclass(frozen=True)
class CallFacts:
    """What one call would send and who makes it: everything its fingerprint is made of."""

    tool: str
    server_id: str
    upstream_name: str
    arguments: str
    """Canonical JSON (:func:`canonical_arguments`)."""
    client_id: str
    subject: str
    actor_chain: tuple[str, ...]
    """The token's actors, the current one first (``act``, RFC 8693 §4.1)."""

    @property
    def person(self) -> str | None:
        """The person the agent acts for: the token's subject, unless that is the client itself."""
        return self.subject if self.subject and self.subject != self.client_id else None

    @property
    def fingerprint(self) -> str:
        facts = {
            "tool": self.tool,
            "server": self.server_id,
            "upstream_name": self.upstream_name,
            "arguments": json.loads(self.arguments),
            "client_id": self.client_id,
            "subject": self.subject,
            "actor_chain": list(self.actor_chain),
        }
        return hashlib.sha256(canonical_json(facts).encode()).hexdigest()


@dataclass(frozen=True)
class HeldCall:
    call_id: str
    tool: str
    server_id: str
    upstream_name: str
    arguments: str
    fingerprint: str
    client_id: str
    subject: str
    person: str | None
    actor_chain: tuple[str, ...]
    held_because: HeldBecause
    approver: str
    """``security-admin``, or ``person`` when only :attr:`person` may decide."""
    created_at: float
    expires_at: float
    """Until then a pending call waits for a decision; once approved, until then it may be made."""
    status: CallStatus = "pending"
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str = ""
    """Why it was denied, or the approver's note."""
    used_at: float | None = None

    @classmethod
    def of(cls, facts: CallFacts, held_because: HeldBecause, approver: str, now: float) -> HeldCall:
        return cls(
            call_id=new_call_id(),
            tool=facts.tool,
            server_id=facts.server_id,
            upstream_name=facts.upstream_name,
            arguments=facts.arguments,
            fingerprint=facts.fingerprint,
            client_id=facts.client_id,
            subject=facts.subject,
            person=facts.person,
            actor_chain=facts.actor_chain,
            held_because=held_because,
            approver=approver if facts.person else "security-admin",
            created_at=now,
            expires_at=now + CALL_WINDOW,
        )

    def current_status(self, now: float) -> CallStatus:
        if self.status in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.status

    def agents(self) -> tuple[str, ...]:
        """The clients that made the call: the one holding the token and the actors before it."""
        return tuple(dict.fromkeys(a for a in (self.client_id, *self.actor_chain) if a))

    def public_view(self, now: float, *, arguments: bool = True) -> dict[str, Any]:
        """The record as approvers read it; without ``arguments`` for announcements, which leave
        the gateway (the approval page shows them)."""
        view = asdict(self)
        view["status"] = self.current_status(now)
        view["actor_chain"] = list(self.actor_chain)
        if arguments:
            view["arguments"] = json.loads(self.arguments)
        else:
            del view["arguments"]
        return view

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> HeldCall:
        values: dict[str, Any] = json.loads(text)
        values["actor_chain"] = tuple(values.get("actor_chain", ()))
        return cls(**values)


class HeldCallBook:
    """Held calls as store records, with the atomic steps deciding and passing need."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, call: HeldCall, **changes: Any) -> HeldCall:
        changed = replace(call, **changes)
        await self._store.put_record(COLLECTION, changed.call_id, changed.to_json())
        return changed

    async def get(self, call_id: str) -> HeldCall | None:
        text = await self._store.get_record(COLLECTION, call_id)
        return HeldCall.from_json(text) if text is not None else None

    async def all(self) -> list[HeldCall]:
        """Every held call, oldest first."""
        records = await self._store.list_records(COLLECTION)
        calls = [HeldCall.from_json(text) for text in records.values()]
        return sorted(calls, key=lambda c: (c.created_at, c.call_id))

    async def forget(self, call_id: str) -> None:
        await self._store.delete_record(COLLECTION, call_id)

    async def latest(self, fingerprint: str) -> HeldCall | None:
        call_id = await self._store.get(LATEST_KEY + fingerprint)
        return await self.get(call_id) if call_id is not None else None

    async def make_latest(self, call: HeldCall, previous: HeldCall | None, keep_for: float) -> bool:
        """Name ``call`` the newest for its fingerprint, unless another call was filed meanwhile."""
        key = LATEST_KEY + call.fingerprint
        if previous is None:
            return await self._store.add(key, call.call_id, keep_for)
        return await self._store.swap(key, previous.call_id, call.call_id, keep_for)

    async def settle(self, call: HeldCall, outcome: str, keep_for: float) -> bool:
        """Take the one transition out of ``pending``; False when another decision took it."""
        return await self._store.add(DECIDED_KEY + call.call_id, outcome, keep_for)

    async def open_pass(self, call: HeldCall, keep_for: float) -> None:
        await self._store.put(PASS_KEY + call.fingerprint, call.call_id, keep_for)

    async def take_pass(self, fingerprint: str) -> str | None:
        """The approved call's id, for one caller only (of many at once, at most one gets it)."""
        return await self._store.take(PASS_KEY + fingerprint)

    async def open_round(self, fingerprint: str, request_state: str, call_id: str, keep_for: float) -> None:
        await self._store.put(_round_key(fingerprint, request_state), call_id, keep_for)

    async def take_round(self, fingerprint: str, request_state: str) -> str | None:
        return await self._store.take(_round_key(fingerprint, request_state))


def _round_key(fingerprint: str, request_state: str) -> str:
    """The state is the agent's to echo and may be long: it is kept under its digest."""
    return ROUND_KEY + fingerprint + ":" + hashlib.sha256(request_state.encode()).hexdigest()
