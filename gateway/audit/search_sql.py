"""One page of a trail search as SQL, for every backend: only the criteria given become conditions.

A condition written ``(? IS NULL OR client_id = ?)`` reads well but hides the column from the
planner, which then walks the whole trail in sequence order (170 ms for one client's day over a
million events on SQLite); a plain ``client_id = ?`` meets the index on ``(client_id, seq)``. The
statement uses ``?`` placeholders, which SQLite takes as they are and :func:`numbered` turns into
PostgreSQL's ``$1, $2, …``.

    >>> sql, params = page_query(3, 10, AuditFilter(client_id="bot", types=("a", "b")))
    >>> sql.split("WHERE ")[1]
    'seq > ? AND client_id = ? AND type IN (?, ?) ORDER BY seq LIMIT ?'
    >>> params, numbered("seq > ? AND tool = ?")
    ([3, 'bot', 'a', 'b', 10], 'seq > $1 AND tool = $2')
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from gateway.audit.store import AuditFilter

COLUMNS = "seq, prev_hash, hash, body, event_id, at, type, outcome, client_id, subject, tool"
"""What a page reads of each event, in the order :class:`~gateway.audit.chain.StoredEvent` takes."""


def page_query(after: int, limit: int, filters: AuditFilter) -> tuple[str, list[Any]]:
    """The statement and its parameters: at most ``limit`` events after ``after`` that meet
    every criterion of ``filters``, in sequence order."""
    conditions: list[str] = ["seq > ?"]
    params: list[Any] = [after]
    for condition, value in (("at >= ?", filters.since), ("at < ?", filters.until)):
        if value is not None:
            conditions.append(condition)
            params.append(float(value))
    for column in ("client_id", "subject", "outcome", "tool"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if filters.types:
        conditions.append(f"type IN ({', '.join('?' for _ in filters.types)})")
        params.extend(filters.types)
    params.append(limit)
    where = " AND ".join(conditions)  # fixed column names and placeholders: every value is a parameter
    sql = f"SELECT {COLUMNS} FROM audit_events WHERE {where} ORDER BY seq LIMIT ?"  # noqa: S608
    return sql, params


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …`` (the statements hold no other ``?``)."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
