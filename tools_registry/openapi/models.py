"""What an imported REST API is made of: its tools, the operations it skipped, and one call.

These are plain frozen values: :mod:`.mapping` builds them from a document, :mod:`.calls` turns a
:class:`RestTool` and an agent's arguments into a :class:`RestRequest`, and the gateway (later)
sends that request and reads the answer with :mod:`.results`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Location = Literal["path", "query", "header"]
QueryStyle = Literal["form", "spaceDelimited", "pipeDelimited"]


class ToolArgumentsError(ValueError):
    """The agent's arguments cannot make a request: a required one is missing, one is unknown, or
    a value cannot be sent where it goes. The message is meant for the agent (a tool error)."""


@dataclass(frozen=True)
class RestParameter:
    """One path, query or header parameter; its argument has the same name."""

    name: str
    location: Location
    required: bool
    style: QueryStyle = "form"
    """How a query array is sent (OpenAPI 3.1 §4.8.12.4): ``form``, or joined by space or pipe."""
    explode: bool = True
    """For a ``form`` query array: ``ids=1&ids=2`` (true, the default) or ``ids=1,2``."""


@dataclass(frozen=True)
class RestTool:
    """An operation as an MCP tool, and what calling it takes.

    ``definition`` is the MCP ``Tool`` object (``name``, ``title``, ``description``,
    ``inputSchema``, ``outputSchema``, ``annotations``); treat it as read-only, its schemas may
    share values with the document.
    """

    name: str
    method: str
    """Upper case: ``GET``, ``POST`` …"""
    path: str
    """The path template, ``/pets/{petId}``, appended to the caller's base URL."""
    parameters: tuple[RestParameter, ...]
    scopes: tuple[str, ...]
    """The OAuth scopes the document requires (or the caller's override); empty when it names
    none, and the caller decides what such a tool needs."""
    operation_id: str | None = None
    body: str | None = None
    """The argument holding the JSON request body (``"body"``); None: the operation takes none."""
    body_required: bool = False
    definition: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    document_scopes: tuple[str, ...] = ()
    """The scopes the document itself requires, whatever the caller's override: the upstream's
    words about what a call needs, which the gateway pins with the definition (OA-7)."""


@dataclass(frozen=True)
class Skipped:
    """An operation that did not become a tool, and why."""

    operation: str
    """``GET /pets/{petId}``, with its ``operationId`` in parentheses when it has one."""
    reason: str


@dataclass(frozen=True)
class ImportedApi:
    """Every operation of a document (or of the chosen subset) is in exactly one of the two."""

    tools: tuple[RestTool, ...]
    skipped: tuple[Skipped, ...]

    def tool(self, name: str) -> RestTool:
        """The tool named ``name``; ``KeyError`` when there is none."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)


@dataclass(frozen=True)
class RestRequest:
    """One HTTP request to send; the caller adds ``Authorization`` and ``Host`` (OA-2)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None


__all__ = [
    "ImportedApi",
    "Location",
    "QueryStyle",
    "RestParameter",
    "RestRequest",
    "RestTool",
    "Skipped",
    "ToolArgumentsError",
]
