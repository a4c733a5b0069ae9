"""Requested scopes: reading the ``scope`` parameter (RFC 6749 §3.3) and the narrowing rule."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import InvalidScope
from tools_registry.scopes import covers, is_scope_token


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Space-delimited scope tokens (RFC 6749 §3.3), order kept, duplicates dropped."""
    if value is None:
        return ()
    tokens = value.split(" ")
    if not all(is_scope_token(token) for token in tokens):
        raise InvalidScope("scope must be space-separated printable tokens")
    return tuple(dict.fromkeys(tokens))


def narrow_scopes(requested: tuple[str, ...], allowed: Iterable[str]) -> tuple[str, ...]:
    """What may be granted: the requested scopes the client holds or that a scope it holds covers
    (``weather`` covers ``weather:get_forecast``, :mod:`tools_registry.scopes`), or all it holds when
    none were requested. Nothing left is ``invalid_scope``: a token with no scope is never issued."""
    allowed_set = tuple(dict.fromkeys(allowed))
    granted = tuple(s for s in requested if covers(allowed_set, s)) if requested else allowed_set
    if not granted:
        raise InvalidScope("none of the requested scopes may be granted to this client")
    return granted
