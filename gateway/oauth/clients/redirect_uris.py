"""Redirect URIs (CO-4): exact matching, ``http`` only for loopback, no fragments.

The one relaxation is RFC 8252 §7.3: for a loopback redirect URI the port may differ from the
registered one, because native apps listen on whatever port the OS gives them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tools_registry.urls import is_loopback, valid_host


class RedirectError(ValueError):
    """A redirect URI that may not be registered or used."""


def check_redirect_uri(uri: str) -> None:
    """Raise :class:`RedirectError` for a URI that may not be registered."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise RedirectError(f"redirect URI {uri!r} is not a valid URI") from None
    scheme = parts.scheme.lower()
    if "#" in uri:
        raise RedirectError(f"redirect URI {uri!r} must not contain a fragment")
    if parts.username is not None or parts.password is not None:
        raise RedirectError(f"redirect URI {uri!r} must not contain userinfo")
    if scheme in ("http", "https") and not valid_host(parts.hostname or ""):
        raise RedirectError(f"redirect URI {uri!r} must name a DNS host or an IP address")
    if scheme == "https":
        return
    if scheme == "http" and is_loopback(parts.hostname):
        return
    if scheme in ("http", "https"):
        raise RedirectError(f"redirect URI {uri!r} must use https unless it is a loopback address")
    if scheme in ("javascript", "data", "file", "vbscript", "about", "blob") or not scheme:
        raise RedirectError(f"redirect URI {uri!r} uses a forbidden scheme")
    if "." not in scheme or not parts.path:
        raise RedirectError(f"redirect URI {uri!r}: private-use schemes must be reverse-domain (RFC 8252)")


def redirect_matches(registered: str, presented: str) -> bool:
    """Exact string match, except the port of a loopback ``http`` URI (RFC 8252 §7.3)."""
    if registered == presented:
        return True
    a, b = urlsplit(registered), urlsplit(presented)
    try:
        b.port  # noqa: B018 - a presented URI with a malformed port never matches
    except ValueError:
        return False
    if a.scheme != "http" or not is_loopback(a.hostname) or a.hostname != b.hostname:
        return False
    return (
        b.scheme == "http"
        and a.path == b.path
        and a.query == b.query
        and a.username is None
        and b.username is None
        and b.password is None
        and not b.fragment
        and "#" not in presented
        and _netloc_without_port(a.netloc) == _netloc_without_port(b.netloc)
    )


def _netloc_without_port(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc.split("]")[0] + "]"
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
