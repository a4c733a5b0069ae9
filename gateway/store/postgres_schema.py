"""The PostgreSQL store's schema, as numbered migrations: data only, applied by
:mod:`gateway.store.postgres_migrations`.

A migration is never edited once released: a change to the schema is a new one with the next
number. ``mcp-gateway migrate`` applies the missing ones in one transaction, so a failure leaves
the schema as it was.
Keys and identifiers use the ``"C"`` collation: they are compared byte by byte (faster, and the
same answer whatever the server's locale).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "records, ephemeral keys and lists",
        """
        CREATE TABLE records (
            collection text COLLATE "C" NOT NULL,
            record_id  text COLLATE "C" NOT NULL,
            value      text NOT NULL,
            PRIMARY KEY (collection, record_id)
        );
        CREATE TABLE ephemeral (
            key        text COLLATE "C" PRIMARY KEY,
            value      text NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE INDEX ephemeral_expires_at ON ephemeral (expires_at);
        CREATE TABLE list_items (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key        text COLLATE "C" NOT NULL,
            item       text NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE INDEX list_items_key ON list_items (key, id);
        CREATE INDEX list_items_expires_at ON list_items (expires_at);
        """,
    ),
)

CURRENT_VERSION = MIGRATIONS[-1].version

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
