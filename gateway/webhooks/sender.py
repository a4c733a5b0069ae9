"""One POST of one delivery, to an address that was vetted first (WH-2).

A webhook URL is chosen by whoever adds the endpoint, so the sender goes through the same gate as
the document fetcher (:mod:`gateway.fetching.destinations`): ``https`` only (plain ``http`` only
for an allow-listed host), the host resolved once and every address it resolves to vetted (no
loopback, private, link-local … address unless the host is allow-listed), the connection made to
a vetted address with the original ``Host`` header and TLS name. Redirects are never followed (a
3xx is a failed attempt like any status outside 2xx), one deadline bounds the whole attempt, at
most ``max_response_bytes`` of the answer are read and then dropped, and no proxy or certificate
setting of the environment applies (``trust_env`` off).

A fresh client per attempt, as in the fetcher: a pooled connection verified for one hostname is
never reused for another name on the same address. The sender never raises for what the remote
side does: every outcome is an :class:`Outcome` the delivery log records.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
import httpx2

from gateway.fetching.destinations import Destination, DestinationRefused, Destinations, pinned_client


@dataclass(frozen=True)
class SenderPolicy:
    allowed_private_hosts: frozenset[str] = frozenset()
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` entries that may resolve to non-public
    addresses, matched against the URL's host (as ``FetchPolicy.allowed_private_hosts``)."""
    allow_http_for_allowed_hosts: bool = True
    """Plain ``http`` only for hosts on that allow-list (a receiver on loopback); else https."""
    timeout: float = 10.0
    """One deadline for the whole attempt: resolution, connect, TLS, request and answer."""
    max_response_bytes: int = 4096


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the answer's status, or the class of error and a one-line why."""

    status: int | None = None
    error: str | None = None
    detail: str | None = None


REDIRECT_NOT_FOLLOWED = "redirects are not followed"
_USER_AGENT = "mcp-gateway-webhooks"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class WebhookSender:
    """POSTs signed bodies to the URLs that ``destinations`` lets through."""

    def __init__(
        self, destinations: Destinations, policy: SenderPolicy, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._destinations = destinations
        self._policy = policy
        self._ssl_context = ssl_context or httpx2.create_ssl_context(verify=True, trust_env=False)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """Send ``body`` with ``headers`` to ``url``; never raises for the network or the answer."""
        try:
            with anyio.fail_after(self._policy.timeout):
                return await self._post(url, body, headers)
        except TimeoutError:
            return Outcome(error="Timeout", detail=f"no answer within {self._policy.timeout:g} s")

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        try:
            destination = self._destinations.check(url)
            addresses = await self._destinations.vetted_addresses(destination)
        except DestinationRefused as exc:
            return Outcome(error="DestinationRefused", detail=str(exc))
        return await self._post_pinned(destination, addresses, body, headers)

    async def _post_pinned(
        self, destination: Destination, addresses: list[str], body: bytes, headers: Mapping[str, str]
    ) -> Outcome:
        last_error = "no address to connect to"
        async with pinned_client(self._ssl_context, self._policy.timeout) as client:
            for address in addresses:
                pinned = destination.pinned_to(address)
                request_headers = {
                    "Content-Type": "application/json",
                    "User-Agent": _USER_AGENT,
                    "Accept-Encoding": "identity",
                    **headers,
                    **pinned.headers,
                }
                try:
                    async with client.stream(
                        "POST",
                        pinned.url,
                        content=body,
                        headers=request_headers,
                        extensions=pinned.extensions,
                    ) as response:
                        await self._read_a_little(response)
                        status = response.status_code
                        redirect = REDIRECT_NOT_FOLLOWED if 300 <= status < 400 else None
                        return Outcome(status=status, detail=redirect)
                except httpx2.ConnectError as exc:  # nothing was sent: the next address may answer
                    last_error = _one_line(str(exc)) or type(exc).__name__
                    continue
                except httpx2.TimeoutException:
                    raise TimeoutError from None
                except httpx2.HTTPError as exc:
                    return Outcome(error=type(exc).__name__)
        return Outcome(error="ConnectError", detail=f"could not connect to {destination.host}: {last_error}")

    async def _read_a_little(self, response: httpx2.Response) -> None:
        """Read at most ``max_response_bytes`` of the answer, then stop: it is never used."""
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= self._policy.max_response_bytes:
                break
