"""Where the durable trail lives: the ``audit_store`` URL, or a place chosen from the store's.

* ``sqlite:///relative/path`` or ``sqlite:////absolute/path``: a SQLite file of its own;
* ``postgresql://`` or ``postgres://``: tables in a PostgreSQL database, made by
  ``mcp-gateway migrate`` (:mod:`gateway.audit.postgres_store`); every replica appends to one chain;
* ``memory://``: an in-memory SQLite database (tests; nothing survives the process);
* unset: beside a SQLite store, in a file of its own (``gw.sqlite3`` -> ``gw.audit.sqlite3``); in
  the store's own database for a PostgreSQL store; in memory for the memory store; in memory for a
  Redis store too, with a warning at start: replicas sharing Redis should name a trail they share
  (PostgreSQL; or a SQLite file, when they all run on one host).

The PostgreSQL trail is imported on demand, so a SQLite deployment never imports asyncpg.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.store import AuditStore
from gateway.store.factory import sqlite_path, store_kind

logger = logging.getLogger("mcp_gateway")

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def audit_store_url(audit_store: str, store_url: str) -> str:
    """The trail's URL: ``audit_store`` when set, else the default that goes with ``store_url``."""
    if audit_store:
        return audit_store
    kind = store_kind(store_url)
    if kind == "sqlite":
        return "sqlite:///" + str(Path(sqlite_path(store_url)).with_suffix(".audit.sqlite3"))
    if kind == "postgresql":
        return store_url
    if kind != "memory":
        logger.warning(
            "the audit trail is kept in this process's memory only: set audit_store to a trail "
            "every replica shares, a PostgreSQL database (MCP_GATEWAY_AUDIT_STORE=postgresql://...)"
        )
    return "memory://"


def open_audit_store(url: str, *, store_deadline: float = 0.0) -> AuditStore:
    """The trail ``url`` names. Opening a PostgreSQL trail connects nothing yet: its first call does.
    Its calls wait its own deadline, or the store's (``store_deadline``) when that is longer."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SQLiteAuditStore(sqlite_path(url))
    if scheme in _POSTGRES_SCHEMES:
        from gateway.audit.postgres_store import DEADLINE, PostgresAuditStore

        return PostgresAuditStore(url, deadline=max(DEADLINE, store_deadline))
    if scheme == "memory":
        return SQLiteAuditStore(":memory:")
    what = f"scheme {scheme}://" if scheme else "a URL without a scheme"
    raise ValueError(
        f"audit_store: {what} is not supported; use sqlite:///path, postgresql://host/database or memory://"
    )
