"""How the store and the audit trail open their SQLite files (:mod:`gateway.store.sqlite_file`)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from gateway.store.sqlite_file import open_database


def test_connections_opening_one_new_file_at_once_all_get_it_in_wal_mode(tmp_path: Path) -> None:
    """Switching a new file to WAL fails at once, without the busy handler, while another
    connection switches it: the server, the CLI and a second replica starting together."""
    failures: list[str] = []
    for attempt in range(60):
        path = str(tmp_path / f"attempt-{attempt}" / "trail.sqlite3")
        start = threading.Barrier(4)

        def open_it(path: str = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                db = open_database(path, busy_timeout_ms=2000, synchronous="FULL")
            except Exception as exc:
                failures.append(repr(exc))
                return
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                failures.append("not in WAL mode")
            db.close()

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert failures == []


def test_a_new_file_and_its_new_directories_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "made" / "here" / "store.sqlite3"
    open_database(str(path), busy_timeout_ms=250, synchronous="NORMAL").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
