"""Signed webhooks for the security team's events (rule book WH-1, WH-2, WH-3).

Deliveries go to a real receiver (Starlette under uvicorn on a free loopback port) that checks
each one with the Standard Webhooks reference library, so a test proves what any receiver would
see. The sender's allow-list names 127.0.0.1 except where a test proves the refusal of a private
address. Time is a :class:`FrozenClock` started at the real time (the reference library refuses a
``webhook-timestamp`` more than five minutes off its own clock) and advanced between passes; the
stores are the memory store, or SQLite where durability or the bytes at rest are the point.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from standardwebhooks import Webhook

from gateway.audit import AuditLog
from gateway.clock import FrozenClock
from gateway.key_encryption import KEK_BYTES, LocalKeyProtector
from gateway.store import Store
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SQLiteStore
from gateway.webhooks import EVENTS
from gateway.webhooks.deliveries import LOG, OUTBOX, RETRY_DELAYS
from gateway.webhooks.dispatcher import Webhooks
from gateway.webhooks.endpoints import COLLECTION, WebhookError
from gateway.webhooks.sender import SenderPolicy
from tests.support.fetch_probes import Listener, TableResolver
from tests.support.ports import closed_port_url
from tests.support.tls import ThrowAwayCA
from tests.support.webhook_receiver import Answer, Receiver, receiving

pytestmark = pytest.mark.anyio

LOOPBACK = frozenset({"127.0.0.1"})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(time.time())


@pytest.fixture
def protector() -> LocalKeyProtector:
    return LocalKeyProtector(secrets.token_bytes(KEK_BYTES))


@pytest.fixture
def store(clock: FrozenClock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


def webhooks_on(
    store: Store,
    clock: FrozenClock,
    protector: LocalKeyProtector,
    allowed: frozenset[str] = LOOPBACK,
    **options: Any,
) -> Webhooks:
    policy_fields = {k: options.pop(k) for k in ("timeout",) if k in options}
    policy = SenderPolicy(allowed_private_hosts=allowed, **policy_fields)
    return Webhooks(store, clock, protector, policy, AuditLog(), **options)


@pytest.fixture
def webhooks(store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector) -> Webhooks:
    return webhooks_on(store, clock, protector)


def bytes_at_rest(folder: Path) -> bytes:
    """Every byte of the SQLite store's files (the database and its journals)."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("gw.sqlite3*")))


async def subscribed(webhooks: Webhooks, receiver: Receiver, *events: str, path: str = "/hook") -> str:
    """A new endpoint for ``events`` at the receiver, which is handed its secret; its id."""
    endpoint, secret = await webhooks.endpoints.add(receiver.url(path), events or EVENTS, "security team")
    receiver.secret = secret
    return endpoint.id


# --- WH-1: signed per Standard Webhooks, with a secret sealed at rest -----------------------------


async def test_wh1_a_delivery_verifies_with_the_standardwebhooks_reference_library(
    webhooks: Webhooks, receiver: Receiver, clock: FrozenClock
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "access.requested")
    await webhooks.announce("access.requested", {"request_id": "req-1", "tool": "weather__forecast"})
    assert await webhooks.deliver_due() == 1

    [request] = receiver.received
    assert request.verification_error is None
    assert request.payload["type"] == "access.requested"
    assert request.payload["data"] == {"request_id": "req-1", "tool": "weather__forecast"}
    assert request.payload["timestamp"].endswith("Z")
    assert request.headers["webhook-timestamp"] == str(int(clock.now()))
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert request.headers["webhook-id"] == delivery.id
    assert delivery.state == "delivered"


async def test_wh1_a_delivery_signed_under_another_secret_does_not_verify(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    await subscribed(webhooks, receiver, "grant.revoked")
    receiver.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    await webhooks.announce("grant.revoked", {"grant_id": "g-1"})
    await webhooks.deliver_due()
    assert receiver.received[0].verification_error == "No matching signature found"


async def test_wh1_the_secret_is_whsec_base64_and_shown_only_when_made(webhooks: Webhooks) -> None:
    endpoint, secret = await webhooks.endpoints.add("https://hooks.example/in", ["review.due"])
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) <= 32
    shown = await webhooks.endpoints.get(endpoint.id)
    assert shown is not None
    assert secret not in json.dumps(shown.as_dict())
    assert "sealed_secret" not in shown.as_dict()


