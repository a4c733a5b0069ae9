"""Getting events into the durable trail (AU-1, AU-3): ``record`` buffers, the flusher writes within
its interval, ``durable`` commits before it returns, and an outage does what
``audit_when_unavailable`` says. The trail runs on a frozen clock; the flusher waits through a seam
the test holds, so no test sleeps for time to pass."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from gateway.audit import AuditLog
from gateway.audit.events import WITHHELD, Actor, AuditEvent
from gateway.audit.store import AuditUnavailable, ChainHead
from gateway.audit.trail import FLUSH_INTERVAL, AuditTrail
from gateway.store import StoreUnavailable
from tests.support.audit import trail_world

pytestmark = pytest.mark.anyio


async def types_stored(trail: AuditTrail) -> list[str]:
    return [stored.index.type for stored in await trail.store.read(limit=10_000)]


async def test_au3_record_only_buffers_and_durable_commits_before_it_returns(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    world.audit.record("sign_in", outcome="granted", sub="alice")
    assert await types_stored(world.trail) == [] and world.trail.buffered == 1
    await world.audit.durable("token_issued", outcome="granted", client_id="bot", jti="j1")
    assert await types_stored(world.trail) == ["sign_in", "token_issued"], "in the order they were made"
    assert world.trail.buffered == 0


async def test_au3_the_flusher_writes_the_buffer_within_its_interval(tmp_path: Path) -> None:
    """The flusher is handed a ``wait`` the test releases: each release is one interval passing."""
    asked: list[float] = []
    send, receive = anyio.create_memory_object_stream[None]()

    async def wait(seconds: float) -> None:
        asked.append(seconds)
        await receive.receive()

    world = trail_world(tmp_path)
    trail = AuditTrail(world.store, world.trail.maker, wait=wait)
    audit = AuditLog(trail=trail, maker=trail.maker)
    async with send, receive, anyio.create_task_group() as group:
        group.start_soon(trail.run)
        audit.record("sign_in", outcome="granted", sub="alice")
        audit.record("consent", outcome="granted", sub="alice", client_id="bot")
        with anyio.fail_after(5):
            while not asked:
                await anyio.sleep(0.001)
        assert await types_stored(trail) == [], "nothing is written before the interval ends"
        await send.send(None)
        with anyio.fail_after(5):  # the write runs in a worker thread: a bounded poll for it
            while len(asked) < 2:
                await anyio.sleep(0.001)
        assert await types_stored(trail) == ["sign_in", "consent"]
        group.cancel_scope.cancel()
    assert asked[0] == FLUSH_INTERVAL <= 0.1


async def test_au3_fail_closed_refuses_a_durable_event_while_the_trail_is_down(tmp_path: Path) -> None:
    world = trail_world(tmp_path, when_unavailable="fail_closed")
    world.store.down = True
    world.audit.record("sign_in", outcome="refused", reason="wrong_credentials")
    with pytest.raises(AuditUnavailable) as refused:
        await world.audit.durable("token_issued", outcome="granted", client_id="bot", jti="j1")
    assert isinstance(refused.value, StoreUnavailable), "the request fails closed with 503"
    await world.trail.tick()  # the flusher does not give up, nor lose anything
    assert world.trail.buffered == 2
    world.store.down = False
    await world.trail.tick()
    assert await types_stored(world.trail) == ["sign_in", "token_issued"]


async def test_au3_buffer_answers_while_the_trail_is_down_and_writes_when_it_is_back(tmp_path: Path) -> None:
    world = trail_world(tmp_path, when_unavailable="buffer")
    world.store.down = True
    await world.audit.durable("token_issued", outcome="granted", client_id="bot", jti="j1")
    await world.audit.durable("access_approved", outcome="approved", client_id="bot", by="carol")
    assert world.trail.buffered == 2
    world.store.down = False
    await world.trail.flush()
    assert await types_stored(world.trail) == ["token_issued", "access_approved"]


async def test_au3_a_full_buffer_fails_durable_under_either_policy_and_the_gap_is_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = trail_world(tmp_path, when_unavailable="buffer", max_buffered=3)
    world.store.down = True
    for n in range(5):
        world.audit.record("sign_in", outcome="refused", n=n)
    with pytest.raises(AuditUnavailable):
        await world.audit.durable("token_issued", outcome="granted", jti="j1")
    assert "the audit buffer is full" in caplog.text
    world.store.down = False
    await world.trail.flush()
    world.audit.record("sign_in", outcome="granted", n=5)
    await world.trail.flush()
    stored = [s.event() for s in await world.trail.store.read()]
    assert [(e.type, e.fields.get("n", e.fields.get("count"))) for e in stored] == [
        ("sign_in", 0),
        ("sign_in", 1),
        ("sign_in", 2),
        ("audit_events_dropped", 3),
        ("sign_in", 5),
    ]


async def test_au3_close_writes_the_buffer_and_signs_it(tmp_path: Path) -> None:
    world = trail_world(tmp_path, every_events=1000)
    world.audit.record("sign_in", outcome="granted", sub="alice")
    await world.trail.close()
    reopened = trail_world(tmp_path)
    checkpoint = await reopened.store.last_checkpoint()
    head = await reopened.store.head()
    assert head.seq == 2 and checkpoint is not None and checkpoint.seq == head.seq


async def test_au3_an_outage_at_shutdown_is_told_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = trail_world(tmp_path)
    world.store.down = True
    world.audit.record("sign_in", outcome="granted", sub="alice")
    await world.trail.close()
    assert "1 audit events were not written" in caplog.text


async def test_au1_the_actor_and_the_channel_are_recorded(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    with world.audit.entered_via("console"):
        await world.audit.durable("access_approved", outcome="approved", client_id="bot", by="carol")
    with world.audit.entered_via("agent"):
        await world.audit.durable(
            "token_exchange", outcome="granted", client_id="bot", sub="alice", actor="helper"
        )
    await world.audit.durable("background_task", outcome="restarted", task="sweeper")
    actors = [s.event().actor for s in await world.store.read()]
    assert actors == [
        Actor(subject="carol", via="console"),
        Actor(client_id="bot", subject="alice", chain=("helper",), via="agent"),
        Actor(),
    ]
    with pytest.raises(ValueError, match="unknown audit channel"), world.audit.entered_via("email"):
        pass


async def test_au1_secrets_and_token_shaped_values_are_withheld_in_the_log_and_the_trail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    world = trail_world(tmp_path)
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    await world.audit.durable(
        "token_refused",
        outcome="refused",
        client_secret="hunter2-hunter2",
        reason=f"the subject token {token} is not acceptable",
        nested={"password": "pw-pw-pw", "list": [token]},
        arguments={"city": "Paris"},
    )
    stored = (await world.store.read())[0]
    for text in (stored.body, caplog.text):
        for secret in (token, "hunter2-hunter2", "pw-pw-pw", "Paris"):
            assert secret not in text
    fields = stored.event().fields
    assert fields["client_secret"] == fields["arguments"] == WITHHELD
    assert fields["reason"] == f"the subject token {WITHHELD} is not acceptable"
    assert json.loads(caplog.records[0].getMessage())["nested"] == {"password": WITHHELD, "list": [WITHHELD]}


def test_au1_an_audit_log_without_a_trail_is_the_log_line_as_before(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    AuditLog().record("sign_in", outcome="refused", reason="wrong_credentials", address="192.0.2.1")
    assert json.loads(caplog.records[0].getMessage()) == {
        "event": "sign_in",
        "outcome": "refused",
        "reason": "wrong_credentials",
        "address": "192.0.2.1",
    }


async def test_au1_event_ids_are_unique_and_ordered_by_time(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    for _ in range(3):
        for _ in range(5):
            world.audit.record("sign_in", outcome="granted")
        world.clock.advance(0.001)
    await world.trail.flush()
    ids = [s.index.event_id for s in await world.store.read()]
    assert len(set(ids)) == 15 and ids == sorted(ids)
    assert all(len(i) == 36 and i[14] == "7" for i in ids), "UUIDv7"


async def test_au3_a_write_cancelled_at_shutdown_is_neither_lost_nor_written_twice(tmp_path: Path) -> None:
    world = trail_world(tmp_path)
    entered, release = anyio.Event(), anyio.Event()
    append = world.store.store.append

    async def slow_append(events: Sequence[AuditEvent]) -> ChainHead:
        head = await append(events)  # committed; the answer is still on its way back
        entered.set()
        await release.wait()
        return head

    world.store.store.append = slow_append  # type: ignore[method-assign]
    world.audit.record("sign_in", outcome="granted", sub="alice")
    async with anyio.create_task_group() as group:
        group.start_soon(world.trail.flush)
        await entered.wait()
        group.cancel_scope.cancel()  # the lifespan cancels the flusher in the middle of a write
        release.set()
    assert world.trail.buffered == 0
    await world.trail.close()
    reopened = trail_world(tmp_path)
    assert await types_stored(reopened.trail) == ["sign_in", "audit_signing_key"]
