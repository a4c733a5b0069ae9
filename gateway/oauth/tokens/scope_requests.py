"""Resource indicators (RFC 8707) and scopes: canonical forms and the narrowing rule."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from gateway.errors import InvalidScope, InvalidTarget

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_resource(value: str) -> str:
    """Lowercase scheme and host, no default port, no trailing slash on an empty path.

    >>> canonical_resource("HTTPS://Gateway.Example:443/mcp")
    'https://gateway.example/mcp'

    A fragment, a relative URI or userinfo is not a resource indicator: ``invalid_target``.
    """
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidTarget("resource is not a valid absolute URI") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTarget("resource must be an absolute http(s) URI")
    if "#" in value:
        raise InvalidTarget("resource must not contain a fragment")
    if parts.username is not None or parts.password is not None:
        raise InvalidTarget("resource must not contain userinfo")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Space-delimited scope tokens (RFC 6749 §3.3), order kept, duplicates dropped."""
    if value is None:
        return ()
    tokens = value.split(" ")
    if any(not token or not token.isprintable() or '"' in token or "\\" in token for token in tokens):
        raise InvalidScope("scope must be space-separated printable tokens")
    return tuple(dict.fromkeys(tokens))


def narrow_scopes(requested: tuple[str, ...], allowed: Iterable[str]) -> tuple[str, ...]:
    """What may be granted: the requested scopes the client holds, or all it holds when none were
    requested. Nothing left is ``invalid_scope``: a token with no scope is never issued."""
    allowed_set = tuple(dict.fromkeys(allowed))
    granted = tuple(s for s in requested if s in allowed_set) if requested else allowed_set
    if not granted:
        raise InvalidScope("none of the requested scopes may be granted to this client")
    return granted
