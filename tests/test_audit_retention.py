"""AU-5: retention deletes only what is older than ``audit_retention_days`` **and** was delivered by
every configured exporter (and is signed by a checkpoint); with no exporter, it deletes nothing
unless deleting unexported events was accepted. A pruned trail still verifies from its signed
start, and an edit after the prune point is still named."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from gateway.audit.exporters.core import Exporter
from gateway.audit.exporters.jsonlines import JsonLinesStream
from gateway.audit.retention import DAY, Retention
from tests.support.audit import TrailWorld, edit_file, trail_world

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(tmp_path: Path) -> TrailWorld:
    """21 events written two days ago (checkpointed every five or so), then 3 written now."""
    world = trail_world(tmp_path, every_events=5)
    for _ in range(4):
        await world.record(5, client_id="bot")
    await world.checkpoints.maybe(force=True)
    world.clock.advance(2 * DAY)
    await world.record(3, client_id="bot")
    await world.checkpoints.maybe(force=True)
    return world


def retention(world: TrailWorld, exporters: tuple[str, ...], **options: object) -> Retention:
    return Retention(world.store, world.audit, world.clock, days=1, exporters=exporters, **options)  # type: ignore[arg-type]


async def export(world: TrailWorld, name: str, batches: int, batch_events: int = 500) -> int:
    shipping = Exporter(name, world.store, JsonLinesStream(io.StringIO()), batch_events=batch_events)
    for _ in range(batches):
        await shipping.step()
    return await world.store.export_position(name)


async def signed_at_or_before(world: TrailWorld, seq: int) -> int:
    return max(c.seq for c in await world.store.checkpoints() if c.seq <= seq)


async def last_old(world: TrailWorld) -> int:
    """The last event written two days ago."""
    return max(s.seq for s in await world.store.read(0, 1000) if s.index.at < world.clock.now() - DAY)


async def test_au5_retention_deletes_only_what_every_exporter_delivered(world: TrailWorld) -> None:
    old = await last_old(world)
    fast = await export(world, "fast", batches=5)
    slow = await export(world, "slow", batches=1, batch_events=13)
    assert fast == (await world.store.head()).seq and slow == 13
    deleted = await retention(world, ("fast", "slow")).step()
    pruned = await world.store.pruned()
    assert pruned.seq == await signed_at_or_before(world, slow) == deleted
    assert 0 < pruned.seq <= slow
    kept = await world.store.read(0, 1000)
    assert kept[0].seq == pruned.seq + 1 and kept[0].prev_hash == pruned.hash
    (notice,) = [s.event() for s in kept if s.index.type == "audit_pruned"]
    assert dict(notice.fields) == {"count": deleted, "through": pruned.seq, "after": 0}
    slow = await export(world, "slow", batches=5)  # it catches up: the rest of the old events may go
    await retention(world, ("fast", "slow")).step()
    assert (await world.store.pruned()).seq == await signed_at_or_before(world, old)


async def test_au5_nothing_younger_than_the_retention_is_deleted(world: TrailWorld) -> None:
    old = await last_old(world)
    await export(world, "fast", batches=5)
    await retention(world, ("fast",)).step()
    pruned = (await world.store.pruned()).seq
    assert pruned <= old  # today's events stay, though delivered and signed
    assert all(s.index.at >= world.clock.now() - DAY for s in await world.store.read(pruned, 1000))


async def test_au5_without_an_exporter_nothing_is_deleted_unless_that_is_accepted(
    world: TrailWorld, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = retention(world, ())
    with caplog.at_level(logging.WARNING, logger="mcp_gateway"):
        assert await refusing.step() == 0
        assert await refusing.step() == 0
    assert caplog.text.count("audit retention deletes nothing") == 1
    assert (await world.store.pruned()).seq == 0
    expected = await signed_at_or_before(world, await last_old(world))
    assert await retention(world, (), prune_unexported=True).step() == expected


async def test_au5_a_pruned_trail_verifies_from_its_signed_start(world: TrailWorld) -> None:
    await export(world, "fast", batches=5)
    await retention(world, ("fast",)).step()
    await world.trail.tick()
    await world.checkpoints.maybe(force=True)
    result = await world.verification()
    assert result.ok, result.findings
    assert result.pruned_through == (await world.store.pruned()).seq > 0
    assert result.signed_through == (await world.store.head()).seq


async def test_au5_an_edit_after_the_prune_point_is_still_named(world: TrailWorld) -> None:
    await export(world, "fast", batches=5)
    await retention(world, ("fast",)).step()
    pruned = (await world.store.pruned()).seq
    edit_file(
        world.path,
        "UPDATE audit_events SET body = replace(body, 'granted', 'refused') WHERE seq = ?",
        pruned + 2,
    )
    found = {(f.kind, f.seq) for f in (await world.verification()).findings}
    assert found == {("edited", pruned + 2)}


async def test_au5_events_deleted_behind_the_gateways_back_are_not_a_prune(world: TrailWorld) -> None:
    """Someone deletes old events and records a prune point (even one a checkpoint signs): no
    ``audit_pruned`` event says so, and verify names it."""
    checkpointed = await signed_at_or_before(world, 15)
    (row,) = await world.store.read(checkpointed - 1, 1)
    edit_file(world.path, "DELETE FROM audit_events WHERE seq <= ?", checkpointed)
    edit_file(world.path, "INSERT INTO audit_pruned (id, seq, hash) VALUES (1, ?, ?)", row.seq, row.hash)
    found = {(f.kind, f.seq) for f in (await world.verification()).findings}
    assert ("deleted", checkpointed) in found


async def test_au5_a_prune_point_no_checkpoint_vouches_for_is_named(world: TrailWorld) -> None:
    await export(world, "fast", batches=5)
    await retention(world, ("fast",)).step()
    pruned = (await world.store.pruned()).seq
    (row,) = await world.store.read(pruned + 1, 1)
    edit_file(world.path, "DELETE FROM audit_events WHERE seq <= ?", row.seq)
    edit_file(world.path, "UPDATE audit_pruned SET seq = ?, hash = ?", row.seq, row.hash)
    found = {(f.kind, f.seq) for f in (await world.verification()).findings}
    assert ("deleted", row.seq) in found


async def test_au5_the_exported_copy_still_links_to_the_retained_trail(world: TrailWorld) -> None:
    """What left the trail is in the export, and the export's last pruned event is the anchor the
    retained trail chains from."""
    out = io.StringIO()
    shipping = Exporter("archive", world.store, JsonLinesStream(out))
    await shipping.step()
    await retention(world, ("archive",)).step()
    pruned = await world.store.pruned()
    exported = {line["seq"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert exported[pruned.seq]["hash"] == pruned.hash


async def test_au5_a_retired_keys_record_outlives_the_prune_while_its_checkpoints_stay(
    tmp_path: Path,
) -> None:
    """The record of the key that signed checkpoints still kept goes with the old events: it is
    committed again first, so those checkpoints stay verifiable once the key is retired."""
    world = trail_world(tmp_path, every_events=3)
    for _ in range(4):
        await world.record(3)
    first_kid = (await world.keys.rings["gateway"].current()).signing_kid
    signed_first = [c.seq for c in await world.store.checkpoints()]
    manager = world.keys.managers["gateway"]
    for _ in range(2):
        await manager.rotate()
        world.clock.advance(600 + 360 + 16)
    await manager.rotate()
    assert first_kid not in (await manager.snapshot()).verification_keys
    world.clock.advance(2 * DAY)
    await world.record(3)
    await world.checkpoints.maybe(force=True)
    await export(world, "fast", batches=5)
    await export(world, "slow", batches=1, batch_events=signed_first[1])  # through the 2nd checkpoint
    await retention(world, ("fast", "slow")).step()
    assert (await world.store.pruned()).seq == signed_first[1]  # the first key's later ones stay
    await world.trail.tick()
    await world.checkpoints.maybe(force=True)
    result = await world.verification()
    assert result.ok, result.findings
