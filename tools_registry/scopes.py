"""The scope hierarchy: which granted scopes cover which required scopes.

Scopes are colon-separated paths. A granted scope covers a required scope when the two are equal,
or when the required scope starts with the granted scope followed by ``:``::

    weather               covers  weather:get_forecast, weather:read, weather:read:hourly
    weather:read          covers  weather:read:hourly          (not weather, not weather:write)
    weather               does not cover  weatherman:x         (the boundary is the colon)

Comparison is exact and case-sensitive; there are no wildcards, and a narrower scope never covers
a broader one. A tool needs *every* scope in its list (they are ANDed). Unless its server says
otherwise, a tool ``t`` of server ``s`` needs the one scope ``s:t``, so the scope ``s`` covers
every tool of that server.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def is_scope_token(value: object) -> bool:
    """RFC 6749 §3.3: ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`` (printable ASCII without
    space, ``"`` and ``\\``). The one check every scope taken from outside goes through.

    >>> is_scope_token("weather:read"), is_scope_token('a"b'), is_scope_token("")
    (True, False, False)
    """
    return isinstance(value, str) and _SCOPE_TOKEN.fullmatch(value) is not None


def ancestors(scope: str) -> tuple[str, ...]:
    """``scope`` and every granted scope that would cover it, narrowest first.

    >>> ancestors("weather:read:hourly")
    ('weather:read:hourly', 'weather:read', 'weather')
    """
    found = [scope]
    end = scope.rfind(":")
    while end > 0:
        found.append(scope[:end])
        end = scope.rfind(":", 0, end)
    return tuple(found)


def covers(granted: Collection[str], required: str) -> bool:
    """True when one of the ``granted`` scopes is ``required`` or one of its ancestors."""
    return any(candidate in granted for candidate in ancestors(required))


def missing(granted: Collection[str], required_scopes: Iterable[str]) -> tuple[str, ...]:
    """The required scopes that no granted scope covers, in order, each once."""
    return tuple(dict.fromkeys(r for r in required_scopes if not covers(granted, r)))


__all__ = ["ancestors", "covers", "is_scope_token", "missing"]
