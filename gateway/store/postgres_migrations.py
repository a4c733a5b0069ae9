"""Applying the PostgreSQL store's migrations, and checking that a database's schema is current.

``schema_migrations`` lists the versions applied (with a description and when). ``mcp-gateway
migrate`` applies what is missing, in order, in one transaction under an advisory lock: two runs at
once apply each migration once, and a failure leaves the schema as it was. A second run finds
nothing to do.

The gateway never changes the schema by itself: at start it only checks, and refuses to serve a
database whose schema is older or newer than the one it was written for, with one line telling the
operator what to run. (Several replicas starting together must not race to alter tables, and the
gateway's database user needs no right to.)
"""

from __future__ import annotations

import asyncpg

from gateway.store import SchemaNotCurrent, StoreUnavailable
from gateway.store.postgres_connection import Connection, connect
from gateway.store.postgres_schema import CURRENT_VERSION, MIGRATIONS, VERSIONS_TABLE, Migration

_MIGRATION_LOCK = 0x6D63_7067_7720_6D67
"""The advisory lock that serialises ``migrate`` runs on one database (any fixed number would do)."""
_OPERATOR_TIMEOUT = 10.0
_CHECK_TIMEOUT = 2.0


async def schema_version(connection: Connection) -> int:
    """The newest version applied; 0 when no migration ever ran on this database."""
    if await connection.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    version: int = await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return version


def require_current(version: int) -> None:
    """Raise :class:`SchemaNotCurrent`, worded for the operator, unless ``version`` is current."""
    if version == CURRENT_VERSION:
        return
    if version > CURRENT_VERSION:
        raise SchemaNotCurrent(
            f"the PostgreSQL store's schema is at version {version}, newer than this gateway knows "
            f"({CURRENT_VERSION}): run the gateway release that migrated it, or a newer one"
        )
    found = "has no schema yet" if version == 0 else f"has schema version {version}"
    raise SchemaNotCurrent(
        f"the PostgreSQL store {found}; this gateway needs version {CURRENT_VERSION}: "
        "run 'mcp-gateway migrate'"
    )


async def migrate(connection: asyncpg.Connection) -> tuple[Migration, ...]:
    """Apply the migrations this database lacks; the ones applied now (none when it was current)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(VERSIONS_TABLE)
        applied = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        if max(applied, default=0) > CURRENT_VERSION:
            require_current(max(applied))
        pending = tuple(migration for migration in MIGRATIONS if migration.version not in applied)
        for migration in pending:
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
                migration.version,
                migration.description,
            )
    return pending


async def migrate_database(url: str) -> tuple[Migration, ...]:
    """``mcp-gateway migrate`` on the database ``url`` names (no statement timeout: a migration of
    a large table may take its time; connecting still may not)."""
    try:
        connection = await connect(url, connect_timeout=_OPERATOR_TIMEOUT, statement_timeout=None)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"postgresql: {type(exc).__name__}: {exc}") from exc
    try:
        return await migrate(connection)
    except asyncpg.PostgresError as exc:
        raise StoreUnavailable(f"postgresql: the migration failed: {exc}") from exc
    finally:
        await connection.close(timeout=_OPERATOR_TIMEOUT)


async def check_database(url: str) -> None:
    """At start: :class:`SchemaNotCurrent` unless the schema is current; :class:`StoreUnavailable`
    when the database cannot tell (a gateway may start then, and answer 503 until it can)."""
    try:
        connection = await connect(url, connect_timeout=_CHECK_TIMEOUT, statement_timeout=_CHECK_TIMEOUT)
        try:
            version = await schema_version(connection)
        finally:
            connection.terminate()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"postgresql: {type(exc).__name__}: {exc}") from exc
    require_current(version)
