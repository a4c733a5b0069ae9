"""What a search of the trail asks for, read the same way by the CLI, the admin API and the console.

A search names its criteria as text (command-line flags, query parameters, a console form); they
become one :class:`~gateway.audit.store.AuditFilter` here, so the three ways in accept the same
times and refuse the same mistakes. Times are seconds since the epoch, RFC 3339 / ISO 8601 (UTC
unless an offset is given; a date alone is its midnight), or a length of time before now (``90s``,
``15m``, ``2h``, ``7d``). Types are one or several names, comma-separated.

    >>> found = criteria(Criteria(since="2h", types="token_issued, tool_call", tool="a__b"), 7200.0)
    >>> found.since, found.types, found.tool
    (0.0, ('token_issued', 'tool_call'), 'a__b')

:func:`recent` reads the newest events of a window for a summary (a page's counts), within a bounded
number of the trail's last events, and says whether it saw the whole window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.audit.chain import StoredEvent
from gateway.audit.store import AuditFilter, AuditStore

_AGO = re.compile(r"(\d{1,9})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TYPE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
MAX_TYPES = 20
QUERY_NAMES = ("since", "until", "type", "client_id", "subject", "tool", "outcome")
"""The criteria as the admin API's query and the console's search form name them."""
SCAN_PAGE = 1000


class SearchError(ValueError):
    """A criterion that is not one: the message says which and why, for the person who wrote it."""


@dataclass(frozen=True)
class Criteria:
    """A search as written: every member is text, empty when not given."""

    since: str = ""
    until: str = ""
    types: str = ""
    client_id: str = ""
    subject: str = ""
    outcome: str = ""
    tool: str = ""

    @classmethod
    def of(cls, values: Mapping[str, str]) -> Criteria:
        """The criteria as query parameters name them (:data:`QUERY_NAMES`: ``type`` for the types)."""
        return cls(**{("types" if name == "type" else name): values.get(name, "") for name in QUERY_NAMES})


def parse_time(text: str, now: float) -> float:
    """A moment as a search accepts it (see the module's docstring)."""
    if re.fullmatch(r"\d+(\.\d+)?", text) and len(text.split(".")[0]) >= 9:
        return float(text)
    ago = _AGO.fullmatch(text)
    if ago:
        return now - int(ago[1]) * _UNITS[ago[2]]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SearchError(
            f"{text[:64]!r} is not a time: use epoch seconds, RFC 3339 (2026-05-01T08:00:00Z) or 15m/2h/7d"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def event_types(text: str) -> tuple[str, ...]:
    """``a,b`` as ``("a", "b")``; each a name as the catalogue writes them."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if len(names) > MAX_TYPES:
        raise SearchError(f"at most {MAX_TYPES} event types at once")
    for name in names:
        if not _TYPE.fullmatch(name):
            raise SearchError(f"{name[:64]!r} is not an event type")
    return names


def criteria(asked: Criteria, now: float) -> AuditFilter:
    """The filter a search asks for; :class:`SearchError` when a criterion is not one."""
    since = parse_time(asked.since.strip(), now) if asked.since.strip() else None
    until = parse_time(asked.until.strip(), now) if asked.until.strip() else None
    return AuditFilter(
        since=since,
        until=until,
        types=event_types(asked.types),
        client_id=asked.client_id.strip() or None,
        subject=asked.subject.strip() or None,
        outcome=asked.outcome.strip() or None,
        tool=asked.tool.strip() or None,
    )


@dataclass(frozen=True)
class Scanned:
    events: list[StoredEvent]
    complete: bool
    """False when older events of the window were left unread (the bound was reached first)."""


async def recent(store: AuditStore, filters: AuditFilter, bound: int) -> Scanned:
    """The events matching ``filters`` among the last ``bound`` events of the trail, oldest first:
    the newest are always read, and the work is bounded whatever the trail's length. Complete when
    those reach back past ``filters.since`` (or to the start of the trail)."""
    head = await store.head()
    start = max(0, head.seq - bound)
    found: list[StoredEvent] = []
    after = start
    while page := await store.read(after, SCAN_PAGE, filters):
        found.extend(page)
        after = page[-1].seq
    complete = start == 0
    if not complete and filters.since is not None:
        edge = await store.read(start - 1, 1)  # the event the scan began at
        complete = bool(edge) and edge[0].index.at < filters.since
    return Scanned(found, complete)
