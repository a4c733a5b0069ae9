"""Private Redis deployments for tests: standalone, 3-master Cluster, and master + Sentinel.

Each starts ``redis-server`` processes on free ports in a temporary directory (no persistence)
and waits until they answer, so no test depends on a server someone started by hand. A
:class:`RedisServer` can be stopped and started again on the same port, or paused (SIGSTOP),
which is how the fail-closed tests take Redis away and bring it back.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.ports import free_port

STARTUP_TIMEOUT = 10.0
CLUSTER_SLOTS = 16384


def require_redis_server() -> None:
    """Skip the calling test or fixture when there is no ``redis-server`` to start."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (install Redis >= 6.2 to run the Redis tests)")


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


class _PortTaken(RuntimeError):
    """Someone else bound the free port between our probe and redis-server's bind."""


class RedisServer:
    """One ``redis-server`` process; after the first start, always on the same port(s)."""

    def __init__(self, workdir: Path, *args: str, cluster: bool = False) -> None:
        self.workdir = workdir
        self.args = args
        self.cluster = cluster
        self.port = 0
        self.bus_port = 0  # cluster bus; set explicitly since port + 10000 may be taken or > 65535
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        # No retries: redis-py's default ones would outlast the startup timeout on a dead port.
        return redis.Redis(
            port=self.port, socket_timeout=1, retry=Retry(NoBackoff(), 0), decode_responses=True
        )

    def ping(self) -> bool:
        with self.client() as client:
            return bool(client.ping())

    def start(self) -> None:
        assert self.process is None, "already running"
        if self.port:
            return self._start()  # a restart: same port, or fail
        for _ in range(5):
            self.port = free_port()
            self.bus_port = free_port() if self.cluster else 0
            with contextlib.suppress(_PortTaken):
                return self._start()
        raise RuntimeError("could not find a free port for redis-server")

    def _start(self) -> None:
        command = ["redis-server", *self.args, "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", str(self.workdir), "--save", "", "--appendonly", "no"]  # fmt: skip
        if self.cluster:
            command += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-port", str(self.bus_port), "--cluster-node-timeout", "500"]  # fmt: skip
        with open(self.workdir / "redis.log", "ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until(self._answers, f"redis-server on port {self.port}")
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            self.process = None
            with open(self.workdir / "redis.log", "rb") as file:
                file.seek(self._log_start)
                log = file.read().decode(errors="replace")
            if "Address already in use" in log:
                raise _PortTaken(log)
            raise RuntimeError(f"redis-server on port {self.port} exited:\n{log[-2000:]}")
        return self.ping()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Freeze the process: the port still accepts connections, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A standalone server for the block (skips the test when there is no ``redis-server``)."""
    require_redis_server()
    with tempfile.TemporaryDirectory(prefix="redis-") as tmp, RedisServer(Path(tmp)) as server:
        yield server


class RedisClusterServers:
    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def slots_of(self, index: int) -> range:
        """The hash slots the ``index``-th master serves (split evenly, in order)."""
        size = len(self.nodes)
        return range(index * CLUSTER_SLOTS // size, (index + 1) * CLUSTER_SLOTS // size)

    def healthy(self) -> bool:
        for node in self.nodes:
            with node.client() as client:
                info = client.execute_command("CLUSTER INFO")  # parsed into a dict
                if info.get("cluster_state") != "ok":
                    return False
        return True


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[RedisClusterServers]:
    """``masters`` cluster-enabled servers sharing the 16384 slots evenly, no replicas.

    Set up with CLUSTER ADDSLOTSRANGE / MEET directly (what ``redis-cli --cluster create`` does,
    minus its fixed sleeps). A fresh master still waits 2 s before declaring the cluster ok.
    """
    require_redis_server()
    with tempfile.TemporaryDirectory(prefix="redis-cluster-") as tmp, contextlib.ExitStack() as stack:
        nodes = [
            stack.enter_context(RedisServer(Path(tmp) / f"node{i}", cluster=True)) for i in range(masters)
        ]
        cluster = RedisClusterServers(nodes)
        for i, node in enumerate(nodes):
            slots = cluster.slots_of(i)
            with node.client() as client:
                client.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
                client.execute_command("CLUSTER ADDSLOTSRANGE", slots.start, slots.stop - 1)
                if i:
                    client.execute_command("CLUSTER MEET", "127.0.0.1", nodes[0].port, nodes[0].bus_port)
        _wait_until(cluster.healthy, "cluster_state:ok on every node")
        yield cluster


class RedisSentinelServers:
    SERVICE = "mymaster"

    def __init__(self, master: RedisServer, sentinel: RedisServer) -> None:
        self.master = master
        self.sentinel = sentinel

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{self.SERVICE}"

    def knows_master(self) -> bool:
        with self.sentinel.client() as client:
            address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE)
            return list(address or []) == ["127.0.0.1", str(self.master.port)]


@contextlib.contextmanager
def redis_sentinel() -> Iterator[RedisSentinelServers]:
    """One master and one Sentinel (quorum 1) monitoring it."""
    require_redis_server()
    service = RedisSentinelServers.SERVICE
    with tempfile.TemporaryDirectory(prefix="redis-sentinel-") as tmp, contextlib.ExitStack() as stack:
        master = stack.enter_context(RedisServer(Path(tmp) / "master"))
        sentinel_dir = Path(tmp) / "sentinel"
        sentinel_dir.mkdir()
        config = sentinel_dir / "sentinel.conf"  # Sentinel rewrites it: must be writable
        config.write_text(
            f"sentinel monitor {service} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {service} 1000\n"
        )
        sentinel = stack.enter_context(RedisServer(sentinel_dir, str(config), "--sentinel"))
        servers = RedisSentinelServers(master, sentinel)
        _wait_until(servers.knows_master, "Sentinel to report the master")
        yield servers
