"""URLs, hosts and origins, judged one way for everyone who takes a URL from outside: the gateway's
own settings, client registrations and metadata documents, audiences and resource indicators,
upstream servers, fetches. It lives here, at the bottom of the import graph, because both the
gateway and this registry need it and the registry never imports the gateway.

    >>> canonical_url("HTTPS://Weather.Example:443/")
    'https://weather.example'
    >>> web_url("http://evil.example/x", "url").geturl()
    Traceback (most recent call last):
    ...
    tools_registry.urls.UrlError: url must use https unless the host is loopback, got 'http://evil.example/x'
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Host names (as ``urlsplit`` gives them: lowercase, IPv6 unbracketed) that mean this machine."""
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048


_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def valid_host(host: str) -> bool:
    """A host as the gateway accepts it anywhere: a DNS name (letters, digits and hyphens per label;
    internationalised names as punycode), an IPv4 address or an IPv6 address (unbracketed, as
    ``urlsplit`` gives it). Stricter than RFC 3986's reg-name on purpose: no space, ``;``, ``,``,
    quote or ``<`` can travel from a URL someone registered into a header the gateway writes.

    >>> valid_host("weather.example"), valid_host("::1"), valid_host("a.example;frame-ancestors *")
    (True, True, False)
    """
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host.lower().removesuffix(".")
    return 0 < len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))


class UrlError(ValueError):
    """A URL that cannot be accepted; the message names the field and says why."""


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (bracketed or not, any case) names the loopback interface."""
    return host is not None and host.lower().strip("[]") in LOOPBACK_HOSTS


def split_url(value: object, name: str) -> SplitResult:
    """``value`` parsed, with a port that is a number; :class:`UrlError` otherwise."""
    if not isinstance(value, str):
        raise UrlError(f"{name} must be a string, got {value!r}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UrlError(f"{name} is not a valid URL: {value!r}") from None
    return parts


def web_url(
    value: object,
    name: str,
    *,
    https_off_loopback: bool = True,
    query: bool = True,
    max_length: int = MAX_URL_LENGTH,
) -> SplitResult:
    """An absolute ``http(s)`` URL with a host, without userinfo or fragment, printable, at most
    ``max_length`` characters; plain ``http`` only for a loopback host unless
    ``https_off_loopback`` is off (an audience is a name, not a place we connect to); a query only
    when ``query`` allows it."""
    parts = split_url(value, name)
    text = str(value)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UrlError(f"{name} must be an absolute http(s) URL such as https://host/path, got {text!r}")
    if not valid_host(parts.hostname):
        raise UrlError(f"{name} must name a DNS host or an IP address, got {text!r}")
    if len(text) > max_length or not text.isprintable() or any(c.isspace() for c in text):
        raise UrlError(f"{name} must be a URL of at most {max_length} printable characters without spaces")
    if "#" in text:
        raise UrlError(f"{name} must not have a fragment, got {text!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlError(f"{name} must not carry userinfo (user:password@)")
    if not query and parts.query:
        raise UrlError(f"{name} must have no query, got {text!r}")
    if https_off_loopback and scheme == "http" and not is_loopback(parts.hostname):
        raise UrlError(f"{name} must use https unless the host is loopback, got {text!r}")
    return parts


def canonical_url(value: str) -> str:
    """The form audiences and resource indicators are compared in (RFC 8707 §2, RFC 3986 §6.2.2):
    lowercase scheme and host, no default port, no lone ``/`` path, no fragment."""
    parts = urlsplit(value)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, "" if parts.path == "/" else parts.path, parts.query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercase (RFC 6454), built from its parsed parts: no
    userinfo, and nothing of a host that is not a valid one (then only ``scheme://``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not valid_host(host):
        return f"{parts.scheme.lower()}://"
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


__all__ = [
    "DEFAULT_PORTS",
    "LOOPBACK_HOSTS",
    "MAX_URL_LENGTH",
    "UrlError",
    "canonical_url",
    "is_loopback",
    "origin",
    "split_url",
    "valid_host",
    "web_url",
]
