"""The HTTP clients tests speak to a gateway with, made in one place so they all behave alike.

Redirects are never followed: a redirect is an answer the tests read (its ``Location`` carries the
code, the error, ``iss``). The timeout is generous: the suite shares a small machine, and a test
that waits on the gateway's own timeouts must not be cut short by its client's. A gateway run in
the test's process is reached through an ASGI ``transport`` instead of the network.
"""

from __future__ import annotations

import httpx
import httpx2

TIMEOUT = 30.0


def http_client(
    base_url: str = "", *, transport: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncClient:
    """An async client (use it as ``async with``); relative URLs go to ``base_url``, every request
    to ``transport`` when one is given (an ASGI app in process), else to the network."""
    return httpx2.AsyncClient(base_url=base_url, timeout=TIMEOUT, follow_redirects=False, transport=transport)


def blocking_http_client(base_url: str = "") -> httpx.Client:
    """The same for a synchronous test (use it as ``with``)."""
    return httpx.Client(base_url=base_url, timeout=TIMEOUT, follow_redirects=False)
