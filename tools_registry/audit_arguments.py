"""Which tool calls the audit trail records with their argument values: none, unless the server's
registration opts a tool in (AU-4).

By default a ``tool_call`` event carries only the SHA-256 digest of the call's arguments, never
their values. A registration may name tools whose argument values are recorded, and argument
names whose values are replaced by :data:`REDACTED` wherever they occur (at any depth):

    [[servers]]
    id = "crm"
    audit_arguments = ["create_ticket"]      # tools recorded with their argument values; "*": all
    audit_redact = ["password", "ssn"]       # argument names recorded as "[redacted]"

``audit_redact`` applies only to the tools ``audit_arguments`` names: the others record no value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
ARGUMENT_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
"""An argument name to redact: 1-128 printable characters."""


def argument_names(name: str, value: object) -> tuple[str, ...]:
    """``audit_redact`` validated: a list of argument names, each kept once; ``ValueError`` naming
    the setting otherwise."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of argument names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not ARGUMENT_NAME.fullmatch(item):
            raise ValueError(f"{name} has {item!r}: argument names are 1-128 printable characters")
    return tuple(dict.fromkeys(value))


def redacted(value: Any, names: frozenset[str]) -> Any:
    """``value`` with the value of every member named in ``names`` replaced by :data:`REDACTED`, at
    any depth (objects within arrays too)."""
    if isinstance(value, Mapping):
        return {key: REDACTED if key in names else redacted(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, names) for item in value]
    return value


__all__ = ["REDACTED", "argument_names", "redacted"]
