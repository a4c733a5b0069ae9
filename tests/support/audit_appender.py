"""A gateway process that only audits: ``python -m tests.support.audit_appender <store URL> <count>
<tag>`` builds the gateway on that store (its keys sealed under the KEK file beside it), records
``count`` events tagged ``tag`` through its ``AuditLog`` (every tenth one ``durable``), runs the
flusher's pass every few events, and closes the trail as the server's shutdown does. Two of them
started at once are two gateway processes writing one trail."""

from __future__ import annotations

import sys

import anyio

from gateway.composition import build_gateway
from gateway.config import settings_from
from gateway.store.factory import open_store


async def append(store_url: str, count: int, tag: str) -> None:
    settings = settings_from(store=store_url, audit_checkpoint_events=25)
    gateway = build_gateway(settings, open_store(store_url))
    try:
        for n in range(count):
            if n % 10 == 0:
                await gateway.audit.durable("token_issued", outcome="granted", client_id=tag, n=n)
            else:
                gateway.audit.record("sign_in", outcome="granted", sub=tag, n=n)
            if n % 7 == 0:
                await gateway.audit_trail.tick()
    finally:
        await gateway.aclose()


if __name__ == "__main__":
    anyio.run(append, sys.argv[1], int(sys.argv[2]), sys.argv[3])
