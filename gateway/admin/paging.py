"""Lists of the admin API, a page at a time (AD-4).

Every list is ordered by a key that never changes for a record (when it was made, then its id), so
a page is "the next ``limit`` records after the last one you saw", not "records 50 to 99": records
added while someone pages appear at the end, and none is shown twice or skipped. The cursor is
that key of the last record shown, as base64url JSON. It is opaque to callers but not secret: a
forged cursor only starts the list elsewhere, among records the caller may read anyway.

    >>> cursor = encode_cursor((1_700_000_000.5, "req_a"))
    >>> decode_cursor(cursor)
    (1700000000.5, 'req_a')
    >>> page([(1.0, "a"), (2.0, "b"), (3.0, "c")], lambda k: k, Page(after=(1.0, "a"), limit=1))
    ([(2.0, 'b')], 'WzIuMCwiYiJd')
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from gateway.errors import NO_STORE, InvalidRequest

T = TypeVar("T")
SortKey = tuple[float, str]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR = 512
"""Characters: a cursor this API gives is far shorter."""


@dataclass(frozen=True)
class Page:
    """Which page a caller asked for: the records after ``after`` (from the start when None)."""

    after: SortKey | None = None
    limit: int = DEFAULT_LIMIT


def page_asked(cursor: str | None, limit: str | None) -> Page:
    """The ``cursor`` and ``limit`` query parameters, checked: ``limit`` is 1 to :data:`MAX_LIMIT`."""
    count = DEFAULT_LIMIT
    if limit is not None:
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        count = int(limit)
    return Page(decode_cursor(cursor) if cursor is not None else None, count)


def page(items: Iterable[T], key: Callable[[T], SortKey], asked: Page) -> tuple[list[T], str | None]:
    """The records of the page asked for, in key order, and the cursor of the next page (None when
    this page is the last)."""
    ordered = sorted(items, key=key)
    if asked.after is not None:
        after = asked.after
        ordered = [item for item in ordered if key(item) > after]
    shown = ordered[: asked.limit]
    more = len(ordered) > asked.limit
    return shown, encode_cursor(key(shown[-1])) if more else None


def paged_headers(request: Request, query: Mapping[str, str], next_cursor: str | None) -> dict[str, str]:
    """An answer's headers: ``no-store``, and ``Link: <…>; rel="next"`` (RFC 8288) naming the next
    page (the same query, the next cursor) when there is one."""
    headers = dict(NO_STORE)
    if next_cursor is not None:
        following = urlencode({**query, "cursor": next_cursor})
        headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'
    return headers


SEQUENCE = "seq"
"""What a cursor over the audit trail holds beside the sequence number of the last event shown."""


def sequence_cursor(seq: int) -> str:
    """The cursor of a page of the audit trail that ended on event ``seq``.

    >>> sequence_after(sequence_cursor(42))
    42
    """
    return encode_cursor((float(seq), SEQUENCE))


def sequence_after(cursor: str) -> int:
    """The sequence number a cursor of :func:`sequence_cursor` holds; anything else is ``invalid_request``."""
    seq, kind = decode_cursor(cursor)
    if kind != SEQUENCE or not seq.is_integer() or not 0 <= seq < 2**53:
        raise InvalidRequest("cursor is not one this API gave; start again without it")
    return int(seq)


def encode_cursor(key: SortKey) -> str:
    text = json.dumps([key[0], key[1]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The key a cursor of :func:`encode_cursor` holds; anything else is ``invalid_request``."""
    refused = InvalidRequest("cursor is not one this API gave; start again without it")
    if not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise refused
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        raise refused from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int | float)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
        or value[0] != value[0]  # NaN orders nothing
    ):
        raise refused
    return float(value[0]), value[1]
