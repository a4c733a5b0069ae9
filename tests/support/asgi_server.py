"""An ASGI app under uvicorn, in a thread of its own, on a loopback socket bound in advance.

The socket is bound when :class:`Served` is made, so the app's URL can go into the gateway's
``[[servers]]`` before the app exists (the example upstream needs the gateway's issuer, which needs
the gateway's port).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

from tests.support.ports import bound_socket


class Served:
    """An ASGI app under uvicorn in a thread of its own, on a socket bound at construction.

    ``uvicorn_options`` go to ``uvicorn.Config`` (e.g. ``server_header=False`` for a proxy).
    """

    def __init__(self, *, lifespan: Literal["on", "off"] = "on", **uvicorn_options: Any) -> None:
        self._sock: socket.socket | None = bound_socket()
        self.port: int = self._sock.getsockname()[1]
        self._lifespan = lifespan
        self._uvicorn_options = uvicorn_options
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, app: ASGIApp) -> Served:
        assert self._sock is not None and self._server is None
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan=self._lifespan,
            timeout_graceful_shutdown=2,
            **self._uvicorn_options,
        )
        server = self._server = uvicorn.Server(config)
        sock = self._sock
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "the server did not start"
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: the port then refuses connections."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
