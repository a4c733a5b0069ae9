"""AU-2: the trail is hash-chained and signed with the gateway's key, and verification names where it
was changed. A trail is written and signed, then edited behind the gateway's back, the way someone
holding the file could (an event changed, deleted, inserted, moved, the chain recomputed, a
checkpoint forged or removed), and ``verify_trail`` must name the place. Two gateway processes
appending at once must still write one chain that verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.audit.chain import canonical, link
from gateway.audit.checkpoints import CHECKPOINT_TYP, sign_checkpoint
from gateway.oauth.tokens.access_tokens import AccessTokenVerifier, InvalidToken
from tests.support.audit import ISSUER, TrailWorld, edit_file, row, trail_world
from tests.support.cli import REPO, Cli

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sealed(tmp_path: Path) -> TrailWorld:
    """A trail of 14 events (13 recorded and the record of the signing key), checkpointed every
    five events or so and at its end."""
    world = trail_world(tmp_path, every_events=5)
    for _ in range(4):
        await world.record(3, client_id="bot")
    world.audit.record("sign_in", outcome="granted", sub="alice")
    await world.trail.flush()
    await world.checkpoints.maybe(force=True)
    assert (await world.store.head()).seq == 14
    return world


async def findings(world: TrailWorld) -> set[tuple[str, int | None]]:
    result = await world.verification()
    return {(finding.kind, finding.seq) for finding in result.findings}


async def test_au2_an_untouched_trail_verifies(sealed: TrailWorld) -> None:
    result = await sealed.verification()
    assert result.ok, result.findings
    assert (result.events, result.head, result.signed_through) == (14, 14, 14)
    assert result.checkpoints == len(await sealed.store.checkpoints()) >= 3


async def test_au2_an_edited_event_is_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "UPDATE audit_events SET body = replace(body, 'granted', 'refused') WHERE seq = 9")
    assert await findings(sealed) == {("edited", 9)}


async def test_au2_an_edited_search_column_is_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "UPDATE audit_events SET client_id = 'someone-else' WHERE seq = 4")
    assert await findings(sealed) == {("edited", 4)}


async def test_au2_a_deleted_event_is_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "DELETE FROM audit_events WHERE seq = 6")
    assert ("deleted", 7) in await findings(sealed)  # "event 6 missing before event 7"


async def test_au2_a_deletion_hidden_by_renumbering_is_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "DELETE FROM audit_events WHERE seq = 6")
    edit_file(sealed.path, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 6")
    edit_file(sealed.path, "UPDATE audit_head SET seq = seq - 1")
    found = await findings(sealed)
    assert ("deleted", 6) in found, found


async def test_au2_events_cut_from_the_end_are_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "DELETE FROM audit_events WHERE seq >= 13")
    assert ("deleted", 13) in await findings(sealed)


async def test_au2_an_inserted_event_is_named_even_with_its_hash_computed(sealed: TrailWorld) -> None:
    """The intruder chains a made-up event after event 5, moves the rest up, and fixes the head."""
    previous = row(sealed.path, 5)
    forged = sealed.trail.maker.new_event("sign_in", "granted", {"sub": "mallory"}, via="agent", actor=None)
    body = canonical(forged.to_json())
    edit_file(sealed.path, "UPDATE audit_events SET seq = seq + 1000 WHERE seq > 5")
    edit_file(sealed.path, "UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000")
    edit_file(
        sealed.path,
        "INSERT INTO audit_events (seq, event_id, at, type, outcome, subject, prev_hash, hash, body)"
        " VALUES (6, ?, ?, 'sign_in', 'granted', 'mallory', ?, ?, ?)",
        forged.event_id,
        forged.at,
        previous[-2],
        link(previous[-2], body),
        body,
    )
    edit_file(sealed.path, "UPDATE audit_head SET seq = seq + 1")
    found = await findings(sealed)
    assert ("inserted", 6) in found, found


async def test_au2_an_event_appended_behind_the_gateways_back_is_named(sealed: TrailWorld) -> None:
    last = row(sealed.path, 14)
    forged = sealed.trail.maker.new_event("sign_in", "granted", {}, via=None, actor=None)
    body = canonical(forged.to_json())
    edit_file(
        sealed.path,
        "INSERT INTO audit_events (seq, event_id, at, type, outcome, prev_hash, hash, body)"
        " VALUES (15, ?, ?, 'sign_in', 'granted', ?, ?, ?)",
        forged.event_id, forged.at, last[-2], link(last[-2], body), body,
    )  # fmt: skip
    assert await findings(sealed) == {("inserted", 15)}


async def test_au2_reordered_events_are_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "UPDATE audit_events SET seq = -1 WHERE seq = 8")
    edit_file(sealed.path, "UPDATE audit_events SET seq = 8 WHERE seq = 9")
    edit_file(sealed.path, "UPDATE audit_events SET seq = 9 WHERE seq = -1")
    assert ("reordered", 8) in await findings(sealed)


async def test_au2_a_recomputed_chain_is_caught_by_the_signed_checkpoints(sealed: TrailWorld) -> None:
    """Every hash after the edit recomputed, the head too: the links are whole, the signatures not."""
    stored = await sealed.store.read()
    previous = stored[2].hash
    for event in stored[3:]:
        body = event.body.replace("granted", "refused") if event.seq == 4 else event.body
        digest = link(previous, body)
        edit_file(
            sealed.path, "UPDATE audit_events SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            body, previous, digest, event.seq,
        )  # fmt: skip
        previous = digest
    edit_file(sealed.path, "UPDATE audit_events SET outcome = 'refused' WHERE seq = 4")
    edit_file(sealed.path, "UPDATE audit_head SET hash = ?", previous)
    result = await sealed.verification()
    first = next(f for f in result.findings if f.kind == "edited")
    assert first.seq is not None and first.seq >= 4 and "changed between events 1 and" in first.detail
    assert {f.kind for f in result.findings} == {"edited"}


async def test_au2_a_checkpoint_signed_with_another_key_is_forged(sealed: TrailWorld) -> None:
    downstream = await sealed.keys.rings["downstream"].current()  # a key of the gateway, the wrong one
    head = await sealed.store.head()
    last = await sealed.store.last_checkpoint()
    assert last is not None
    jws = sign_checkpoint(downstream, ISSUER, last.number + 1, head, sealed.clock.now())
    edit_file(
        sealed.path,
        "INSERT INTO audit_checkpoints (number, seq, hash, at, jws) VALUES (?, ?, ?, ?, ?)",
        last.number + 1, head.seq, head.hash, sealed.clock.now(), jws,
    )  # fmt: skip
    result = await sealed.verification()
    assert [(f.kind, f.seq) for f in result.findings] == [("checkpoint", 14)]
    assert "forged" in result.findings[0].detail


async def test_au2_a_checkpoint_with_a_broken_signature_or_altered_claims_is_forged(
    sealed: TrailWorld,
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": ISSUER, "n": 1, "seq": 5, "hash": "0" * 64, "iat": 0}
    own_kid = (await sealed.keys.rings["gateway"].current()).signing_kid
    jws = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": own_kid, "typ": CHECKPOINT_TYP})
    edit_file(sealed.path, "UPDATE audit_checkpoints SET jws = ? WHERE number = 1", jws)
    edit_file(sealed.path, "UPDATE audit_checkpoints SET seq = seq - 1 WHERE number = 2")
    kinds = [(f.kind, f.detail) for f in (await sealed.verification()).findings]
    assert any("checkpoint 1 is forged: its signature does not verify" in detail for _, detail in kinds)
    assert any("checkpoint 2 is stored apart from what it signs" in detail for _, detail in kinds)


async def test_au2_a_removed_checkpoint_is_named(sealed: TrailWorld) -> None:
    edit_file(sealed.path, "DELETE FROM audit_checkpoints WHERE number = 2")
    details = [f.detail for f in (await sealed.verification()).findings]
    assert details == ["checkpoint 2 is missing"]


async def test_au2_a_checkpoint_never_passes_for_an_access_token(sealed: TrailWorld) -> None:
    checkpoint = await sealed.store.last_checkpoint()
    assert checkpoint is not None
    header = jwt.get_unverified_header(checkpoint.jws)
    assert (
        header["typ"] == CHECKPOINT_TYP
        and header["kid"] == (await sealed.keys.rings["gateway"].current()).signing_kid
    )
    verifier = AccessTokenVerifier(sealed.keys, ("gateway",), ISSUER, sealed.clock)
    with pytest.raises(InvalidToken, match="typ"):
        await verifier.verify(checkpoint.jws)


async def test_au2_checkpoints_come_every_n_events_or_t_seconds(tmp_path: Path) -> None:
    world = trail_world(tmp_path, every_events=5, every_seconds=60)
    await world.record(4)
    assert await world.store.last_checkpoint() is None
    world.clock.advance(59)
    await world.trail.tick()
    assert await world.store.last_checkpoint() is None
    world.clock.advance(1)
    await world.trail.tick()
    by_time = await world.store.last_checkpoint()
    assert by_time is not None and by_time.seq == 5  # 4 events and the record of the key
    await world.record(4)
    assert await world.store.last_checkpoint() == by_time
    await world.record(1)
    by_count = await world.store.last_checkpoint()
    assert by_count is not None and (by_count.number, by_count.seq) == (2, 10)


async def test_au2_the_checkpointer_signs_nothing_past_a_broken_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = trail_world(tmp_path, every_events=1000)
    await world.record(3)
    await world.checkpoints.maybe(force=True)
    await world.record(3)
    edit_file(world.path, "UPDATE audit_events SET body = replace(body, 'granted', 'refused') WHERE seq = 6")
    await world.record(2)
    checkpoint = await world.checkpoints.maybe(force=True)
    assert checkpoint is not None and checkpoint.seq == 5, "signed up to the event before the broken one"
    assert await world.checkpoints.maybe(force=True) is None
    assert "broken at event 6" in caplog.text


async def test_au2_a_checkpoint_of_a_retired_key_stays_verifiable_through_the_key_recorded_in_the_trail(
    tmp_path: Path,
) -> None:
    world = trail_world(tmp_path, every_events=3)
    await world.record(3)
    first_kid = (await world.keys.rings["gateway"].current()).signing_kid
    manager = world.keys.managers["gateway"]
    for _ in range(2):  # two rotations, each waited out until the key before is pruned
        await manager.rotate()
        world.clock.advance(600 + 360 + 16)
    await manager.rotate()
    assert first_kid not in (await manager.snapshot()).verification_keys
    unvouched = await world.verification()
    assert [f.kind for f in unvouched.findings] == ["checkpoint"], "no checkpoint of a published key yet"
    await world.trail.tick()  # the key changed: the checkpointer signs again, with no new event needed
    result = await world.verification()
    assert result.ok, result.findings
    assert result.signed_through == result.head


def test_au2_two_gateway_processes_append_one_chain_that_verifies_until_the_file_is_edited(
    tmp_path: Path,
) -> None:
    store = f"sqlite:///{tmp_path / 'gw.sqlite3'}"
    cli = Cli(store=store, cwd=tmp_path)
    assert cli.run("keys", "list").returncode == 0  # the keys (and their KEK) exist before both start
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.audit_appender", store, "150", tag], cwd=REPO, env=env
        )
        for tag in ("one", "two")
    ]
    assert [writer.wait(120) for writer in writers] == [0, 0]

    verified = cli.run("audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = cli.json("audit", "verify")
    assert report["ok"] and report["events"] >= 300 and report["signed_through"] == report["head"]
    tail = cli.json("audit", "tail", "-n", "400")
    assert {"one", "two"} <= {e["fields"].get("sub") or e["fields"].get("client_id") for e in tail}

    path = tmp_path / "gw.audit.sqlite3"
    edit_file(path, "UPDATE audit_events SET body = replace(body, 'granted', 'refused') WHERE seq = 123")
    changed = cli.run("audit", "verify")
    assert changed.returncode == 3, changed.stdout + changed.stderr
    assert "edited: event 123 does not match its hash" in changed.stdout
    assert "THE TRAIL WAS CHANGED" in changed.stdout
