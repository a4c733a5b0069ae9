"""The request bodies of ``/admin/api/v1/servers`` (AD-9): each member checked for its JSON type
(:mod:`gateway.admin.json_bodies`); what a value may say beyond its type (a URL, a scope, an id)
is the registration service's to check, so it is checked the same way for the CLI and the console.

    >>> checked({"id": "notes", "timeout": 5}, REGISTER)
    {'id': 'notes', 'timeout': 5}
    >>> checked({"id": "notes", "operations": "a"}, REGISTER)
    Traceback (most recent call last):
    ...
    gateway.errors.InvalidRequest: operations must be a list of strings
"""

from __future__ import annotations

from typing import Any

from gateway.admin.json_bodies import Member, checked, text
from gateway.errors import InvalidRequest


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false")
    return value


def number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{name} must be a number of seconds")
    return float(value)


def string_list(value: Any, name: str) -> list[str]:
    """A list of strings, possibly empty (an empty list of names is "none", never "all")."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{name} must be a list of strings")
    return value


def optional_list(value: Any, name: str) -> list[str] | None:
    return None if value is None else string_list(value, name)


def string_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest(f"{name} must be an object of strings, by tool name")
    return value


def list_map(value: Any, name: str) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
    ):
        raise InvalidRequest(f"{name} must be an object of lists of scopes, by tool name")
    return value


CHANGE = {
    "url": Member(text),
    "openapi": Member(text),
    "base_url": Member(text),
    "operations": Member(string_list),
    "audience": Member(text),
    "foreign_audience": Member(boolean),
    "tool_scopes": Member(list_map),
    "default_scopes": Member(optional_list),
    "descriptions": Member(string_map),
    "timeout": Member(number),
    "refresh_interval": Member(number),
    "input_requests": Member(string_list),
    "call_approval": Member(string_list),
    "audit_arguments": Member(string_list),
    "audit_redact": Member(string_list),
    "pinning": Member(text),
}
"""``PATCH /servers/{id}``: the members given replace the stored ones."""
REGISTER = {"id": Member(text, required=True), **CHANGE}
"""``POST /servers``: ``id``, and ``url`` (an MCP server) or ``openapi`` and ``base_url``."""
OWNER = {"person": Member(text, required=True)}

__all__ = ["CHANGE", "OWNER", "REGISTER", "checked"]