async def test_wh1_the_store_never_holds_the_secret_in_the_clear(
    tmp_path: Path, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    database = tmp_path / "gw.sqlite3"
    store = SQLiteStore(str(database), clock=clock)
    webhooks = webhooks_on(store, clock, protector)
    endpoint_id = await subscribed(webhooks, receiver, "access.approved")
    secret = receiver.secret
    assert secret is not None
    await webhooks.endpoints.rotate_secret(endpoint_id)  # the rotated-out one is kept too, sealed
    await webhooks.announce("access.approved", {"request_id": "req-2"})
    await webhooks.deliver_due()
    records = [json.dumps(await store.list_records(c)) for c in (COLLECTION, OUTBOX, LOG)]
    await store.close()

    raw = base64.b64decode(secret.removeprefix("whsec_"))
    at_rest = bytes_at_rest(tmp_path)
    for form in (secret.encode(), secret.removeprefix("whsec_").encode(), raw):
        assert form not in at_rest
    assert all(secret.removeprefix("whsec_") not in record for record in records)
    stored = json.loads(json.loads(records[0])[endpoint_id])
    assert stored["sealed_secret"].startswith("A256GCM.")


async def test_wh1_a_sealed_secret_opens_only_for_its_own_endpoint_and_kek(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    webhooks = webhooks_on(store, clock, protector)
    victim = await subscribed(webhooks, receiver, "access.denied")
    mine, _ = await webhooks.endpoints.add(receiver.url("/mine"), ["access.denied"])
    record = json.loads(await store.get_record(COLLECTION, mine.id) or "{}")
    record["sealed_secret"] = json.loads(await store.get_record(COLLECTION, victim) or "{}")["sealed_secret"]
    await store.put_record(COLLECTION, mine.id, json.dumps(record))  # the victim's secret, copied
    other_kek = webhooks_on(store, clock, LocalKeyProtector(secrets.token_bytes(KEK_BYTES)))

    await webhooks.announce("access.denied", {"request_id": "req-3"})
    assert await other_kek.deliver_due() == 2
    assert receiver.received == []
    for endpoint_id in (victim, mine.id):
        [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
        assert delivery.attempts[0].error == "KeyEncryptionError"


async def test_wh1_a_rotated_secret_signs_beside_the_new_one_for_its_grace_period(
    webhooks: Webhooks, receiver: Receiver, clock: FrozenClock
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "grant.expired")
    old = receiver.secret
    rotated = await webhooks.endpoints.rotate_secret(endpoint_id, grace=60)
    assert rotated is not None
    new = rotated[1]
    await webhooks.announce("grant.expired", {"grant_id": "g-2"})
    await webhooks.deliver_due()
    clock.advance(60)
    await webhooks.announce("grant.expired", {"grant_id": "g-3"})
    await webhooks.deliver_due()

    during, after = receiver.received
    for secret in (old, new):
        assert Webhook(secret).verify(during.body, during.headers)["data"] == {"grant_id": "g-2"}
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new).verify(after.body, after.headers)["data"] == {"grant_id": "g-3"}


# --- WH-2: only vetted addresses, no redirects ----------------------------------------------------


@pytest.mark.parametrize("host", ["hooks.example", "10.0.0.1"])
async def test_wh2_a_private_address_not_allow_listed_is_refused_without_connecting(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, host: str
) -> None:
    listener = Listener()
    resolver = TableResolver({"hooks.example": ["127.0.0.1"]})
    webhooks = webhooks_on(store, clock, protector, allowed=frozenset(), resolver=resolver)
    try:
        endpoint, _ = await webhooks.endpoints.add(f"https://{host}:{listener.port}/hook", ["call.pending"])
        await webhooks.announce("call.pending", {"call_id": "c-1"})
        assert await webhooks.deliver_due() == 1
        assert listener.accepted() == 0
    finally:
        listener.close()
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint.id)
    [attempt] = delivery.attempts
    assert attempt.error == "DestinationRefused"
    assert "not allowed" in (attempt.detail or "")
    assert delivery.state == "pending"  # retried: the name may resolve elsewhere later
    assert resolver.calls == ([("hooks.example", listener.port)] if host == "hooks.example" else [])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example/in", "https"),
        ("ftp://hooks.example/in", "https"),
        ("https://user:pw@hooks.example/in", "userinfo"),
        ("https://hooks.example/in#frag", "fragment"),
    ],
)
async def test_wh2_an_endpoint_url_that_is_not_https_or_carries_credentials_is_refused_when_added(
    webhooks: Webhooks, url: str, reason: str
) -> None:
    with pytest.raises(WebhookError, match=reason):
        await webhooks.endpoints.add(url, ["review.due"])
    assert await webhooks.endpoints.list_endpoints() == []


async def test_wh2_a_redirect_counts_as_a_failure_and_is_not_followed(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "access.requested")
    receiver.answer(Answer(302, {"Location": receiver.url("/elsewhere")}))
    await webhooks.announce("access.requested", {"request_id": "req-4"})
    assert await webhooks.deliver_due() == 1
    assert receiver.paths() == ["/hook"]
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert delivery.state == "pending"
    assert delivery.attempts[0].summary() == "HTTP 302 (redirects are not followed)"


