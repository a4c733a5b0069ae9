"""What operators see of the gateway's state (rule book AD-3), and the supervision behind it (UP-1).

The gateway runs under uvicorn on a frozen clock, in front of three upstreams on loopback sockets:
one healthy, one answering garbage (HTML) and one where nothing listens. The admin API's health
report names each, with the refresher still running; the public ``/healthz`` says ``ok`` and not a
word about them. With Redis frozen or stopped, ``/healthz`` answers 503 within the store's
deadline and the admin API fails closed (AD-2). The report's arrangement and the supervisor are
also tested alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from gateway import paths
from gateway.admin.health import Replica, health_report, timestamp
from gateway.audit import AuditLog
from gateway.background import Supervisor, TaskState
from gateway.clock import FrozenClock
from gateway.composition import Gateway, build_gateway
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.store.factory import open_store
from gateway.upstream.discovery import Attempts
from gateway.upstream.refresher import RefreshPasses
from tests.support import redis_servers
from tests.support.agents import AgentKey, agent_token
from tests.support.asgi_server import Served
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.kek import SHARED_STORE_KEK
from tests.support.ports import closed_port_url
from tests.support.problems import problem_of
from tools_registry.catalog import ServerHealth

pytestmark = pytest.mark.anyio

OPERATOR = "operator"
INTERVAL = 60


@dataclass
class World:
    gateway: RunningGateway
    clock: FrozenClock
    key: AgentKey
    junk: FakeUpstream

    async def report(
        self, http: httpx2.AsyncClient, until: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The health report, once ``until`` holds for it (a bounded poll: the refresher runs on
        real one-second ticks in the server's thread)."""
        token = await agent_token(
            http, self.gateway, self.key, OPERATOR, resource=self.gateway.endpoint(paths.ADMIN_API)
        )
        deadline = time.monotonic() + 30
        while True:
            response = await http.get(
                self.gateway.endpoint(paths.ADMIN_HEALTH), headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
            report: dict[str, Any] = response.json()
            if until(report):
                return report
            assert time.monotonic() < deadline, report
            await anyio.sleep(0.05)


def operator(key: AgentKey, port: int) -> dict[str, Any]:
    return {
        "client_id": OPERATOR,
        "scopes": ("admin:auditor",),
        "audiences": (f"http://127.0.0.1:{port}{paths.ADMIN_API}",),
        "jwks": key.jwks,
    }


def on_clock(clock: FrozenClock) -> Callable[[Settings], Gateway]:
    def build(settings: Settings) -> Gateway:
        return build_gateway(settings, open_store(settings.server.store, clock), clock=clock)

    return build


@pytest.fixture
def world(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")  # before the first pass: it is audited
    clock = FrozenClock(float(int(time.time())))
    key = AgentKey()
    junk = FakeUpstream(answers="not-json")
    with Served(lifespan="off").start(FakeUpstream()) as good, Served(lifespan="off").start(junk) as bad:
        urls = {"good": f"{good.url}/mcp", "junk": f"{bad.url}/mcp", "down": closed_port_url()}

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=f"sqlite:///{tmp_path / 'gw.sqlite3'}",
                clients=(operator(key, port),),
                servers=tuple({"id": i, "url": url, "refresh_interval": INTERVAL} for i, url in urls.items()),
            )

        with running_gateway(settings, build=on_clock(clock)) as gateway:
            yield World(gateway, clock, key, junk)


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {upstream["id"]: upstream for upstream in report["upstreams"]}


def discovered_all(report: dict[str, Any]) -> bool:
    """Every upstream discovered once, well or not (``pending`` until its first attempt ends)."""
    return len(report["upstreams"]) == 3 and all(u["status"] != "pending" for u in report["upstreams"])


async def test_ad3_the_report_names_a_broken_upstream_beside_a_healthy_one_and_the_refresher_lives_on(
    world: World, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    started = timestamp(world.clock.now())
    report = await world.report(http, discovered_all)
    upstreams = by_id(report)
    assert upstreams["good"] == {
        "id": "good",
        "status": "healthy",
        "healthy": True,
        "reason": None,
        "tools": 1,
        "skipped": 0,
        "last_success_at": started,
        "last_attempt_at": started,
        "consecutive_failures": 0,
    }
    for broken in ("junk", "down"):
        assert upstreams[broken]["status"] == "unhealthy" and upstreams[broken]["healthy"] is False
        assert upstreams[broken]["reason"], upstreams[broken]
        assert upstreams[broken]["last_success_at"] is None
        assert upstreams[broken]["consecutive_failures"] == 1
    assert report["status"] == "degraded"
    refresher = report["background"]["catalogue_refresher"]
    assert refresher["running"] is True and refresher["restarts"] == 0 and refresher["last_crash"] is None
    assert report["replica"]["id"] and "replica" in report["replica"]["note"]

    world.junk.answers = "ok"  # junk mends; down stays down
    world.clock.advance(INTERVAL)
    later = timestamp(world.clock.now())

    def second_pass_done(report: dict[str, Any]) -> bool:
        upstreams = by_id(report)
        done = upstreams["good"]["last_success_at"] == later and upstreams["junk"]["healthy"]
        return done and upstreams["down"]["consecutive_failures"] == 2

    report = await world.report(http, second_pass_done)
    upstreams = by_id(report)
    assert upstreams["junk"]["last_success_at"] == later and upstreams["junk"]["consecutive_failures"] == 0
    assert upstreams["down"]["last_attempt_at"] == later and upstreams["down"]["last_success_at"] is None
    assert upstreams["good"]["last_success_at"] == later
    assert report["background"]["catalogue_refresher"]["passes"] >= 2

    records = caplog.get_records("setup") + caplog.get_records("call")  # the first pass ran in either
    audited = [json.loads(r.getMessage()) for r in records if r.name == "mcp_gateway.audit"]
    discovery = [(a["server"], a["outcome"]) for a in audited if a["event"] == "upstream_discovery"]
    assert discovery.count(("down", "failed")) == 1, "audited when it failed, not at every attempt"
    assert ("junk", "failed") in discovery and ("junk", "recovered") in discovery
    assert all(a["server"] != "good" for a in audited if a["event"] == "upstream_discovery")


async def test_ad3_healthz_says_ok_and_nothing_about_upstreams_or_configuration(
    world: World, http: httpx2.AsyncClient
) -> None:
    await world.report(http, discovered_all)  # two upstreams are broken by now
    probe = await http.get(world.gateway.endpoint(paths.HEALTHZ))
    assert probe.status_code == 200
    assert probe.json() == {"status": "ok"}
    assert probe.headers["cache-control"] == "no-store"


# -- a store that does not answer ------------------------------------------------------------------
@pytest.fixture
def own_redis() -> Iterator[redis_servers.RedisServer]:
    """A Redis of this test's own, because the test freezes and stops it."""
    with redis_servers.redis_server() as server:
        yield server


@pytest.mark.redis
async def test_ad3_healthz_answers_503_within_the_store_deadline_and_the_admin_api_fails_closed(
    own_redis: redis_servers.RedisServer,
) -> None:
    key = AgentKey()

    def settings(port: int) -> Settings:
        return settings_from(
            port=port,
            store=own_redis.url,
            key_encryption_key=SHARED_STORE_KEK,
            clients=(operator(key, port),),
        )

    with running_gateway(settings) as gateway:
        # a client that gives up after 5 s: a probe that hung on the frozen store would fail here
        async with http_client() as http, httpx2.AsyncClient(timeout=5) as impatient:
            token = await agent_token(
                http, gateway, key, OPERATOR, resource=gateway.endpoint(paths.ADMIN_API)
            )
            headers = {"Authorization": f"Bearer {token}"}
            assert (await impatient.get(gateway.endpoint(paths.HEALTHZ))).json() == {"status": "ok"}
            own_redis.pause()
            try:
                frozen = await impatient.get(gateway.endpoint(paths.HEALTHZ))
                admin = await impatient.get(gateway.endpoint(paths.ADMIN_HEALTH), headers=headers)
            finally:
                own_redis.resume()
            assert (frozen.status_code, frozen.json()) == (503, {"status": "unavailable"})
            assert problem_of(admin, 503)["error"] == "temporarily_unavailable"
            own_redis.stop()
            stopped = await impatient.get(gateway.endpoint(paths.HEALTHZ))
            assert (stopped.status_code, stopped.json()) == (503, {"status": "unavailable"})
            own_redis.start()
            deadline = time.monotonic() + 10
            while (await impatient.get(gateway.endpoint(paths.HEALTHZ))).status_code != 200:
                assert time.monotonic() < deadline, "the probe did not recover with the store"
                await anyio.sleep(0.1)


# -- the parts on their own ------------------------------------------------------------------------
def test_ad3_a_server_not_yet_discovered_is_pending_and_the_report_is_degraded_until_all_are_healthy() -> (
    None
):
    passes = RefreshPasses(completed=1, last_pass_at=100.0, servers=("a", "b"), servers_listed_at=100.0)
    task = TaskState("catalogue_refresher", running=True, started_at=50.0)
    healthy = {"a": ServerHealth("a", True, None, 3, ("a: tools[3]: no name",), 100.0)}
    report = health_report(
        replica=Replica(started_at=50.0, id="r1"),
        store_ok=True,
        store_backend="sqlite",
        refresher=task,
        passes=passes,
        servers=healthy,
        attempts={"a": Attempts(100.0, 100.0, 0)},
    )
    assert report["status"] == "degraded"
    assert by_id(report)["a"]["skipped"] == 1 and by_id(report)["a"]["tools"] == 3
    assert by_id(report)["b"]["status"] == "pending" and by_id(report)["b"]["last_attempt_at"] is None
    alone = health_report(
        replica=Replica(started_at=50.0, id="r1"),
        store_ok=True,
        store_backend="sqlite",
        refresher=task,
        passes=RefreshPasses(servers=("a",)),
        servers=healthy,
        attempts={},
    )
    assert alone["status"] == "ok"
    assert alone["replica"] == {
        "id": "r1",
        "started_at": "1970-01-01T00:00:50Z",
        "note": alone["replica"]["note"],
    }


async def test_up1_a_supervised_task_that_stops_is_logged_audited_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_gateway.audit")
    clock = FrozenClock(1_700_000_000.0)
    runs: list[int] = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("secret detail")
        if len(runs) == 2:
            return  # work that should run forever ended
        await anyio.sleep_forever()

    supervisor = Supervisor("worker", work, clock=clock, audit=AuditLog(), backoff=0.001)
    async with anyio.create_task_group() as group:
        group.start_soon(supervisor.run)
        with anyio.fail_after(10):
            while len(runs) < 3:
                await anyio.sleep(0.001)
        assert supervisor.state.running is True
        group.cancel_scope.cancel()
    state = supervisor.state
    assert (state.restarts, state.last_crash, state.last_crash_at) == (2, "ended", 1_700_000_000.0)
    assert state.running is False
    audited = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mcp_gateway.audit"]
    assert [a["reason"] for a in audited if a["event"] == "background_task"] == ["RuntimeError", "ended"]
    assert "secret detail" not in caplog.text
