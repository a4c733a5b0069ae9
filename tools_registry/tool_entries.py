"""One entry of an upstream's ``tools/list`` answer, read into a :class:`CatalogTool` or skipped.

Tool ``t`` of server ``s`` is exposed as ``s__t`` by default (:func:`tools_registry.tool_names.
exposed_name`: the separator is a setting, and the name is made a valid function name). An entry
that is not a tool (not an object, no string name, a schema that is not an object) or whose name is
not 1-128 characters of ``[A-Za-z0-9_.-]`` (SEP-986) raises :class:`SkippedEntry` with the reason;
the catalogue keeps the rest of that server's tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools_registry.pins import definition_hash, definition_of
from tools_registry.servers import TOOL_NAME, UpstreamServer
from tools_registry.tool_names import DEFAULT_SEPARATOR, exposed_name


@dataclass(frozen=True)
class CatalogTool:
    """One upstream tool as agents see it, and what calling it takes."""

    name: str
    """The exposed name, ``<server><separator><tool>`` made a valid name (``weather__get_forecast``)."""
    server_id: str
    upstream_name: str
    """The tool's own name at its server: what a call forwards, and what its scopes are built on."""
    description: str | None
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    title: str | None
    annotations: Mapping[str, Any] | None
    scopes: tuple[str, ...]
    """The scopes a token must cover (all of them) to see and call this tool."""
    definition_hash: str
    """SHA-256 of the upstream's own definition of the tool (:mod:`tools_registry.pins`): what is
    pinned, and what the catalogue serves only while it is the approved one (TP-1)."""
    server: UpstreamServer = field(repr=False, compare=False)
    descriptor: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    """The MCP ``Tool`` object for ``tools/list``, built once."""
    definition: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    """The upstream's own definition (:func:`tools_registry.pins.definition_of`), as pinned."""

    @property
    def destructive(self) -> bool:
        """Whether the upstream says the tool may destroy something: ``destructiveHint`` is true and
        the tool is not read-only. A hint from the upstream, not a guarantee: a tool whose upstream
        says nothing is not counted (name it in its server's ``call_approval`` instead)."""
        hints = self.annotations or {}
        return hints.get("destructiveHint") is True and hints.get("readOnlyHint") is not True


class SkippedEntry(Exception):
    """Why one entry of a tools/list answer is not exposed."""


def read_tool(server: UpstreamServer, raw: Any, separator: str = DEFAULT_SEPARATOR) -> CatalogTool:
    """``raw`` (one element of ``server``'s ``tools`` array) as the tool agents see, named with
    ``separator``; :class:`SkippedEntry` when it cannot be exposed."""
    if not isinstance(raw, dict):
        raise SkippedEntry(f"not a tool object: {type(raw).__name__}")
    upstream = raw.get("name")
    if not isinstance(upstream, str):
        raise SkippedEntry("the tool has no string name")
    if not TOOL_NAME.fullmatch(upstream):
        raise SkippedEntry(f"tool name {upstream[:140]!r} is not 1-128 characters of [A-Za-z0-9_.-]")
    name = exposed_name(server.id, upstream, separator)
    input_schema = raw.get("inputSchema", {"type": "object"})
    output_schema, annotations = raw.get("outputSchema"), raw.get("annotations")
    title, description = raw.get("title"), raw.get("description")
    for label, value, kind, what in (
        ("inputSchema", input_schema, dict, "an object"),
        ("outputSchema", output_schema, dict | None, "an object"),
        ("annotations", annotations, dict | None, "an object"),
        ("title", title, str | None, "a string"),
        ("description", description, str | None, "a string"),
    ):
        if not isinstance(value, kind):
            raise SkippedEntry(f"tool {upstream!r}: {label} is not {what}")
    definition = definition_of(raw)
    description = server.descriptions.get(upstream, description)
    descriptor: dict[str, Any] = {"name": name, "inputSchema": input_schema}
    optional_members = (
        ("title", title),
        ("description", description),
        ("outputSchema", output_schema),
        ("annotations", annotations),
    )
    descriptor.update((key, value) for key, value in optional_members if value is not None)
    return CatalogTool(
        name=name,
        server_id=server.id,
        upstream_name=upstream,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        title=title,
        annotations=annotations,
        scopes=server.scopes_for(upstream),
        definition_hash=definition_hash(definition),
        server=server,
        descriptor=descriptor,
        definition=definition,
    )


__all__ = ["CatalogTool", "SkippedEntry", "read_tool"]
