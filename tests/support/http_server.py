"""Plain ``http.server`` servers on loopback, in a thread: what the gateway fetches, where browsers land.

The gateway fetches documents (a client's JWKS, a Client ID Metadata Document) and redirects
browsers (to a client's redirect URI); a test that plays the other side needs a server that is
quick to write a handler for and that records what reached it. :class:`LoopbackServer` serves a
handler class, over TLS when given a context, and counts the connections it accepted;
:class:`Documents` is such a handler's table of JSON documents by path.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar

S = TypeVar("S")


class LoopbackServer(ThreadingHTTPServer, Generic[S]):
    """``handler`` on a free loopback port; ``state`` is what the handler reads and records.

    A handler reaches it as ``self.server.state``. Every accepted connection is recorded in
    :attr:`connections`, so a test can prove that nothing connected.
    """

    daemon_threads = True

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], state: S, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.state = state
        self.tls = tls
        self.connections: list[tuple[str, int]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        """``path`` on this server, under the name ``host`` (which a resolver seam maps here)."""
        return f"{scheme}://{host}:{self.port}{path}"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections.append(client_address)
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs in the handler thread, not the accept loop; the wrapped socket replaces
        # (detaches) the plain one, so it is closed here rather than by shutdown_request.
        with self.tls.wrap_socket(request, server_side=True) as tls_request:
            super().finish_request(tls_request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes and clients that hang up early are part of the tests


@contextlib.contextmanager
def serving(server: LoopbackServer[S]) -> Iterator[LoopbackServer[S]]:
    """Serve in a thread for the block; then shut down and close the port."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Documents:
    """What a document server answers: path -> (body, extra headers), and the paths it served."""

    table: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def publish(self, path: str, document: Any, **headers: str) -> None:
        """Serve ``document`` as JSON at ``path``; not cacheable unless ``headers`` say otherwise."""
        self.table[path] = (json.dumps(document).encode(), {"Cache-Control": "no-store", **headers})

    def count(self, path: str) -> int:
        return self.hits.count(path)


class _DocumentHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        documents: Documents = self.server.state  # type: ignore[attr-defined]
        documents.hits.append(self.path)
        found = documents.table.get(self.path)
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, headers = found
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serving_documents(tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer[Documents]]:
    """A server of :class:`Documents` (over TLS when ``tls`` is given), for the block."""
    with serving(LoopbackServer(_DocumentHandler, Documents(), tls)) as server:
        yield server
