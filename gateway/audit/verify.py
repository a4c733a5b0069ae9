"""``audit verify``: recompute the chain, check every checkpoint, and name where the trail changed.

Three passes over what the store holds, reading nothing else:

1. every event: its hash recomputed from its body and previous hash, its searchable columns against
   its body, its id against every other (:mod:`gateway.audit.links` has the rest of the per-event
   story: deletions, insertions, moves);
2. the head: the trail ends where the last append said it did;
3. every checkpoint: numbered without gaps, signed by a key the gateway publishes (its ``gateway``
   keys from the store), or by a key the trail itself recorded (``audit_signing_key``) provided a
   later checkpoint under a published key vouches for that record, and its hash is the hash of the
   event it names. When a checkpoint disagrees with the chain although the links are whole, every
   hash after some edit was recomputed: the change lies after the last checkpoint that agrees.

Verification holds three short strings per event in memory (about 200 bytes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gateway.audit.checkpoints import (
    KEY_EVENT,
    CheckpointClaims,
    CheckpointRefused,
    public_key,
    read_checkpoint,
)
from gateway.audit.links import Finding, Row, link_findings
from gateway.audit.store import AuditStore, ChainHead, Checkpoint

_PAGE = 2000


@dataclass
class Verification:
    events: int = 0
    head: int = 0
    checkpoints: int = 0
    signed_through: int = 0
    """The last event a valid checkpoint vouches for (the trail up to it is as written)."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "checkpoints": self.checkpoints,
            "signed_through": self.signed_through,
            "findings": [finding.to_json() for finding in self.findings],
        }


@dataclass
class _Read:
    rows: list[Row] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recorded_keys: dict[str, tuple[int, ec.EllipticCurvePublicKey]] = field(default_factory=dict)
    """kid -> (the event that recorded it, the key)."""


async def verify_trail(
    store: AuditStore, published: Mapping[str, ec.EllipticCurvePublicKey], issuer: str
) -> Verification:
    """``published``: the gateway's own verification keys by ``kid``; ``issuer``: its issuer id."""
    read = await _read_events(store)
    head = await store.head()
    result = Verification(events=len(read.rows), head=head.seq)
    result.findings = read.findings + link_findings(read.rows) + _head_findings(read.rows, head)
    checkpoints = await _all_checkpoints(store)
    result.checkpoints = len(checkpoints)
    hashes = {row.seq: row.hash for row in read.rows}
    findings, result.signed_through = _checkpoint_findings(checkpoints, hashes, published, read, issuer)
    result.findings += findings
    result.findings.sort(key=lambda f: (f.seq or 0, f.kind))
    return result


async def _read_events(store: AuditStore) -> _Read:
    read, after = _Read(), 0
    seen: dict[str, int] = {}
    while page := await store.read(after, _PAGE):
        for stored in page:
            after = stored.seq
            read.rows.append(Row(stored.seq, stored.prev_hash, stored.hash))
            if not stored.intact():
                read.findings.append(
                    Finding("edited", stored.seq, f"event {stored.seq} does not match its hash")
                )
                continue
            try:
                event = stored.event()
            except (ValueError, KeyError, TypeError):
                read.findings.append(Finding("edited", stored.seq, f"event {stored.seq} is not an event"))
                continue
            if event.index() != stored.index:
                read.findings.append(
                    Finding("edited", stored.seq, f"event {stored.seq}'s columns disagree with its body")
                )
            if event.event_id in seen:
                read.findings.append(
                    Finding(
                        "inserted",
                        stored.seq,
                        f"event {stored.seq} is a copy of event {seen[event.event_id]}",
                    )
                )
            seen.setdefault(event.event_id, stored.seq)
            if event.type == KEY_EVENT:
                with contextlib.suppress(KeyError, ValueError, TypeError):  # a broken key vouches for nothing
                    read.recorded_keys[str(event.fields["kid"])] = (
                        stored.seq,
                        public_key(event.fields["jwk"]),
                    )
    return read


