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

from urllib.parse import SplitResult, urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Host names (as ``urlsplit`` gives them: lowercase, IPv6 unbracketed) that mean this machine."""
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048


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
    """``scheme://authority`` of ``url``, lowercase (RFC 6454 compares origins case-insensitively)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


__all__ = [
    "DEFAULT_PORTS",
    "LOOPBACK_HOSTS",
    "MAX_URL_LENGTH",
    "UrlError",
    "canonical_url",
    "is_loopback",
    "origin",
    "split_url",
    "web_url",
]
