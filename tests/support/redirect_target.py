"""Where a browser lands after ``/authorize``: a tiny loopback server playing a client's redirect
URI, which can also serve a page that tries to frame one of the gateway's pages (``/frame``).

Chromium tests point a client's ``redirect_uris`` at it, and read ``page.url`` when it lands.
"""

from __future__ import annotations

import contextlib
import http.server
from collections.abc import Iterator
from html import escape

from tests.support.http_server import LoopbackServer, serving


class Target(http.server.BaseHTTPRequestHandler):
    frame_src = ""
    """What ``/frame`` puts in its ``iframe``."""

    def do_GET(self) -> None:
        if self.path.startswith("/frame"):
            frame = f'<iframe src="{escape(self.frame_src)}"></iframe>'
            body = f'<!doctype html><html lang="en"><title>framer</title>{frame}'
        else:
            body = '<!doctype html><html lang="en"><title>client</title><h1>Back at the client</h1>'
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def redirect_target() -> Iterator[tuple[str, type[Target]]]:
    """The server, running: (its base URL, its handler class, whose ``frame_src`` a test sets)."""
    handler = type("Target", (Target,), {})
    with serving(LoopbackServer(handler, None)) as server:
        yield f"http://127.0.0.1:{server.port}", handler
