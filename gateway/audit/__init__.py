"""The audit trail: one event per security decision, in the log and in a durable, hash-chained,
signed trail a security team can verify (docs/audit.md).

    events.py        AuditEvent (id, time, type, outcome, actor, fields); secrets withheld
    catalogue.py     every event type, its meaning and its OCSF class (rendered in docs/audit.md)
    log.py           AuditLog: record (buffered) and durable (committed before it returns)
    channels.py      the ASGI middleware telling the log how a request came in
    trail.py         the bounded buffer, the flusher, commits on demand, the outage policy
    chain.py         canonical JSON and the SHA-256 links
    store.py         the AuditStore seam and what it stores (head, checkpoints)
    sqlite_store.py  the first AuditStore, on SQLite
    postgres_store.py  the AuditStore every replica shares, on PostgreSQL (the store's database)
    factory.py       where the trail lives (audit_store, or beside the store)
    checkpoints.py   checkpoints signed with the gateway's own key, and the checkpointer
    links.py         reading the links back: edited, deleted, inserted, reordered
    verify.py        audit verify: the chain, the head and every checkpoint

Every part that decides holds an :class:`AuditLog` handed to it by the composition root.
"""

from __future__ import annotations

from gateway.audit.log import AuditLog

__all__ = ["AuditLog"]
