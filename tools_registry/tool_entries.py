"""One entry of an upstream's ``tools/list`` answer, read into a :class:`CatalogTool` or skipped.

Tool ``t`` of server ``s`` is exposed as ``s__t`` by default (:func:`tools_registry.tool_names.
exposed_name`: the separator is a setting, and the name is made a valid function name). An entry
that is not a tool (not an object, no string name, a schema that is not an object) or whose name is
not 1-128 characters of ``[A-Za-z0-9_.-]`` (SEP-986) raises :class:`SkippedEntry` with the reason;
the catalogue keeps the rest of that server's tools.

Every entry is screened here, when discovery reads it and never on ``tools/list`` or
``tools/call`` (TS-9, :func:`tools_registry.screening.screen`): a refused definition is skipped with
the screening's reason; what agents see is the cleaned definition (invisible characters removed);
the flags travel with the tool, so pinning never approves it by policy (TP-7). The definition's
hash stays that of the upstream's own text (TP-1): a change of hidden characters is a change. A
REST tool's definition holds the scopes its document requires (OA-7), hashed and never shown.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools_registry.pins import DOCUMENT_SCOPES, definition_hash, definition_of
from tools_registry.screening import screen
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
    flags: tuple[str, ...] = ()
    """What screening flagged in the definition (TS-4..TS-6): it waits for a person (TP-7)."""
    removed: tuple[str, ...] = ()
    """What screening removed from the definition's text before agents see it (TS-3)."""

    @property
    def destructive(self) -> bool:
        """Whether the upstream says the tool may destroy something: ``destructiveHint`` is true and
        the tool is not read-only. A hint from the upstream, not a guarantee: a tool whose upstream
        says nothing is not counted (name it in its server's ``call_approval`` instead)."""
        hints = self.annotations or {}
        return hints.get("destructiveHint") is True and hints.get("readOnlyHint") is not True


Read = tuple[dict[str, CatalogTool], list[str]]
"""The usable tools of one answer by upstream name, and why the other entries were skipped."""


class SkippedEntry(Exception):
    """Why one entry of a tools/list answer is not exposed."""


def read_tool(
    server: UpstreamServer,
    raw: Any,
    separator: str = DEFAULT_SEPARATOR,
    namespaces: Collection[str] = (),
) -> CatalogTool:
    """``raw`` (one element of ``server``'s ``tools`` array) as the tool agents see, named with
    ``separator`` and screened against the other servers' ``namespaces`` (TS-7; ``server``'s own
    id may be among them); :class:`SkippedEntry` when it cannot be exposed."""
    upstream = _checked_name(raw)
    definition = definition_of(raw, document_scopes=server.kind == "openapi")
    for label, kind, what in (
        (DOCUMENT_SCOPES, list | None, "a list"),
        ("inputSchema", dict, "an object"),
        ("outputSchema", dict | None, "an object"),
        ("annotations", dict | None, "an object"),
        ("title", str | None, "a string"),
        ("description", str | None, "a string"),
    ):
        if not isinstance(definition.get(label), kind):
            raise SkippedEntry(f"tool {upstream!r}: {label} is not {what}")
    screened = screen(definition, server_id=server.id, namespaces=namespaces, separator=separator)
    if screened.refused is not None:
        raise SkippedEntry(f"tool {upstream!r} is refused by screening: {screened.refused}")
    shown = screened.definition
    name = exposed_name(server.id, upstream, separator)
    description = server.descriptions.get(upstream, shown.get("description"))
    descriptor: dict[str, Any] = {"name": name, "inputSchema": shown["inputSchema"]}
    optional_members = (
        ("title", shown.get("title")),
        ("description", description),
        ("outputSchema", shown.get("outputSchema")),
        ("annotations", shown.get("annotations")),
    )
    descriptor.update((key, value) for key, value in optional_members if value is not None)
    return CatalogTool(
        name=name,
        server_id=server.id,
        upstream_name=upstream,
        description=description,
        input_schema=shown["inputSchema"],
        output_schema=shown.get("outputSchema"),
        title=shown.get("title"),
        annotations=shown.get("annotations"),
        scopes=server.scopes_for(upstream),
        definition_hash=definition_hash(definition),
        server=server,
        descriptor=descriptor,
        definition=definition,
        flags=tuple(flag.reason for flag in screened.flags),
        removed=screened.removed,
    )


def read_tools(
    server: UpstreamServer, raw_tools: list[Any], separator: str, namespaces: Collection[str]
) -> Read:
    """Every entry of one answer by :func:`read_tool`; of two entries with the same upstream or
    exposed name, the first listed is kept."""
    tools: dict[str, CatalogTool] = {}
    exposed: dict[str, str] = {}
    problems: list[str] = []
    for position, raw in enumerate(raw_tools):
        try:
            tool = read_tool(server, raw, separator, namespaces)
            if tool.upstream_name in tools:
                raise SkippedEntry(f"tool {tool.upstream_name!r} is listed twice; the first is kept")
            if tool.name in exposed:
                raise SkippedEntry(
                    f"tool {tool.upstream_name!r} would be exposed as {tool.name!r}, the name of its "
                    f"tool {exposed[tool.name]!r}; the first is kept"
                )
        except SkippedEntry as exc:
            problems.append(f"{server.id}: tools[{position}]: {exc}")
            continue
        tools[tool.upstream_name] = tool
        exposed[tool.name] = tool.upstream_name
    return tools, problems


def _checked_name(raw: Any) -> str:
    if not isinstance(raw, dict):
        raise SkippedEntry(f"not a tool object: {type(raw).__name__}")
    upstream = raw.get("name")
    if not isinstance(upstream, str):
        raise SkippedEntry("the tool has no string name")
    if not TOOL_NAME.fullmatch(upstream):
        raise SkippedEntry(f"tool name {upstream[:140]!r} is not 1-128 characters of [A-Za-z0-9_.-]")
    return upstream


__all__ = ["CatalogTool", "Read", "SkippedEntry", "read_tool", "read_tools"]