def _head_findings(rows: list[Row], head: ChainHead) -> list[Finding]:
    last = rows[-1] if rows else Row(0, "", head.hash if head.seq == 0 else "")
    if last.seq < head.seq:
        return [
            Finding("deleted", last.seq + 1, f"events {last.seq + 1} to {head.seq} are missing at the end")
        ]
    if last.seq > head.seq:
        return [
            Finding(
                "inserted",
                head.seq + 1,
                f"events {head.seq + 1} to {last.seq} were not appended by the gateway",
            )
        ]
    if last.hash != head.hash:
        return [Finding("edited", head.seq, f"event {head.seq} is not the event its append wrote")]
    return []


async def _all_checkpoints(store: AuditStore) -> list[Checkpoint]:
    found: list[Checkpoint] = []
    while page := await store.checkpoints(found[-1].number if found else 0, _PAGE):
        found += page
    return found


def _checkpoint_findings(
    checkpoints: list[Checkpoint],
    hashes: Mapping[int, str],
    published: Mapping[str, ec.EllipticCurvePublicKey],
    read: _Read,
    issuer: str,
) -> tuple[list[Finding], int]:
    """The findings of the checkpoints, and the last event a valid one vouches for."""
    findings: list[Finding] = []
    agreeing = 0  # the last event a checkpoint vouches for, as far as the chain agrees
    vouched: list[tuple[CheckpointClaims, bool]] = []  # (claims, under a published key)
    recorded = {kid: key for kid, (_, key) in read.recorded_keys.items()}
    seq_of = {digest: seq for seq, digest in hashes.items()}
    for expected, checkpoint in enumerate(checkpoints, start=1):
        where = f"checkpoint {checkpoint.number}"
        if checkpoint.number != expected:
            findings.append(Finding("checkpoint", checkpoint.seq, f"checkpoint {expected} is missing"))
        try:
            claims, under_published = read_checkpoint(checkpoint.jws, published, issuer), True
        except CheckpointRefused as exc:
            try:
                claims, under_published = read_checkpoint(checkpoint.jws, recorded, issuer), False
            except CheckpointRefused:
                findings.append(Finding("checkpoint", checkpoint.seq, f"{where} is forged: {exc}"))
                continue
        if (claims.number, claims.seq, claims.hash) != (checkpoint.number, checkpoint.seq, checkpoint.hash):
            findings.append(
                Finding("checkpoint", checkpoint.seq, f"{where} is stored apart from what it signs")
            )
            continue
        actual = hashes.get(claims.seq)
        if actual is None:
            findings.append(
                Finding("deleted", claims.seq, f"event {claims.seq}, which {where} vouches for, is gone")
            )
        elif actual != claims.hash and claims.hash in seq_of:
            moved = seq_of[claims.hash]
            kind, why = ("deleted", "removed") if moved < claims.seq else ("inserted", "put")
            findings.append(
                Finding(
                    kind,
                    claims.seq,
                    f"event {claims.seq} of {where} is now event {moved}: one was {why} before it",
                )
            )
        elif actual != claims.hash:
            findings.append(
                Finding(
                    "edited",
                    claims.seq,
                    f"the trail is not what {where} signed: "
                    f"changed between events {agreeing + 1} and {claims.seq}",
                )
            )
        else:
            agreeing = max(agreeing, claims.seq)
            vouched.append((claims, under_published))
    latest_published = max((c.seq for c, published_key in vouched if published_key), default=0)
    signed_through = 0
    for claims, under_published in vouched:
        recorded_at = read.recorded_keys.get(claims.kid, (0, None))[0]
        if under_published or recorded_at <= latest_published:
            signed_through = max(signed_through, claims.seq)
        else:
            findings.append(
                Finding(
                    "checkpoint",
                    claims.seq,
                    f"checkpoint {claims.number} is signed by key {claims.kid!r}, which the gateway no "
                    "longer publishes, and no checkpoint under a published key vouches for its record",
                )
            )
    return findings, signed_through
