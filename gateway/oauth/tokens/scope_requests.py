"""Requested scopes: reading the ``scope`` parameter (RFC 6749 §3.3). What may be granted of them is
:mod:`gateway.approvals.entitlements`' question."""

from __future__ import annotations

from gateway.errors import InvalidScope
from tools_registry.scopes import is_scope_token


def parse_scope(value: str | None) -> tuple[str, ...]:
    """Space-delimited scope tokens (RFC 6749 §3.3), order kept, duplicates dropped."""
    if value is None:
        return ()
    tokens = value.split(" ")
    if not all(is_scope_token(token) for token in tokens):
        raise InvalidScope("scope must be space-separated printable tokens")
    return tuple(dict.fromkeys(tokens))
