"""Asking every replica to discover its upstreams again: a new value under one store key, which
each replica's refresher reads on every pass (about once a second)."""

from __future__ import annotations

import secrets

from gateway.store import Store

REFRESH_REQUESTED = "tools-refresh-requested"
"""Store key whose value changes each time a replica asks every replica to discover again."""


async def ask_every_replica(store: Store, server_id: str | None = None) -> None:
    """Make every server due at every replica's next pass (``tools refresh``, a pin decided)."""
    await store.put(REFRESH_REQUESTED, secrets.token_urlsafe(12) + ":" + (server_id or "*"), 3600)