async def test_wh2_https_goes_to_the_vetted_address_under_the_original_name(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, tmp_path: Path
) -> None:
    authority = ThrowAwayCA(tmp_path)
    authority.server_for("hooks.test")
    resolver = TableResolver({"hooks.test": ["127.0.0.1"]})
    webhooks = webhooks_on(
        store,
        clock,
        protector,
        allowed=frozenset({"hooks.test"}),
        resolver=resolver,
        ssl_context=authority.client,
    )
    tls = {"ssl_certfile": str(tmp_path / "hooks.test.pem"), "ssl_keyfile": str(tmp_path / "hooks.test.key")}
    with receiving(**tls) as receiver:
        assert receiver.served is not None
        port = receiver.served.port
        url = receiver.url(host="hooks.test", scheme="https")
        _, receiver.secret = await webhooks.endpoints.add(url, ["review.due"])
        await webhooks.announce("review.due", {"review_id": "rv-1"})
        assert await webhooks.deliver_due() == 1
    [request] = receiver.received
    assert request.verification_error is None
    assert request.headers["host"] == f"hooks.test:{port}"
    assert resolver.calls == [("hooks.test", port)]


# --- WH-3: retried with backoff, every attempt logged ---------------------------------------------


async def test_wh3_a_delivery_that_fails_twice_arrives_on_the_third_try(
    webhooks: Webhooks, receiver: Receiver, clock: FrozenClock
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "access.requested")
    receiver.answer(500, 500, 200)
    await webhooks.announce("access.requested", {"request_id": "req-5"})

    assert await webhooks.deliver_due() == 1
    assert await webhooks.deliver_due() == 0  # not due again before its backoff
    clock.advance(RETRY_DELAYS[0])
    assert await webhooks.deliver_due() == 1
    clock.advance(RETRY_DELAYS[1] - 1)
    assert await webhooks.deliver_due() == 0
    clock.advance(1)
    assert await webhooks.deliver_due() == 1

    assert [r.verification_error for r in receiver.received] == [None, None, None]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert delivery.state == "delivered"
    assert [a.status for a in delivery.attempts] == [500, 500, 200]
    start = delivery.attempts[0].at
    assert [a.at - start for a in delivery.attempts] == [
        0,
        RETRY_DELAYS[0],
        RETRY_DELAYS[0] + RETRY_DELAYS[1],
    ]


async def test_wh3_a_delivery_is_marked_failed_when_the_last_retry_fails(
    webhooks: Webhooks, receiver: Receiver, clock: FrozenClock
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "grant.revoked")
    receiver.secret = None  # hours pass on the frozen clock: the reference library would say too new
    receiver.answer(*[503] * (len(RETRY_DELAYS) + 1))
    await webhooks.announce("grant.revoked", {"grant_id": "g-4"})
    assert await webhooks.deliver_due() == 1
    for delay in RETRY_DELAYS:
        clock.advance(delay)
        assert await webhooks.deliver_due() == 1
    clock.advance(RETRY_DELAYS[-1])
    assert await webhooks.deliver_due() == 0
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert delivery.state == "failed"
    assert [a.status for a in delivery.attempts] == [503] * (len(RETRY_DELAYS) + 1)


async def test_wh3_an_endpoint_that_is_down_is_retried_and_never_fails_the_announcement(
    webhooks: Webhooks, clock: FrozenClock
) -> None:
    endpoint, _ = await webhooks.endpoints.add(closed_port_url(), ["call.pending"])
    await webhooks.announce("call.pending", {"call_id": "c-2"})
    assert await webhooks.deliver_due() == 1
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint.id)
    assert delivery.attempts[0].error == "ConnectError"
    assert delivery.next_attempt_at == clock.now() + RETRY_DELAYS[0]


