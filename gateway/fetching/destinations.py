"""Where an outbound request to a URL someone else chose may go, and how it is pinned there.

Shared by every outbound path that takes a URL from outside (the document fetcher, the webhook
sender). A :class:`Destination` is a URL that passed the checks that need no network: ``https``
only (plain ``http`` only for an allow-listed host, when allowed), no userinfo, no fragment.
:meth:`Destinations.vetted_addresses` resolves its host exactly once and refuses it when any
address is not public (see :mod:`gateway.fetching.addresses`) unless the host is allow-listed.
:meth:`Destination.pinned_to` then names one of those addresses in the request URL while the
original ``Host`` header and the original hostname for TLS (the ``sni_hostname`` request extension
of httpx2/httpcore: SNI and certificate verification) are kept, so a DNS answer that changes
between the check and the connect cannot move the connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2

from gateway.fetching.addresses import (
    Resolver,
    SystemResolver,
    non_public_reason,
    normalise_host,
    parse_allow_entry,
    parse_ip,
)


class DestinationRefused(Exception):
    """Why a URL may not be requested, in one line that quotes nothing the remote side sent."""


class Unresolvable(DestinationRefused):
    """The URL's host resolves to no address now: there is nothing to reach (a refusal for a
    request; a registration checked ahead of any request may let it through)."""


@dataclass(frozen=True)
class PinnedRequest:
    """What to hand httpx2 for one request to a vetted address: its URL, headers and extensions."""

    url: httpx2.URL
    headers: dict[str, str]
    extensions: dict[str, Any]


@dataclass(frozen=True)
class Destination:
    """A URL that passed the checks needing no network; ``host`` is IDNA-encoded, IPv6 unbracketed."""

    url: httpx2.URL
    host: str
    port: int
    allowed: bool
    """The host (or host and port) is on the allow-list: private addresses and plain http pass."""

    @property
    def by_name(self) -> bool:
        return parse_ip(self.host) is None

    def pinned_to(self, address: str) -> PinnedRequest:
        """The request to ``address`` (one of :meth:`Destinations.vetted_addresses`), for this URL."""
        if not self.by_name:
            return PinnedRequest(self.url, {}, {})
        return PinnedRequest(
            self.url.copy_with(host=address),
            {"Host": self.url.netloc.decode("ascii")},
            {"sni_hostname": self.host},
        )


class Destinations:
    """The allow-list and the resolver one outbound path uses to check and resolve its URLs.

    ``allowed_private_hosts`` entries are ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``, matched
    against the URL's host, never against what it resolves to; a malformed entry is a
    :class:`ValueError` here, at construction.
    """

    def __init__(
        self,
        allowed_private_hosts: Iterable[str] = (),
        *,
        allow_http_for_allowed_hosts: bool = True,
        resolver: Resolver | None = None,
    ) -> None:
        self._allowed = frozenset(parse_allow_entry(entry) for entry in allowed_private_hosts)
        self._allow_http = allow_http_for_allowed_hosts
        self._resolver: Resolver = resolver if resolver is not None else SystemResolver()

    def _is_allowed(self, host: str, port: int) -> bool:
        return (host, None) in self._allowed or (host, port) in self._allowed

    def check(self, url: str) -> Destination:
        """``url`` as a :class:`Destination`, or :class:`DestinationRefused`; nothing is resolved."""
        if "#" in url:
            raise DestinationRefused("the URL must not have a fragment")
        try:
            parsed = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError, ValueError):
            raise DestinationRefused("the URL is not a valid URL") from None
        if parsed.scheme not in ("https", "http"):
            raise DestinationRefused("the URL must use https")
        if parsed.userinfo:
            raise DestinationRefused("the URL must not carry userinfo")
        host = normalise_host(parsed.raw_host.decode("ascii"))
        if not host:
            raise DestinationRefused("the URL has no host")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        allowed = self._is_allowed(host, port)
        if parsed.scheme == "http" and not (allowed and self._allow_http):
            raise DestinationRefused("the URL must use https")
        return Destination(parsed, host, port, allowed)

    async def vetted_addresses(self, destination: Destination) -> list[str]:
        """The addresses to connect to: resolved once, each one vetted unless the host is allowed."""
        host, port = destination.host, destination.port
        literal = parse_ip(host)
        if literal is not None:
            candidates = [str(literal)]
        else:
            try:
                candidates = list(await self._resolver.resolve(host, port))
            except (OSError, UnicodeError):
                raise Unresolvable(f"could not resolve {host}") from None
        if not candidates:
            raise Unresolvable(f"{host} resolves to no address")
        addresses: list[str] = []
        for candidate in candidates:
            address = parse_ip(candidate.split("%", 1)[0])
            if address is None:
                raise DestinationRefused(f"{host} resolves to something that is not an IP address")
            reason = None if destination.allowed else non_public_reason(address)
            if reason is not None:
                raise DestinationRefused(f"{host} resolves to {address} ({reason}), which is not allowed")
            addresses.append(candidate)
        return addresses


def pinned_client(ssl_context: ssl.SSLContext, timeout: float) -> httpx2.AsyncClient:
    """The client one outbound request to a vetted address is made with: a fresh one each time, so
    a connection verified for one hostname is never reused for another on the same address; no
    proxy or environment variable (``trust_env``), no redirect, one connection, one deadline."""
    return httpx2.AsyncClient(
        verify=ssl_context,
        trust_env=False,
        follow_redirects=False,
        timeout=timeout,
        limits=httpx2.Limits(max_connections=1, max_keepalive_connections=0),
    )
