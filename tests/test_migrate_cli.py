"""``mcp-gateway migrate`` and the schema check at start, as an operator meets them on PostgreSQL.

A fresh database: ``migrate`` creates the schema, then ``serve`` serves on it. A schema older than
the gateway's (made with every migration but the newest; with a single migration so far, none):
``serve`` and the management commands refuse to start, in one line naming ``mcp-gateway migrate``.
Migrating twice changes nothing the second time. A schema newer than the gateway is refused by
``serve`` and by ``migrate``. On stores without a versioned schema there is nothing to migrate.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from gateway.key_encryption import new_kek_text
from gateway.store.postgres_schema import CURRENT_VERSION, MIGRATIONS, VERSIONS_TABLE
from tests.support.cli import Cli, assert_refused
from tests.support.ports import free_port
from tests.support.postgres_servers import PostgresServer

STARTUP_LIMIT = 30.0


@pytest.fixture
def cli(unmigrated_postgres_url: str, tmp_path: Path) -> Cli:
    return Cli(store=unmigrated_postgres_url, cwd=tmp_path)


@pytest.fixture
def kek_env() -> dict[str, str]:
    """The key-encryption key a gateway on a shared store must be given, here through a variable."""
    return {"MCP_GATEWAY_KEY_ENCRYPTION_KEY": "env:MIGRATE_TEST_KEK", "MIGRATE_TEST_KEK": new_kek_text()}


def _database(cli: Cli) -> str:
    return cli.store.rsplit("/", 1)[1]


@contextlib.contextmanager
def serving(cli: Cli, env: dict[str, str]) -> Iterator[str]:
    """``mcp-gateway serve`` on a free port until the block ends; its URL once /healthz answers."""
    port = free_port()
    process = cli.start("serve", "--port", str(port), extra_env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while True:
            assert process.poll() is None, process.communicate()
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the gateway did not answer /healthz"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.mark.postgres
def test_on_a_fresh_database_migrate_creates_the_schema_and_the_gateway_serves_on_it(
    cli: Cli, kek_env: dict[str, str]
) -> None:
    migrated = cli.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    for migration in MIGRATIONS:
        assert f"applied migration {migration.version}: {migration.description}" in migrated.stdout
    assert f"the schema is at version {CURRENT_VERSION}" in migrated.stdout
    with serving(cli, kek_env) as url:
        health = httpx2.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200, health.text
        listed = cli.run("clients", "list", extra_env=kek_env)  # beside the server, on the same store
        assert listed.returncode == 0, listed.stderr


@pytest.mark.postgres
def test_migrating_twice_changes_nothing_the_second_time(cli: Cli, postgres_server: PostgresServer) -> None:
    assert cli.json("migrate") == {"applied": [m.version for m in MIGRATIONS], "version": CURRENT_VERSION}
    again = cli.run("migrate")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"the schema is at version {CURRENT_VERSION}, nothing to do"
    assert cli.json("migrate") == {"applied": [], "version": CURRENT_VERSION}
    versions = postgres_server.sql("SELECT version FROM schema_migrations ORDER BY version", _database(cli))
    assert versions.split() == [str(m.version) for m in MIGRATIONS]


@pytest.mark.postgres
def test_a_gateway_refuses_to_start_on_an_older_schema_until_it_is_migrated(
    cli: Cli, kek_env: dict[str, str], postgres_server: PostgresServer
) -> None:
    postgres_server.sql(VERSIONS_TABLE, _database(cli))
    for migration in MIGRATIONS[:-1]:  # the schema of the release before this one
        postgres_server.sql(migration.sql, _database(cli))
        postgres_server.sql(
            f"INSERT INTO schema_migrations (version, description) VALUES ({migration.version}, 'older')",
            _database(cli),
        )
    port = str(free_port())
    assert_refused(cli.run("serve", "--port", port, extra_env=kek_env), 2, "run 'mcp-gateway migrate'")
    assert_refused(cli.run("clients", "list", extra_env=kek_env), 2, "run 'mcp-gateway migrate'")

    assert cli.run("migrate").returncode == 0
    with serving(cli, kek_env) as url:
        assert httpx2.get(f"{url}/healthz", timeout=5).status_code == 200


@pytest.mark.postgres
def test_a_schema_newer_than_the_gateway_is_refused_by_serve_and_by_migrate(
    cli: Cli, kek_env: dict[str, str], postgres_server: PostgresServer
) -> None:
    assert cli.run("migrate").returncode == 0
    later = CURRENT_VERSION + 1
    postgres_server.sql(
        f"INSERT INTO schema_migrations (version, description) VALUES ({later}, 'a later release')",
        _database(cli),
    )
    port = str(free_port())
    assert_refused(cli.run("serve", "--port", port, extra_env=kek_env), 2, "newer than this gateway")
    assert_refused(cli.run("migrate"), 2, f"schema is at version {later}")


def test_a_store_without_a_versioned_schema_has_nothing_to_migrate(tmp_path: Path) -> None:
    result = Cli.on_sqlite(tmp_path).run("migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing to migrate: a sqlite store has no versioned schema"


@pytest.mark.postgres
def test_an_audit_trail_in_a_database_of_its_own_is_migrated_and_checked_with_the_store(
    unmigrated_postgres_url: str, tmp_path: Path
) -> None:
    cli = Cli(store=f"sqlite:///{tmp_path / 'gw.sqlite3'}", cwd=tmp_path)
    trail = {"MCP_GATEWAY_AUDIT_STORE": unmigrated_postgres_url}
    assert_refused(cli.run("clients", "list", extra_env=trail), 2, "run 'mcp-gateway migrate'")

    migrated = cli.run("migrate", "--json", extra_env=trail)
    assert migrated.returncode == 0, migrated.stderr
    answer = json.loads(migrated.stdout)
    assert answer["version"] is None  # SQLite: nothing to migrate
    assert answer["audit_store"] == {"applied": [m.version for m in MIGRATIONS], "version": CURRENT_VERSION}
    assert cli.run("clients", "list", extra_env=trail).returncode == 0