async def test_wh3_an_endpoint_that_answers_too_slowly_is_cut_off(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    webhooks = webhooks_on(store, clock, protector, timeout=0.3)
    endpoint_id = await subscribed(webhooks, receiver, "review.due")
    receiver.answer(Answer(delay=1.0))
    await webhooks.announce("review.due", {"review_id": "rv-2"})
    with anyio.fail_after(2):
        await webhooks.deliver_due()
    [delivery] = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert delivery.attempts[0].summary() == "Timeout: no answer within 0.3 s"


async def test_wh3_pending_deliveries_survive_a_restart(
    tmp_path: Path, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    database = str(tmp_path / "gw.sqlite3")
    before = SQLiteStore(database, clock=clock)
    await subscribed(webhooks_on(before, clock, protector), receiver, "access.approved")
    await webhooks_on(before, clock, protector).announce("access.approved", {"request_id": "req-6"})
    await before.close()

    after = SQLiteStore(database, clock=clock)
    try:
        assert await webhooks_on(after, clock, protector).deliver_due() == 1
    finally:
        await after.close()
    assert receiver.received[0].payload["data"] == {"request_id": "req-6"}


async def test_wh3_the_delivery_log_keeps_the_newest_deliveries_of_each_endpoint(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    webhooks = webhooks_on(store, clock, protector, keep_per_endpoint=3)
    endpoint_id = await subscribed(webhooks, receiver, "grant.expired")
    for number in range(5):
        await webhooks.announce("grant.expired", {"grant_id": f"g-{number}"})
        clock.advance(1)
    assert await webhooks.deliver_due() == 5
    log = await webhooks.deliveries.for_endpoint(endpoint_id)
    assert [json.loads(d.body)["data"]["grant_id"] for d in log] == ["g-4", "g-3", "g-2"]


async def test_wh3_two_replicas_on_one_store_send_an_attempt_once(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    first, second = webhooks_on(store, clock, protector), webhooks_on(store, clock, protector)
    await subscribed(first, receiver, "access.requested")
    await first.announce("access.requested", {"request_id": "req-7"})
    made: list[int] = []

    async def pass_of(replica: Webhooks) -> None:
        made.append(await replica.deliver_due())

    async with anyio.create_task_group() as group:
        group.start_soon(pass_of, first)
        group.start_soon(pass_of, second)
    assert sorted(made) == [0, 1]
    assert len(receiver.received) == 1


# --- who hears what -------------------------------------------------------------------------------


async def test_only_subscribed_and_enabled_endpoints_receive_an_event(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    wanted = await subscribed(webhooks, receiver, "access.requested", path="/wanted")
    await subscribed(webhooks, receiver, "grant.revoked", path="/other-event")
    paused = await subscribed(webhooks, receiver, "access.requested", path="/paused")
    await webhooks.endpoints.set_enabled(paused, False)
    receiver.secret = None  # three secrets: the receiver only records
    await webhooks.announce("access.requested", {"request_id": "req-8"})
    assert await webhooks.deliver_due() == 1
    assert receiver.paths() == ["/wanted"]
    assert len(await webhooks.deliveries.for_endpoint(wanted)) == 1


async def test_a_paused_endpoint_keeps_what_was_queued_until_it_is_enabled_again(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "access.denied")
    await webhooks.announce("access.denied", {"request_id": "req-10"})
    await webhooks.endpoints.set_enabled(endpoint_id, False)
    assert await webhooks.deliver_due() == 0
    await webhooks.endpoints.set_enabled(endpoint_id, True)
    assert await webhooks.deliver_due() == 1
    assert receiver.received[0].payload["data"] == {"request_id": "req-10"}


async def test_announce_with_no_subscriptions_does_nothing(webhooks: Webhooks, store: MemoryStore) -> None:
    await webhooks.announce("access.requested", {"request_id": "req-9"})
    assert await store.list_records(OUTBOX) == {}
    assert await webhooks.deliver_due() == 0


async def test_unknown_events_are_refused_when_subscribing_and_when_announcing(webhooks: Webhooks) -> None:
    with pytest.raises(WebhookError, match=r"unknown event 'access\.granted'"):
        await webhooks.endpoints.add("https://hooks.example/in", ["access.requested", "access.granted"])
    with pytest.raises(WebhookError, match="at least one event"):
        await webhooks.endpoints.add("https://hooks.example/in", [])
    with pytest.raises(ValueError, match="unknown webhook event"):
        await webhooks.announce("access.granted", {})


async def test_removing_an_endpoint_drops_its_pending_deliveries(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    endpoint_id = await subscribed(webhooks, receiver, "review.due")
    await webhooks.announce("review.due", {"review_id": "rv-3"})
    assert await webhooks.remove_endpoint(endpoint_id)
    assert await webhooks.deliver_due() == 0
    assert receiver.received == []
    assert not await webhooks.remove_endpoint(endpoint_id)


async def test_the_background_loop_delivers_what_is_announced(
    store: MemoryStore, clock: FrozenClock, protector: LocalKeyProtector, receiver: Receiver
) -> None:
    webhooks = webhooks_on(store, clock, protector, poll_interval=0.01)
    await subscribed(webhooks, receiver, "call.pending")
    async with anyio.create_task_group() as group:
        group.start_soon(webhooks.run)
        await webhooks.announce("call.pending", {"call_id": "c-3"})
        with anyio.fail_after(5):
            while not receiver.received:
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert receiver.received[0].payload["data"] == {"call_id": "c-3"}
