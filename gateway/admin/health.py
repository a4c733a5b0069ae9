"""The health report: whether the store answers, and what this replica knows of its upstreams and
its background work (AD-3).

Everything but the store's answer is read from this replica's memory: the catalogue's health per
server (:mod:`tools_registry.catalog`), each server's discovery attempts
(:class:`~gateway.upstream.discovery.Attempts`), the refresher's passes
(:class:`~gateway.upstream.refresher.RefreshPasses`) and its supervisor's
:class:`~gateway.background.TaskState`. Another replica keeps its own and reports its own; the
report says which replica answered. :func:`health_report` only arranges what it is given, so it is
tested without a gateway.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.background import TaskState
from gateway.store import Store
from gateway.upstream.discovery import Attempts
from gateway.upstream.refresher import RefreshPasses
from tools_registry.catalog import ServerHealth

logger = logging.getLogger("mcp_gateway")

REPLICA_NOTE = "state kept in this replica's memory since it started; each replica reports its own"


@dataclass(frozen=True)
class Replica:
    """This process: a random id to tell replicas' reports apart, and when it started."""

    started_at: float
    id: str = field(default_factory=lambda: secrets.token_hex(6))


async def store_answers(store: Store) -> bool:
    """Whether the store answers now, within its own deadline; any failure counts as no."""
    try:
        await store.ping()
    except Exception as exc:  # fail closed: whatever went wrong, the store did not answer
        logger.warning("health: the store did not answer: %s", type(exc).__name__)
        return False
    return True


def timestamp(epoch_seconds: float | None) -> str | None:
    """RFC 3339, UTC, to the second.

    >>> timestamp(1_700_000_000.5), timestamp(None)
    ('2023-11-14T22:13:20Z', None)
    """
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health_report(
    *,
    replica: Replica,
    store_ok: bool,
    store_backend: str,
    refresher: TaskState,
    passes: RefreshPasses,
    servers: Mapping[str, ServerHealth],
    attempts: Mapping[str, Attempts],
) -> dict[str, Any]:
    """The body of ``GET /admin/api/v1/health``. ``status`` is ``ok`` when the store answers, the
    refresher runs and every upstream is healthy, else ``degraded``."""
    ids = sorted({*passes.servers, *servers, *attempts})
    upstreams = [_upstream(i, servers.get(i), attempts.get(i, Attempts())) for i in ids]
    fine = store_ok and refresher.running and all(u["healthy"] for u in upstreams)
    return {
        "status": "ok" if fine else "degraded",
        "replica": {"id": replica.id, "started_at": timestamp(replica.started_at), "note": REPLICA_NOTE},
        "store": {"status": "ok" if store_ok else "unavailable", "backend": store_backend},
        "background": {refresher.name: _refresher(refresher, passes)},
        "upstreams": upstreams,
    }


def _upstream(server_id: str, health: ServerHealth | None, attempts: Attempts) -> dict[str, Any]:
    """One server; ``pending`` until this replica has tried to discover it."""
    reason: str | None
    if health is None:
        status, reason = "pending", "not discovered by this replica yet"
    else:
        status, reason = ("healthy", None) if health.healthy else ("unhealthy", health.reason)
    return {
        "id": server_id,
        "status": status,
        "healthy": status == "healthy",
        "reason": reason,
        "tools": health.tools if health else 0,
        "skipped": len(health.skipped) if health else 0,
        "last_success_at": timestamp(attempts.last_success_at),
        "last_attempt_at": timestamp(attempts.last_attempt_at),
        "consecutive_failures": attempts.consecutive_failures,
    }


def _refresher(task: TaskState, passes: RefreshPasses) -> dict[str, Any]:
    return {
        "running": task.running,
        "started_at": timestamp(task.started_at),
        "restarts": task.restarts,
        "last_crash": task.last_crash,
        "last_crash_at": timestamp(task.last_crash_at),
        "passes": passes.completed,
        "failed_passes": passes.failed,
        "skipped_passes": passes.skipped,
        "last_pass_at": timestamp(passes.last_pass_at),
        "last_pass_failure": passes.last_failure,
        "last_pass_failure_at": timestamp(passes.last_failure_at),
        "servers_listed_at": timestamp(passes.servers_listed_at),
    }
