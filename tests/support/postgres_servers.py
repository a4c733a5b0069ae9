"""Private PostgreSQL servers for tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

A server listens on a free port of 127.0.0.1 only (its unix socket stays in its own folder), with
trust authentication for one local user, and skips the fsyncs (``fsync=off``: it is thrown away at
the end; a benchmark may ask for them). Commits still reach the log before they are acknowledged,
so stopping it at once (as a crash would) loses nothing committed. It can be stopped and started
again on the same port, or paused (SIGSTOP), which is how the fail-closed tests take the database
away and bring it back.

The binaries are looked for on ``PATH`` and then under Debian's ``/usr/lib/postgresql/<version>/bin``
(``make postgres`` installs Debian's ``postgresql`` package). ``initdb`` refuses to run as root, so
under root the server runs as the ``postgres`` system user, which the package creates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gateway.store.factory import migrate_schema
from tests.support.ports import free_port

USER = "gateway"
STARTUP_TIMEOUT = 20.0
_DEBIAN_ROOT = Path("/usr/lib/postgresql")


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(
        (p for p in _DEBIAN_ROOT.glob("*/bin") if (p / "initdb").exists() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    return versions[-1] if versions else None


def require_postgres() -> Path:
    """The binaries' folder; skips the calling test or fixture when there is none."""
    found = binaries()
    if found is None:
        pytest.skip("PostgreSQL's initdb is not installed (run 'make postgres' to install Debian's package)")
    return found


def _server_account() -> pwd.struct_passwd | None:
    """Whom the server runs as: ourselves, or ``postgres`` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user for initdb (Debian's package makes it)")


class PostgresServer:
    """One PostgreSQL cluster in ``folder``; after the first start, always on the same port."""

    def __init__(self, folder: Path, bin_dir: Path, *, fsync: bool = False) -> None:
        """``fsync``: commits wait for the disk, as in production (benchmarks); tests skip it."""
        self.folder = folder
        self.fsync = fsync
        self.data = folder / "data"
        self.bin_dir = bin_dir
        self.port = 0
        self.running = False
        self.paused = False
        self._account = _server_account()
        if self._account is not None:
            os.chown(folder, self._account.pw_uid, self._account.pw_gid)
        self._run(
            "initdb", "--pgdata", str(self.data), "--username", USER, "--auth", "trust",
            "--encoding", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        account: dict[str, Any] = {}
        if self._account is not None:
            account = {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}
        subprocess.run(
            [str(self.bin_dir / program), *args],
            check=True,
            capture_output=True,
            cwd=self.folder,
            timeout=60,
            **account,
        )

    def start(self) -> None:
        assert not self.running, "already running"
        if self.port:
            return self._start()  # a restart: same port, or fail
        for _ in range(5):
            self.port = free_port()
            try:
                return self._start()
            except subprocess.CalledProcessError:
                if "already in use" not in self._log_tail():
                    raise
        raise RuntimeError("could not find a free port for PostgreSQL")

    def _start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=300"
        if not self.fsync:
            options += " -c fsync=off -c full_page_writes=off"
        try:
            self._run("pg_ctl", "start", "--pgdata", str(self.data), "--wait",
                      "--timeout", str(int(STARTUP_TIMEOUT)), "--log", str(self.folder / "server.log"),
                      "-o", options)  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start:\n{self._log_tail()}") from exc
        self.running = True

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def _pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop at once (``immediate``: no checkpoint, connections cut)."""
        if not self.running:
            return
        self.resume()
        self._run("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "immediate", "--wait")
        self.running = False

    def pause(self) -> None:
        """Freeze every server process: the port still accepts connections, nothing answers."""
        self._signal_all(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self._signal_all(signal.SIGCONT)
            self.paused = False

    def _signal_all(self, sig: signal.Signals) -> None:
        """The postmaster and its children (backends answer queries, so they must freeze too)."""
        postmaster = self._pid()
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in (postmaster, *map(int, children)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql as the server's user; its output, unaligned."""
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "--no-psqlrc", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database, "-c", statement],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql: {result.stderr.strip()}")
        return result.stdout.strip()

    def new_database(self, prefix: str = "test", template: str = "template1") -> str:
        """A fresh database, a copy of ``template`` (by default an empty one); its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    def drop_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(name)
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def migrate(url: str) -> None:
    """``mcp-gateway migrate`` on ``url``, in a thread of its own: a caller may be a fixture set up
    from inside a test's running event loop."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, migrate_schema(url)).result()


@contextlib.contextmanager
def postgres_server(*, fsync: bool = False, folder: str | None = None) -> Iterator[PostgresServer]:
    """A running server of the block's own (skips the test when PostgreSQL is not installed);
    ``fsync`` and ``folder`` (where its temporary folder goes) are the benchmarks'."""
    bin_dir = require_postgres()
    with (
        tempfile.TemporaryDirectory(prefix="postgres-", dir=folder) as tmp,
        PostgresServer(Path(tmp), bin_dir, fsync=fsync) as server,
    ):
        yield server


@contextlib.contextmanager
def postgres_database() -> Iterator[tuple[PostgresServer, str]]:
    """A server of the block's own with one database, ``gateway``, migrated; and its URL."""
    with postgres_server() as server:
        server.sql("CREATE DATABASE gateway")
        migrate(server.url("gateway"))
        yield server, server.url("gateway")
