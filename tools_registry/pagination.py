"""Pages of ``tools/list`` and their cursors.

Cursors are opaque to clients and name the last tool of the previous page, so paging stays
consistent when tools come or go between pages. A cursor this catalogue did not issue is a
:class:`CursorError` (JSON-RPC: invalid params).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Sequence

from tools_registry.servers import TOOL_NAME
from tools_registry.tool_entries import CatalogTool

DEFAULT_PAGE_SIZE = 100
_CURSOR_PREFIX = "after:"
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,200}")


class CursorError(ValueError):
    """A ``tools/list`` cursor this catalogue did not issue (JSON-RPC: invalid params)."""


def page(
    tools: Sequence[CatalogTool], cursor: str | None, page_size: int = DEFAULT_PAGE_SIZE
) -> tuple[list[CatalogTool], str | None]:
    """The tools after ``cursor`` (all of ``tools``, sorted by name, when None), at most
    ``page_size``, and the cursor of the next page (None on the last page)."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    start = 0
    if cursor is not None:
        start = bisect.bisect_right(tools, decode_cursor(cursor), key=lambda t: t.name)
    chunk = list(tools[start : start + page_size])
    more = start + page_size < len(tools)
    return chunk, encode_cursor(chunk[-1].name) if more else None


def encode_cursor(name: str) -> str:
    raw = (_CURSOR_PREFIX + name).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The exposed name a cursor points after; :class:`CursorError` for anything else."""
    if not isinstance(cursor, str) or not _CURSOR_CHARS.fullmatch(cursor):
        raise CursorError("the cursor is not one this server issued")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise CursorError("the cursor is not one this server issued") from None
    name = text.removeprefix(_CURSOR_PREFIX)
    if name == text or not TOOL_NAME.fullmatch(name):
        raise CursorError("the cursor is not one this server issued")
    return name


__all__ = ["DEFAULT_PAGE_SIZE", "CursorError", "decode_cursor", "encode_cursor", "page"]
