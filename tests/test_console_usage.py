"""What the console's pages count from the audit trail (:mod:`gateway.console.trail_usage`): tool calls
per tool over the last 24 hours, and a client's last use and live tokens, on a trail whose clock the
test moves (a :class:`~gateway.clock.FrozenClock`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.console.trail_usage import WINDOW, ClientUsage, client_usage, tool_usage
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.store.memory import MemoryStore
from tests.support.audit import TrailWorld, trail_world

pytestmark = pytest.mark.anyio

TOOL = "weather__echo"
LIFETIME = 300


async def calls(world: TrailWorld, outcome: str, count: int, tool: str = TOOL) -> None:
    for n in range(count):
        world.audit.record(
            "tool_call", outcome=outcome, tool=tool, client_id="agent", upstream="weather", n=n
        )
    await world.trail.flush()


async def issued(world: TrailWorld, jti: str, client_id: str = "agent") -> None:
    world.audit.record("token_issued", outcome="granted", client_id=client_id, sub=client_id, jti=jti)
    await world.trail.flush()


async def test_tool_calls_count_over_the_last_day_and_say_when_the_scan_was_cut(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    await calls(world, "forwarded", 4)
    world.clock.advance(WINDOW + 1)
    await calls(world, "forwarded", 3)
    await calls(world, "upstream_error", 1)
    await calls(world, "refused", 2)
    await calls(world, "forwarded", 1, tool="weather__other")
    usage = await tool_usage(world.store, world.clock.now())
    use = usage.tools[TOOL]
    assert (use.forwarded, use.upstream_errors, use.refused, use.calls) == (3, 1, 2, 6)
    assert use.error_rate == 0.25 and usage.complete
    assert usage.tools["weather__other"].error_rate == 0.0
    cut = await tool_usage(world.store, world.clock.now(), bound=5)
    assert not cut.complete and sum(use.calls for use in cut.tools.values()) <= 5
    assert cut.tools["weather__other"].calls == 1, "the newest are read"


async def test_live_tokens_end_with_their_lifetime_a_revocation_and_the_clients_mark(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    marks = NotBeforeMarks(MemoryStore(world.clock), world.clock, max_staleness=0)
    await issued(world, "old")
    world.clock.advance(LIFETIME + 1)
    await issued(world, "a")
    await issued(world, "b")
    await issued(world, "theirs", client_id="other")
    world.audit.record("token_revoked", outcome="revoked", client_id="agent", jti="b")
    await world.trail.flush()
    usage = await client_usage(world.store, marks, world.clock.now(), LIFETIME)
    agent = usage.clients["agent"]
    assert (agent.live_tokens, agent.last_use) == (1, world.clock.now())
    assert usage.clients["other"].live_tokens == 1
    world.clock.advance(1)
    await marks.revoke_client("agent")
    usage = await client_usage(world.store, marks, world.clock.now(), LIFETIME)
    assert usage.clients["agent"].live_tokens == 0 and usage.clients["other"].live_tokens == 1
    world.clock.advance(WINDOW)
    quiet = await client_usage(world.store, marks, world.clock.now(), LIFETIME)
    assert quiet == ClientUsage(world.clock.now() - WINDOW, True, {})
