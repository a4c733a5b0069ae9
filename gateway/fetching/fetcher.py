"""The one SSRF-safe fetcher of small JSON documents (client ``jwks_uri``, later CIMD; RG-2, CA-6).

Every fetch goes through the same steps, each a refusal point (:class:`FetchError`):

1. the URL: ``https`` only (plain ``http`` only for an allow-listed host, when the policy says so),
   no userinfo, no fragment;
2. the host is resolved exactly once; if *any* address it resolves to is not a public unicast
   address (loopback, private, link-local, CGNAT, ULA, site-local, multicast, unspecified, reserved,
   or an IPv6 address embedding one: IPv4-mapped/-compatible, NAT64, 6to4, Teredo) the fetch is
   refused unless the host is on the allow-list; IP-literal hosts are checked the same way;
3. the connection goes to a resolved address itself (the request URL carries the IP), while the
   original ``Host`` header is sent and TLS uses the original hostname for SNI and certificate
   verification, so a DNS answer that changes between the check and the connect cannot move it
   (steps 1 to 3 are :mod:`gateway.fetching.destinations`, which the webhook sender shares);
4. no redirects (any 3xx is an error), only 200, a JSON media type, no content coding, a body of
   at most ``max_bytes`` (``Content-Length`` checked first, then the stream is cut off as soon as it
   goes past the cap), all within one total deadline;
5. successful documents are cached (LRU, bounded) for ``Cache-Control: max-age`` (minus ``Age``,
   clamped), ``default_cache_seconds`` when there is none, and not at all for ``no-store`` /
   ``no-cache`` / ``max-age=0``; for :meth:`DocumentFetcher.fetch_json`, only a body that decodes
   to a JSON object is a success (one that does not is fetched again next time).

Library choice: ``httpx2`` rather than ``aiohttp``. It is the project's declared HTTP dependency (the
``mcp`` SDK's own client), while ``aiohttp`` is only incidentally installed and not declared. It pins
cleanly without private hooks: the request URL names the vetted IP, the documented ``sni_hostname``
request extension makes httpcore use the original hostname as TLS ``server_hostname`` (SNI and
hostname verification by the ``ssl`` module), and an explicit ``Host`` header keeps virtual hosting
working. A fresh client per fetch (fetches are rare thanks to the cache) means a pooled connection
verified for one hostname can never be reused for another hostname on the same IP; ``trust_env`` is
off so no proxy or ``SSL_CERT_*`` variable can redirect or weaken a fetch.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2

from gateway.clock import Clock, SystemClock
from gateway.fetching.addresses import Resolver
from gateway.fetching.destinations import Destination, DestinationRefused, Destinations, pinned_client

__all__ = ["DocumentFetcher", "FetchError", "FetchPolicy"]

T = TypeVar("T")

MAX_CACHE_ENTRIES = 1024
"""How many documents the cache holds; the least recently used one goes first."""


@dataclass(frozen=True)
class FetchPolicy:
    allowed_private_hosts: frozenset[str] = frozenset()
    """Hostnames or IPs (optionally ``host:port``, ``[v6]:port``) that may resolve to non-public
    addresses. Matched against the URL's host, never against what it resolves to. Empty by default."""
    allow_http_for_allowed_hosts: bool = True
    """Plain ``http`` only for hosts on that allow-list (tests on loopback); everything else https."""
    max_bytes: int = 5 * 1024
    timeout: float = 2.0
    """One deadline for the whole fetch: resolution, connect, TLS, request and body."""
    default_cache_seconds: float = 300.0
    max_cache_seconds: float = 3600.0


class FetchError(Exception):
    """Why a document could not be used, in one line; never carries a response body."""


def _default_ssl_context() -> ssl.SSLContext:
    """The trust store for https fetches (the system's, as httpx2 builds it; environment ignored)."""
    return httpx2.create_ssl_context(verify=True, trust_env=False)


