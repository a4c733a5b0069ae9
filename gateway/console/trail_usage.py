"""What the audit trail says about use: tool calls per tool, and each client's last use and live tokens.

Both read a recent window of the trail (:data:`WINDOW`, the last 24 hours) through the store's
filters, among the last :data:`SCAN_BOUND` events of the trail (the newest always): a page says when
the bound left older events of the window unread (``complete`` is False), rather than stalling on a
trail of millions.

* **Tool calls** are the ``tool_call`` events: ``forwarded`` (the upstream answered),
  ``upstream_error`` (it failed or answered an error) and ``refused`` (the gateway refused the
  call). The error rate is upstream errors over calls that reached the upstream (forwarded and
  upstream errors); refusals are counted apart.
* **Last use** of a client is its latest ``token_issued`` or ``tool_call`` event in the window.
* **Live tokens** of a client are the access tokens issued to it at ``/token`` (``token_issued``,
  granted) that may still be honoured: issued less than the access-token lifetime ago (no token
  lives longer; one cut short by its grant's end is still counted until then), strictly after the
  not-before marks of the client and of its subject (nothing issued before is honoured, RV-2), and
  not revoked by the client at ``/revoke`` (``token_revoked`` naming its ``jti``). A token carrying
  a grant revoked since is counted too: the grant's mark ends it at the resource, which the trail
  cannot see.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.audit.chain import StoredEvent
from gateway.audit.search import recent
from gateway.audit.store import AuditFilter, AuditStore
from gateway.oauth.tokens.not_before import NotBeforeMarks

WINDOW = 24 * 3600
SCAN_BOUND = 20_000
TOOL_CALL = "tool_call"
TOKEN_ISSUED = "token_issued"
TOKEN_REVOKED = "token_revoked"


@dataclass(frozen=True)
class ToolUse:
    forwarded: int = 0
    upstream_errors: int = 0
    refused: int = 0

    @property
    def calls(self) -> int:
        return self.forwarded + self.upstream_errors + self.refused

    @property
    def error_rate(self) -> float | None:
        """Upstream errors over the calls that reached the upstream; None when none did."""
        reached = self.forwarded + self.upstream_errors
        return self.upstream_errors / reached if reached else None


@dataclass(frozen=True)
class ToolUsage:
    since: float
    complete: bool
    tools: Mapping[str, ToolUse]


@dataclass(frozen=True)
class ClientActivity:
    last_use: float | None = None
    live_tokens: int = 0


@dataclass(frozen=True)
class ClientUsage:
    since: float
    complete: bool
    clients: Mapping[str, ClientActivity]


async def tool_usage(
    store: AuditStore, now: float, window: float = WINDOW, bound: int = SCAN_BOUND
) -> ToolUsage:
    since = now - window
    found = await recent(store, AuditFilter(since=since, types=(TOOL_CALL,)), bound)
    counts: Counter[tuple[str, str]] = Counter(
        (stored.index.tool, stored.index.outcome) for stored in found.events if stored.index.tool
    )
    tools = {
        tool: ToolUse(counts[tool, "forwarded"], counts[tool, "upstream_error"], counts[tool, "refused"])
        for tool in {tool for tool, _ in counts}
    }
    return ToolUsage(since, found.complete, tools)


async def client_usage(
    store: AuditStore,
    marks: NotBeforeMarks,
    now: float,
    token_lifetime: float,
    window: float = WINDOW,
    bound: int = SCAN_BOUND,
) -> ClientUsage:
    since = now - max(window, token_lifetime)
    kinds = (TOKEN_ISSUED, TOKEN_REVOKED, TOOL_CALL)
    found = await recent(store, AuditFilter(since=since, types=kinds), bound)
    revoked = {_jti(stored) for stored in found.events if stored.index.type == TOKEN_REVOKED}
    last: dict[str, float] = {}
    live: Counter[str] = Counter()
    for stored in found.events:
        index, client_id = stored.index, stored.index.client_id
        if client_id is None or index.type == TOKEN_REVOKED:
            continue
        if index.at >= now - window:
            last[client_id] = max(last.get(client_id, index.at), index.at)
        if (
            index.type == TOKEN_ISSUED
            and index.outcome == "granted"
            and index.at > now - token_lifetime
            and _jti(stored) not in revoked
            and await marks.allows(at=index.at, subject=index.subject, client_id=client_id)
        ):
            live[client_id] += 1
    clients = {client: ClientActivity(last.get(client), live[client]) for client in {*last, *live}}
    return ClientUsage(now - window, found.complete, clients)


def _jti(stored: StoredEvent) -> str | None:
    try:
        jti = stored.event().fields.get("jti")
    except (ValueError, KeyError, TypeError):
        return None
    return jti if isinstance(jti, str) else None
