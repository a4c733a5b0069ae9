"""Where the durable trail lives: the ``audit_store`` URL, or a place chosen from the store's.

* ``sqlite:///relative/path`` or ``sqlite:////absolute/path``: a SQLite file of its own;
* ``memory://``: an in-memory SQLite database (tests; nothing survives the process);
* unset: beside a SQLite store, in a file of its own (``gw.sqlite3`` -> ``gw.audit.sqlite3``); in
  memory for the memory store; in memory for a Redis store too, with a warning at start: replicas
  sharing Redis should name a trail they share (a SQLite file on one host; PostgreSQL to come).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from gateway.audit.sqlite_store import SQLiteAuditStore
from gateway.audit.store import AuditStore
from gateway.store.factory import sqlite_path, store_kind

logger = logging.getLogger("mcp_gateway")


def audit_store_url(audit_store: str, store_url: str) -> str:
    """The trail's URL: ``audit_store`` when set, else the default that goes with ``store_url``."""
    if audit_store:
        return audit_store
    kind = store_kind(store_url)
    if kind == "sqlite":
        return "sqlite:///" + str(Path(sqlite_path(store_url)).with_suffix(".audit.sqlite3"))
    if kind != "memory":
        logger.warning(
            "the audit trail is kept in this process's memory only: set audit_store to a trail "
            "every replica shares (MCP_GATEWAY_AUDIT_STORE)"
        )
    return "memory://"


def open_audit_store(url: str) -> AuditStore:
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SQLiteAuditStore(sqlite_path(url))
    if scheme == "memory":
        return SQLiteAuditStore(":memory:")
    what = f"scheme {scheme}://" if scheme else "a URL without a scheme"
    raise ValueError(f"audit_store: {what} is not supported; use sqlite:///path or memory://")
