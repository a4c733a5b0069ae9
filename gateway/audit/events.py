"""One audit event: what happened, when, with what outcome, who did it and how they came in.

An event is made once, where the decision is taken (``AuditLog.record``), and never changes after:
the log line, the durable trail and any exporter all carry the same object. Its shape:

    id        a UUIDv7 (RFC 9562 §5.7): unique, and ordered by time within one process
    at        seconds since the epoch, from the gateway's clock (microseconds kept)
    type      a name of the catalogue (:mod:`gateway.audit.catalogue`)
    outcome   granted, refused, revoked, … : the verb of the decision, per type
    actor     the client and the subject acting, the chain of actors of a delegated token, and the
              channel the request came through (agent, admin-api, console, cli, background)
    fields    the facts that explain it (scope, audience, jti, request and grant ids …)

Nothing here ever holds a token, a secret or the values of a tool's arguments: a field whose name
says it holds one, and any value shaped like a JWT, is replaced by :data:`WITHHELD` before the event
exists (:func:`clean_fields`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.clock import Clock

CHANNELS = ("agent", "admin-api", "console", "cli", "background")
"""How a request came in: an agent (or the browser it sent to ``/authorize``), the admin API, the
console, the command line, or the gateway's own background work."""
WITHHELD = "[withheld]"
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "actor_token",
        "arguments",
        "assertion",
        "client_assertion",
        "client_secret",
        "code",
        "code_verifier",
        "id_token",
        "password",
        "refresh_token",
        "secret",
        "subject_token",
        "token",
    }
)
"""Field names whose values are never recorded, whoever passes them."""
_JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Actor:
    """Who acted. ``chain``: the actors of a delegated token, the current one first."""

    client_id: str | None = None
    subject: str | None = None
    chain: tuple[str, ...] = ()
    via: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "client_id": self.client_id,
            "subject": self.subject,
            "chain": list(self.chain),
            "via": self.via,
        }
        return {name: value for name, value in data.items() if value not in (None, [])}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Actor:
        return cls(data.get("client_id"), data.get("subject"), tuple(data.get("chain", ())), data.get("via"))

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], via: str | None) -> Actor:
        """The actor a call site's fields name: the person deciding (``by``) when there is one, the
        client being then what was decided about; else the client and its subject (``sub`` or
        ``subject``), with the delegation chain (``actor_chain``, or one ``actor``)."""
        if isinstance(fields.get("by"), str):
            return cls(subject=fields["by"], via=via)
        subject = fields.get("sub", fields.get("subject"))
        chain = fields.get("actor_chain", [fields["actor"]] if isinstance(fields.get("actor"), str) else [])
        return cls(
            client_id=_text(fields.get("client_id")),
            subject=_text(subject),
            chain=tuple(str(actor) for actor in chain) if isinstance(chain, list | tuple) else (),
            via=via,
        )


@dataclass(frozen=True)
class AuditEvent:
    event_id: str
    at: float
    type: str
    outcome: str
    actor: Actor = Actor()
    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as the trail stores it (its canonical form is :func:`gateway.audit.chain.canonical`)."""
        return {
            "id": self.event_id,
            "at": self.at,
            "type": self.type,
            "outcome": self.outcome,
            "actor": self.actor.to_json(),
            "fields": dict(self.fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEvent:
        return cls(
            event_id=str(data["id"]),
            at=float(data["at"]),
            type=str(data["type"]),
            outcome=str(data["outcome"]),
            actor=Actor.from_json(data.get("actor", {})),
            fields=dict(data.get("fields", {})),
        )

    def index(self) -> EventIndex:
        """The columns the trail is searched by, derived from the event (never stored apart from it
        without being checked against it: ``audit verify`` does)."""
        fields, actor = self.fields, self.actor
        return EventIndex(
            event_id=self.event_id,
            at=self.at,
            type=self.type,
            outcome=self.outcome,
            client_id=actor.client_id or _text(fields.get("client_id")),
            subject=actor.subject or _text(fields.get("sub", fields.get("subject"))),
            tool=_text(fields.get("tool")),
        )


@dataclass(frozen=True)
class EventIndex:
    """What ``audit search`` filters on. ``client_id``/``subject``: the actor's, else the client
    or subject the event is about; ``tool``: the exposed tool name of a tool call."""

    event_id: str
    at: float
    type: str
    outcome: str
    client_id: str | None
    subject: str | None
    tool: str | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def clean_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as JSON values (anything else as its text), with every secret withheld."""
    plain = json.loads(json.dumps(dict(fields), default=str))
    return {
        name: WITHHELD if name in SECRET_FIELDS else _withhold_tokens(value) for name, value in plain.items()
    }


def _withhold_tokens(value: Any) -> Any:
    if isinstance(value, str):
        return _JWT_SHAPED.sub(WITHHELD, value)
    if isinstance(value, list):
        return [_withhold_tokens(item) for item in value]
    if isinstance(value, dict):
        return {k: WITHHELD if k in SECRET_FIELDS else _withhold_tokens(v) for k, v in value.items()}
    return value


class EventIds:
    """UUIDv7 ids: 48 bits of Unix milliseconds, a 12-bit counter for ids made within the same
    millisecond (so this process's ids sort in the order they were made, even on a frozen clock),
    then 62 random bits drawn once per process: within it, millisecond and counter already make
    each id unique; across processes, the random bits do. One draw per process, not per event,
    saves a system call on the hot path (it was 3 % of a proxied tool call's time)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last_ms = 0
        self._counter = 0
        self._node = secrets.randbits(62)

    def next(self) -> str:
        ms = int(self._clock.now() * 1000)
        if ms <= self._last_ms:
            ms, self._counter = self._last_ms, self._counter + 1
            if self._counter > 0xFFF:
                ms, self._counter = ms + 1, 0
        else:
            self._counter = 0
        self._last_ms = ms
        value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | self._counter << 64 | 0b10 << 62 | self._node
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class EventMaker:
    """Makes the events of one gateway: its clock, its ids."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._ids = EventIds(clock)

    def new_event(
        self,
        event_type: str,
        outcome: str,
        fields: Mapping[str, Any],
        *,
        via: str | None,
        actor: Actor | None,
    ) -> AuditEvent:
        cleaned = clean_fields(fields)
        who = Actor.from_fields(cleaned, via) if actor is None else actor
        if who.via is None and via is not None:
            who = replace(who, via=via)
        at = round(self.clock.now(), 6)
        return AuditEvent(self._ids.next(), at, event_type, outcome, who, cleaned)
