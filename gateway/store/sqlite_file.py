"""Opening a SQLite file the gateway keeps secrets in: owner-only, in WAL mode, with a busy timeout.

The store (:mod:`gateway.store.sqlite`) and the audit trail (:mod:`gateway.audit.sqlite_store`)
open their files the same way; only the timeout and the durability of a commit differ.

Several processes (the server, the CLI, replicas on one host) may open a new file at the same
moment. Switching a file to WAL fails at once with "database is locked" while another connection
switches it, without calling the busy handler, so that one statement is retried until the busy
timeout has passed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Literal

_WAL_RETRY_PAUSE = 0.005


def open_database(
    path: str, *, busy_timeout_ms: int, synchronous: Literal["NORMAL", "FULL"]
) -> sqlite3.Connection:
    """A connection in autocommit mode (each statement its own transaction unless one is begun),
    usable from any thread (the caller serialises its use). Raises ``OSError`` or ``sqlite3.Error``."""
    if path != ":memory:":
        create_owner_only(Path(path))
    db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        _write_ahead_log(db, busy_timeout_ms / 1000)
        db.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error:
        db.close()
        raise
    return db


def _write_ahead_log(db: sqlite3.Connection, patience: float) -> None:
    give_up = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= give_up:
                raise
            time.sleep(_WAL_RETRY_PAUSE)


def create_owner_only(path: Path) -> None:
    """Create the parent directories (0700) and the empty file (0600) unless they exist.

    Creating the file before SQLite does is what fixes its mode: SQLite would use 0644 minus the
    umask (and gives the ``-wal`` and ``-shm`` files the main file's mode). Existing files and
    directories are left as their owner set them.
    """
    missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # as mkdir's, open's mode is filtered by the umask
    finally:
        os.close(fd)
