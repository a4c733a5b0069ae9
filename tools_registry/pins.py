"""Tool pinning, the pure part (TP-1..TP-3): what a tool's definition is, its hash, and what
discovery does with a definition that is not pinned.

A tool's *definition* is what its upstream says about it, before the gateway changes anything
(its name at the upstream, ``title``, ``description``, ``inputSchema``, ``outputSchema``,
``annotations``, and for a REST tool the scopes its document requires, :data:`DOCUMENT_SCOPES`; an
operator's description override or scopes are not part of it). Its hash is the SHA-256
of its canonical JSON (keys sorted, no whitespace, UTF-8)::

    >>> definition_hash({"name": "echo", "inputSchema": {"type": "object"}})[:12]
    'a85008edb2a3'

A server's ``pinning`` policy says what discovery does with a definition whose hash is not the
one pinned for that tool (:func:`settle`):

* ``review``: it waits for a security admin's approval, a new server's first tools included;
* ``first-use``: the first discovery of a server pins what it finds; later new or changed
  definitions wait;
* ``trusted``: it is pinned at once.

A definition screening flagged (:attr:`tools_registry.tool_entries.CatalogTool.flags`, screened
when the catalogue read it) is never pinned by policy, ``first-use`` and ``trusted`` included: it
waits for a person (TP-7).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

PINNING_POLICIES = ("review", "first-use", "trusted")
DEFAULT_PINNING = "first-use"
"""The operator's registration is the act of trust; the first discovery follows it at once."""
DOCUMENT_SCOPES = "requiredScopes"
"""The member of a REST tool's definition holding the scopes its OpenAPI document requires (OA-7).

They are the upstream's words as much as its description: a re-fetched document that weakens them
(``notes:write`` to ``notes:read``, or no security requirement) changes what a token needs to call
the tool, so they are hashed and pinned with the rest and a change is held like any other. The
operator's ``tool_scopes`` and ``default_scopes`` are not in it (the operator's decision, not the
upstream's). Agents never see it (it is not a member of MCP's ``Tool``); an MCP server's entry
never has it counted, so only a REST tool's document speaks through it."""
DEFINITION_MEMBERS = (
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
    DOCUMENT_SCOPES,
)

Outcome = Literal["pinned", "pin", "wait"]
"""``pinned``: its hash is the approved one; ``pin``: policy approves it now; ``wait``: it waits."""


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_of(raw: Mapping[str, Any], *, document_scopes: bool = False) -> dict[str, Any]:
    """The definition in one ``tools/list`` entry: its members of :data:`DEFINITION_MEMBERS` that
    are present and not null (``inputSchema`` defaults to ``{"type": "object"}``, as it is listed);
    :data:`DOCUMENT_SCOPES` only for a REST tool (``document_scopes``)."""
    members = DEFINITION_MEMBERS if document_scopes else DEFINITION_MEMBERS[:-1]
    found = {member: raw.get(member) for member in members}
    found["inputSchema"] = raw.get("inputSchema", {"type": "object"})
    return {member: value for member, value in found.items() if value is not None}


def definition_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the definition's canonical JSON."""
    return hashlib.sha256(canonical(dict(definition)).encode()).hexdigest()


def settle(
    policy: str, *, first_discovery: bool, pinned_hash: str | None, current_hash: str, flags: tuple[str, ...]
) -> Outcome:
    """What discovery does with one tool's current definition (TP-2, TP-3).

    >>> settle("first-use", first_discovery=True, pinned_hash=None, current_hash="a", flags=())
    'pin'
    >>> settle("first-use", first_discovery=False, pinned_hash="a", current_hash="b", flags=())
    'wait'
    >>> settle("trusted", first_discovery=False, pinned_hash="a", current_hash="b", flags=("x",))
    'wait'
    """
    if pinned_hash == current_hash:
        return "pinned"
    if flags or policy == "review":
        return "wait"
    if policy == "trusted" or (policy == "first-use" and first_discovery):
        return "pin"
    return "wait"


def definition_diff(pinned: Mapping[str, Any] | None, pending: Mapping[str, Any], label: str) -> str:
    """A unified diff of the pinned definition (nothing, for a new tool) against the pending one,
    as laid-out JSON, for the people who review it."""

    def lines(value: Mapping[str, Any] | None) -> list[str]:
        if value is None:
            return []
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False).splitlines()

    diff = difflib.unified_diff(
        lines(pinned), lines(pending), f"{label} (pinned)", f"{label} (pending)", lineterm=""
    )
    return "\n".join(diff)


__all__ = [
    "DEFAULT_PINNING",
    "DOCUMENT_SCOPES",
    "PINNING_POLICIES",
    "definition_diff",
    "definition_hash",
    "definition_of",
    "settle",
]
