"""The gateway under a real uvicorn on a free loopback port, for tests that use real clients.

The server runs in a thread with its own event loop; its store is opened inside that thread
(sqlite3 connections belong to the thread that made them), exactly as ``mcp-gateway serve`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from gateway.app import create_app
from gateway.builders import open_configured_state
from gateway.composition import Gateway, build_gateway
from gateway.settings import Settings
from tests.support.gateway_address import GatewayAddress
from tests.support.ports import bound_socket


@dataclasses.dataclass
class RunningGateway(GatewayAddress):
    gateway: Gateway | None = None


RACE_STORE_DEADLINE_MS = 10_000
"""``store_deadline_ms`` for tests of 200-caller races, which prove atomicity, not failing fast (the
outage tests do): the callers, their client and the gateway share one process, which under coverage
on 2 cores can hold the event loop past the default 0.4 s, and the gateway then rightly fails closed."""


@contextlib.contextmanager
def running_gateway(
    make_settings: Callable[[int], Settings],
    build: Callable[[Settings], Gateway] | None = None,
    wrap: Callable[[Starlette, Gateway], ASGIApp] | None = None,
    **uvicorn_options: Any,
) -> Iterator[RunningGateway]:
    """Start the gateway; ``make_settings`` receives the port the socket was bound to.

    ``wrap`` builds the ASGI app actually served from the gateway's app (e.g. a test resource
    mounted beside it); it must keep running the gateway app's lifespan.
    """
    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = make_settings(port)
    running = RunningGateway(settings)
    started = threading.Event()
    server_box: list[uvicorn.Server] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            gateway = (build or (lambda s: build_gateway(s, open_configured_state(s))))(settings)
            running.gateway = gateway
            app = create_app(gateway)
            config = uvicorn.Config(
                wrap(app, gateway) if wrap else app, log_level="warning", lifespan="on", **uvicorn_options
            )
            server = uvicorn.Server(config)
            server_box.append(server)
            loop = asyncio.new_event_loop()

            async def serve() -> None:
                task = asyncio.ensure_future(server.serve(sockets=[sock]))
                while not server.started and not task.done():
                    await asyncio.sleep(0.01)
                started.set()
                await task

            loop.run_until_complete(serve())
            loop.close()
        except BaseException as exc:  # reported to the test thread
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        raise failure[0]
    try:
        yield running
    finally:
        if server_box:
            server_box[0].should_exit = True
        thread.join(10)
        sock.close()
