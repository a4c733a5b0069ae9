"""``mcp-gateway migrate``: create or upgrade the store's schema.

Only a PostgreSQL store has a versioned schema (see :mod:`gateway.store.postgres_migrations`): this
applies the migrations it lacks, in one transaction, and running it again does nothing. The gateway
never migrates by itself: ``serve`` refuses a schema that is not current and says to run this.
SQLite creates its tables itself, and Redis and memory stores have none: for them there is nothing
to do. An ``audit_store`` naming another PostgreSQL database is migrated too, after the store's.
Exit codes: 0 done (or nothing to do), 1 the database did not answer or the migration failed,
2 a schema newer than this gateway.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from gateway.cli.output import add_json_flag, emit
from gateway.store.factory import migrate_schema, store_kind


def add_parser(commands: Any) -> None:
    migrate = commands.add_parser("migrate", help="create or upgrade the store's schema (PostgreSQL)")
    add_json_flag([migrate])


async def run(urls: Sequence[str], args: argparse.Namespace) -> int:
    """Migrate the store's database, then the audit trail's when ``audit_store`` names another
    (``urls``, the store's first). ``--json`` tells the store's, and the trail's under ``audit_store``."""
    store, *others = urls
    answer, text = await _migrated(store)
    for url in others:
        trail, trail_text = await _migrated(url)
        if trail["version"] is not None:
            answer["audit_store"] = trail
            text += "\nthe audit trail's database:\n" + trail_text
    emit(args, answer, text)
    return 0


async def _migrated(url: str) -> tuple[dict[str, Any], str]:
    applied = await migrate_schema(url)
    if applied is None:
        return {
            "applied": [],
            "version": None,
        }, f"nothing to migrate: a {store_kind(url)} store has no versioned schema"
    version, migrations = applied
    lines = [f"applied migration {m.version}: {m.description}" for m in migrations]
    lines.append(f"the schema is at version {version}" + ("" if migrations else ", nothing to do"))
    return {"applied": [m.version for m in migrations], "version": version}, "\n".join(lines)
