"""The request headers an agent may never set, whatever the document declares (OA-2).

The gateway owns the credentials and the framing of every request it sends: ``Authorization``
carries the token it minted, ``Host`` and ``Cookie`` say where and as whom, ``Content-Length`` and
``Content-Type`` describe the body it encodes, and the hop-by-hop headers (RFC 9110 §7.6.1) belong
to each connection. A header parameter with one of these names is never filled from an agent's
arguments. OpenAPI itself says parameters named ``Accept``, ``Content-Type`` or ``Authorization``
"SHALL be ignored" (3.1 §4.8.12.1): those are dropped from the tool; any other owned name makes the
operation unmappable (its API would need a header the gateway will not let an agent choose).
"""

from __future__ import annotations

import re

IGNORED_BY_OPENAPI = frozenset({"accept", "content-type", "authorization"})
OWNED = IGNORED_BY_OPENAPI | frozenset(
    {
        "host",
        "cookie",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
    }
)
"""Lower-case names; header names are case-insensitive (RFC 9110 §5.1)."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def is_owned(name: str) -> bool:
    """Whether ``name`` is a header the gateway sets itself.

    >>> is_owned("Authorization"), is_owned("X-Request-Id")
    (True, False)
    """
    return name.lower() in OWNED


def is_field_name(name: str) -> bool:
    """RFC 9110 §5.1: a field name is a ``token``."""
    return _TOKEN.fullmatch(name) is not None


def is_safe_value(value: str) -> bool:
    """No control character but tab (RFC 9110 §5.5): a CR or LF would start another header."""
    return _UNSAFE_VALUE.search(value) is None


__all__ = ["IGNORED_BY_OPENAPI", "OWNED", "is_field_name", "is_owned", "is_safe_value"]
