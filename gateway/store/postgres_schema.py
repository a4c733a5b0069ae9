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
    Migration(
        2,
        "the audit trail: events, head, checkpoints, export positions, pruned anchor",
        # The head starts at sequence number 0 and the genesis hash (64 zeros, gateway.audit.chain).
        # The event columns besides the chain are what ``audit search`` filters on: one index per
        # criterion, each ending with ``seq`` so a filtered page is read in order from the index.
        """
        CREATE TABLE audit_events (
            seq       bigint PRIMARY KEY,
            event_id  text NOT NULL,
            at        double precision NOT NULL,
            type      text COLLATE "C" NOT NULL,
            outcome   text COLLATE "C" NOT NULL,
            client_id text COLLATE "C",
            subject   text COLLATE "C",
            tool      text COLLATE "C",
            prev_hash text NOT NULL,
            hash      text NOT NULL,
            body      text NOT NULL
        );
        CREATE INDEX audit_events_at ON audit_events (at);
        CREATE INDEX audit_events_type ON audit_events (type, seq);
        CREATE INDEX audit_events_outcome ON audit_events (outcome, seq);
        CREATE INDEX audit_events_client ON audit_events (client_id, at);
        CREATE INDEX audit_events_client_seq ON audit_events (client_id, seq);
        CREATE INDEX audit_events_subject ON audit_events (subject, seq);
        CREATE INDEX audit_events_tool ON audit_events (tool, seq);
        CREATE TABLE audit_head (
            id   smallint PRIMARY KEY CHECK (id = 1),
            seq  bigint NOT NULL,
            hash text NOT NULL
        );
        INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));
        CREATE TABLE audit_checkpoints (
            number bigint PRIMARY KEY,
            seq    bigint NOT NULL,
            hash   text NOT NULL,
            at     double precision NOT NULL,
            jws    text NOT NULL
        );
        CREATE TABLE audit_exports (
            exporter text COLLATE "C" PRIMARY KEY,
            seq      bigint NOT NULL
        );
        CREATE TABLE audit_pruned (
            id   smallint PRIMARY KEY CHECK (id = 1),
            seq  bigint NOT NULL,
            hash text NOT NULL
        );
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
