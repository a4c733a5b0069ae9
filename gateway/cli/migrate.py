"""``mcp-gateway migrate``: create or upgrade the store's schema.

Only a PostgreSQL store has a versioned schema (see :mod:`gateway.store.postgres_migrations`): this
applies the migrations it lacks, in one transaction, and running it again does nothing. The gateway
never migrates by itself: ``serve`` refuses a schema that is not current and says to run this.
SQLite creates its tables itself, and Redis and memory stores have none: for them there is nothing
to do. Exit codes: 0 done (or nothing to do), 1 the database did not answer or the migration failed,
2 a schema newer than this gateway.
"""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.output import add_json_flag, emit
from gateway.store.factory import migrate_schema, store_kind


def add_parser(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="create or upgrade the store's schema (PostgreSQL)")
    add_json_flag([migrate])


async def run(store_url: str, args: argparse.Namespace) -> int:
    applied = await migrate_schema(store_url)
    if applied is None:
        text = f"nothing to migrate: a {store_kind(store_url)} store has no versioned schema"
        emit(args, {"applied": [], "version": None}, text)
        return 0
    version, migrations = applied
    lines = [f"applied migration {m.version}: {m.description}" for m in migrations]
    lines.append(f"the schema is at version {version}" + ("" if migrations else ", nothing to do"))
    emit(args, {"applied": [m.version for m in migrations], "version": version}, "\n".join(lines))
    return 0
