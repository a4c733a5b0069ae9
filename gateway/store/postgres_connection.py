"""Turning one ``postgresql://`` (or ``postgres://``) store URL into asyncpg connections.

The URL has libpq's form, ``postgresql://user[:password]@host[:port]/database[?sslmode=verify-full]``;
asyncpg reads it, TLS options included. Every connection gets the same fail-fast settings: a
short connect timeout, a client-side timeout per statement and the server's own
``statement_timeout``, so a statement waiting on a lock is ended by the server too instead of
piling up behind a caller that has given up. Error messages never repeat the URL: it may hold a
password.
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

SCHEMES = ("postgresql", "postgres")

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection of its own, or one lent by a pool: the statements here run on either."""


def check_url(url: str) -> None:
    """A one-line :class:`ValueError` (without the URL) unless ``url`` is a usable PostgreSQL URL."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError("PostgreSQL store URL: the port is not a number") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("PostgreSQL store URL: no host; e.g. postgresql://gateway@db.internal/gateway")


def connect_options(url: str, *, connect_timeout: float, statement_timeout: float | None) -> dict[str, Any]:
    """What asyncpg's ``connect`` and ``create_pool`` take for ``url``: ``connect_timeout`` bounds connecting;
    ``statement_timeout`` (None: no limit) bounds each statement, on the client and on the server."""
    settings = {"application_name": "mcp-gateway"}
    if statement_timeout is not None:
        settings["statement_timeout"] = f"{max(1, round(statement_timeout * 1000))}ms"
    return {
        "dsn": url,
        "timeout": connect_timeout,
        "command_timeout": statement_timeout,
        "server_settings": settings,
    }


async def connect(url: str, *, connect_timeout: float, statement_timeout: float | None) -> asyncpg.Connection:
    """One connection of its own (the migrations' and the start-up check's, not the pool's)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        **connect_options(url, connect_timeout=connect_timeout, statement_timeout=statement_timeout)
    )
    return connection
