"""Which network addresses an outbound fetch may reach, and how host names become addresses.

A fetch of a URL someone else chose (a client's ``jwks_uri``, its metadata document, later a
webhook or an OpenAPI document) must not reach the gateway's own network: every address a host
resolves to is checked by :func:`non_public_reason`, and IPv6 forms that carry an IPv4 address
inside them (IPv4-mapped or -compatible, NAT64, 6to4, Teredo) are judged by that address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_ULA = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE_MIN = 2  # ::/96 minus :: and ::1, which are unspecified / loopback in their own right
_IPV4_COMPATIBLE_END = 1 << 32


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The IP addresses (as strings) that ``host`` resolves to."""
        ...


class SystemResolver:
    """The operating system's resolver, through the event loop's ``getaddrinfo``."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses: list[str] = []
        for family, _type, _proto, _canonname, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                address = str(sockaddr[0])
                if address not in addresses:
                    addresses.append(address)
        return addresses


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address, bool] | None:
    """An IPv4 address carried inside an IPv6 one: (kind, address, traffic goes to it alone)."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped, True
    as_int = int(address)
    if _IPV4_COMPATIBLE_MIN <= as_int < _IPV4_COMPATIBLE_END:
        return "IPv4-compatible", ipaddress.IPv4Address(as_int), True
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(as_int & 0xFFFFFFFF), True
    if address.sixtofour is not None:
        return "6to4", address.sixtofour, False
    if address.teredo is not None:
        return "Teredo", address.teredo[1], False
    return None


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched from (without an allow-list entry), or None if public.

    >>> non_public_reason(ipaddress.ip_address("::ffff:169.254.169.254"))
    'IPv4-mapped 169.254.169.254, link-local'
    >>> non_public_reason(ipaddress.ip_address("93.184.216.34")) is None
    True
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind, inner, only_inner = embedded
            reason = non_public_reason(inner)
            if reason is not None:
                return f"{kind} {inner}, {reason}"
            if only_inner:
                return None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT, 100.64.0.0/10"
    if isinstance(address, ipaddress.IPv6Address) and address in _ULA:
        return "unique local, fc00::/7"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-global"
    return None


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_allow_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``v6``, ``[v6]`` or ``[v6]:port`` → (normalised host, port or None)."""
    entry = entry.strip().lower()
    host, port_text = entry, ""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"not a host or host:port: {entry!r}")
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    if port_text and not port_text.isdigit():
        raise ValueError(f"not a host or host:port: {entry!r}")
    return normalise_host(host), (int(port_text) if port_text else None)


def normalise_host(host: str) -> str:
    ip = parse_ip(host)
    return str(ip) if ip is not None else host.lower().rstrip(".")
