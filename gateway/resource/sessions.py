"""MCP sessions of the 2025 protocol revisions (PR-7).

A session id is 256 random bits; the store keeps, under its SHA-256, the principal that created
it and the negotiated protocol version, so any replica can serve the next request. A session is
never authentication: every request is verified first, and a principal presenting another
principal's session is told the session does not exist (404).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from gateway.constant_time import same
from gateway.store import Store, digest

_SESSION = "mcp-session:"


@dataclass(frozen=True)
class McpSession:
    principal: str
    protocol_version: str


class SessionStore:
    def __init__(self, store: Store, lifetime: int) -> None:
        self._store = store
        self._lifetime = lifetime

    @staticmethod
    def _key(session_id: str) -> str:
        return _SESSION + digest(session_id)

    async def create(self, principal: str, protocol_version: str) -> str:
        session_id = secrets.token_urlsafe(32)
        value = json.dumps({"principal": principal, "protocol_version": protocol_version})
        await self._store.put(self._key(session_id), value, self._lifetime)
        return session_id

    async def find(self, session_id: str, principal: str) -> McpSession | None:
        """The session, only for the principal that created it."""
        if not session_id or len(session_id) > 128:
            return None
        value = await self._store.get(self._key(session_id))
        if value is None:
            return None
        session = McpSession(**json.loads(value))
        return session if same(session.principal, principal) else None

    async def end(self, session_id: str) -> None:
        await self._store.delete(self._key(session_id))