def _cache_seconds(headers: httpx2.Headers, policy: FetchPolicy) -> float:
    directives: dict[str, str | None] = {}
    for value in headers.get_list("cache-control"):
        for part in value.split(","):
            name, sep, arg = part.strip().partition("=")
            if name:
                directives[name.strip().lower()] = arg.strip().strip('"') if sep else None
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    if "max-age" not in directives:
        return policy.default_cache_seconds
    max_age = directives["max-age"] or ""
    if not max_age.isdigit():
        return 0.0  # an invalid max-age means stale (RFC 9111 §4.2.1)
    age = headers.get("age", "0").strip()
    lifetime = int(max_age) - (int(age) if age.isdigit() else 0)
    return max(0.0, min(float(lifetime), policy.max_cache_seconds))


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return True
    top, _, subtype = media_type.partition("/")
    return top == "application" and subtype.endswith("+json") and len(subtype) > len("+json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class DocumentFetcher:
    """Fetches small JSON documents from client-supplied URLs without becoming an SSRF vector.

    ``clock`` dates the cache entries (the system clock by default), so a test moves a
    :class:`~gateway.clock.FrozenClock` past ``max-age`` instead of waiting. The total deadline of
    one fetch is the event loop's own timer, not this clock.
    """

    def __init__(
        self, policy: FetchPolicy, resolver: Resolver | None = None, clock: Clock | None = None
    ) -> None:
        self._policy = policy
        self._clock = clock or SystemClock()
        self._destinations = Destinations(
            policy.allowed_private_hosts,
            allow_http_for_allowed_hosts=policy.allow_http_for_allowed_hosts,
            resolver=resolver,
        )
        self._ssl_context = _default_ssl_context()
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._closed = False

    async def fetch_json(self, url: str) -> dict[str, Any]:
        """The JSON object at ``url``, from the cache when still fresh; :class:`FetchError` otherwise.

        A body that is not a JSON object is never cached: a document that fails to decode is
        fetched again next time (it may be fixed by then), not refused from the cache until it
        expires."""
        return await self._fetched(url, self._decode)

    async def fetch_bytes(self, url: str) -> bytes:
        """The body of the JSON document at ``url`` as it came, by the same steps, not parsed here:
        for a caller with a parser of its own bounds (an OpenAPI document, OA-3)."""
        return await self._fetched(url, bytes)

    async def _fetched(self, url: str, read: Callable[[bytes], T]) -> T:
        """``read`` of the body at ``url``: a cached body when fresh and ``read`` takes it (one
        cached for :meth:`fetch_bytes` may not decode; it is dropped and fetched anew), else a
        fresh one, cached only once ``read`` took it."""
        if self._closed:
            raise FetchError("the fetcher is closed")
        cached = self._cache.pop(url, None)
        if cached is not None and cached[0] > self._clock.now():
            with contextlib.suppress(FetchError):
                value = read(cached[1])
                self._cache[url] = cached  # back, as the most recently used
                return value
        try:
            with anyio.fail_after(self._policy.timeout):
                body, lifetime = await self._fetch(url)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self._policy.timeout:g} s") from None
        value = read(body)
        if lifetime > 0:
            self._cache[url] = (self._clock.now() + lifetime, body)
            while len(self._cache) > MAX_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    async def aclose(self) -> None:
        self._closed = True
        self._cache.clear()

    async def _fetch(self, url: str) -> tuple[bytes, float]:
        try:
            destination = self._destinations.check(url)
            addresses = await self._destinations.vetted_addresses(destination)
        except DestinationRefused as exc:
            raise FetchError(str(exc)) from None
        return await self._fetch_pinned(destination, addresses)

    async def _fetch_pinned(self, destination: Destination, addresses: list[str]) -> tuple[bytes, float]:
        last_error = "no address to connect to"
        async with pinned_client(self._ssl_context, self._policy.timeout) as client:
            for address in addresses:
                pinned = destination.pinned_to(address)
                headers = {"Accept": "application/json", "Accept-Encoding": "identity", **pinned.headers}
                try:
                    async with client.stream(
                        "GET", pinned.url, headers=headers, extensions=pinned.extensions
                    ) as response:
                        return await self._read(response)
                except httpx2.ConnectError as exc:
                    last_error = _one_line(str(exc)) or type(exc).__name__
                    continue
                except httpx2.TimeoutException:
                    raise TimeoutError from None
                except httpx2.HTTPError as exc:
                    raise FetchError(f"the request failed: {type(exc).__name__}") from None
        raise FetchError(f"could not connect to {destination.host}: {last_error}")

    async def _read(self, response: httpx2.Response) -> tuple[bytes, float]:
        status = response.status_code
        if 300 <= status < 400:
            raise FetchError(f"redirects are not followed (HTTP {status})")
        if status != 200:
            raise FetchError(f"HTTP {status}")
        content_type = response.headers.get("content-type", "")
        if not _is_json_media_type(content_type):
            raise FetchError(f"the content type {_one_line(content_type, 80)!r} is not JSON")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError("a content-encoded response is refused")
        limit = self._policy.max_bytes
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"the document is larger than {limit} bytes")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > limit:
                raise FetchError(f"the document is larger than {limit} bytes")
        return bytes(body), _cache_seconds(response.headers, self._policy)

    @staticmethod
    def _decode(body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise FetchError("the document is not valid JSON") from None
        if not isinstance(document, dict):
            raise FetchError("the document is not a JSON object")
        return document
