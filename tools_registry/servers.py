"""Upstream servers registered by tool authors: MCP servers and REST APIs, the model and its checks.

Servers come from two places: ``[[servers]]`` tables in the config file (read-only at run time)
and the store (``mcp-gateway tools add``, collection ``upstream_servers``). An id is unique across
both. A server's id is also its namespace: its tool ``get_forecast`` is exposed as
``weather__get_forecast`` (the separator is a setting: :mod:`tools_registry.tool_names`).

    [[servers]]
    id = "weather"
    url = "https://weather.example/mcp"       # http only for loopback hosts
    audience = "https://weather.example/mcp"  # default: the url, canonical
    default_scopes = ["weather:read"]         # default: each tool t needs "weather:t"
    timeout = 10                              # seconds, 0 < timeout <= 120
    refresh_interval = 300                    # seconds between tools/list refreshes
    input_requests = ["elicitation"]          # what it may ask agents; default: nothing
    call_approval = ["delete_file"]           # tools each call of which waits for approval; "*": all
    audit_arguments = ["set_alert"]           # tools audited with argument values; default: digest only
    audit_redact = ["api_key"]                # argument names those values are recorded without
    pinning = "first-use"                     # review | first-use | trusted (tools_registry.pins)
    [servers.tool_scopes]
    set_alert = ["weather:write"]
    [servers.descriptions]
    get_forecast = "Forecast for a city, by day."

A REST API described by an OpenAPI 3.0/3.1 document (``kind = "openapi"``, implied by
``openapi``) has ``openapi`` (the document's https URL, fetched at each refresh, or a file read
when the configuration is loaded) and ``base_url`` (where its operations are called) instead of
``url``; ``operations`` picks some of them by tool name or ``operationId`` (default: all), and
``tool_scopes`` overrides what the document says an operation needs, by the same names:

    [[servers]]
    id = "notes"
    openapi = "https://notes.example/openapi.json"   # or "notes-openapi.yaml"
    base_url = "https://notes.example/v1"            # the audience defaults to it
    operations = ["listNotes", "getNote"]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tools_registry.audit_arguments import argument_names, redacted
from tools_registry.input_requests import allowed_kinds
from tools_registry.pins import DEFAULT_PINNING, PINNING_POLICIES
from tools_registry.server_fields import (
    CONFIG_KEYS,
    EVERY_TOOL,
    KINDS,
    SERVER_ID,
    TOOL_NAME,
    Kind,
    RegistryError,
    check_id,
    check_rest_fields,
    check_url,
    document_digest,
    frozen_descriptions,
    frozen_tool_scopes,
    is_document_url,
    kind_of,
    scopes,
    seconds,
    tool_names,
)
from tools_registry.urls import canonical_url

MAX_TIMEOUT = 120.0
MAX_REFRESH_INTERVAL = 86400.0
Source = Literal["config", "store"]


@dataclass(frozen=True)
class UpstreamServer:
    """One upstream server (an MCP server, or a REST API by its OpenAPI document) and what its
    tools need.

    >>> UpstreamServer("weather", "https://Weather.example:443/mcp").audience
    'https://weather.example/mcp'
    >>> UpstreamServer("weather", "https://weather.example/mcp").scopes_for("get_forecast")
    ('weather:get_forecast',)

    Construction validates; a bad field raises :class:`RegistryError` naming it.
    """

    id: str
    url: str
    """Where calls go: the MCP endpoint, or the REST API's base URL (``base_url``)."""
    audience: str = ""
    """The ``aud`` of the downstream tokens this server accepts (kept canonical); empty: the url."""
    foreign_audience: bool = False
    """The audience is on another origin than the url, on purpose (an operator's explicit choice:
    tokens made for that audience will be sent to this url)."""
    tool_scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Scopes per upstream tool name; a tool needs all of its scopes."""
    default_scopes: tuple[str, ...] | None = None
    """Scopes of the tools not in ``tool_scopes``; None: tool ``t`` needs the one scope ``<id>:t``."""
    descriptions: Mapping[str, str] = field(default_factory=dict)
    """Description overrides per upstream tool name; they win over what the server says."""
    timeout: float = 10.0
    refresh_interval: float = 300.0
    input_requests: tuple[str, ...] = ()
    """What this server may ask of the agents calling its tools, by kind
    (:mod:`tools_registry.input_requests`); empty: nothing."""
    call_approval: tuple[str, ...] = ()
    """Upstream tool names (or ``*``, every tool) each call of which waits for a person's approval
    before it is forwarded; empty: none."""
    audit_arguments: tuple[str, ...] = ()
    """Upstream tool names (or ``*``) whose calls the audit trail records with their argument
    values (AU-4); empty: none, every call is recorded with the digest of its arguments only."""
    audit_redact: tuple[str, ...] = ()
    """Argument names whose values are recorded as ``[redacted]`` in those calls, at any depth."""
    pinning: str = DEFAULT_PINNING
    """What discovery does with a tool definition that is not pinned (TP-2): ``review`` (it waits
    for a security admin), ``first-use`` (the first discovery pins, later changes wait) or
    ``trusted`` (pinned at once)."""
    source: Source = "store"
    kind: Kind = "mcp"
    openapi: str = ""
    """REST: the document's URL (fetched at each refresh) or the file it was read from."""
    operations: tuple[str, ...] = ()
    """REST: the operations that become tools, by tool name or ``operationId``; empty: all."""
    document: str | None = field(default=None, repr=False, compare=False)
    """REST: the document's text as registered (a file's, or a URL's when it was fetched then);
    None when not at hand (a stored server's is kept beside it, :mod:`.server_registry`)."""
    document_sha256: str = ""
    """REST: :func:`document_digest` of ``document``; empty: no text was registered."""

    def __post_init__(self) -> None:
        check_id(self.id)
        picked, digest = check_rest_fields(
            self.kind, self.openapi, self.operations, self.document, self.document_sha256, self.input_requests
        )
        object.__setattr__(self, "operations", picked)
        object.__setattr__(self, "document_sha256", digest)
        check_url("url" if self.kind == "mcp" else "base_url", self.url, https_off_loopback=True)
        audience = self.audience or self.url
        check_url("audience", audience, https_off_loopback=False)
        object.__setattr__(self, "audience", canonical_url(audience))
        object.__setattr__(self, "tool_scopes", frozen_tool_scopes(self.tool_scopes))
        if self.default_scopes is not None:
            object.__setattr__(self, "default_scopes", scopes("default_scopes", self.default_scopes))
        object.__setattr__(self, "descriptions", frozen_descriptions(self.descriptions))
        object.__setattr__(self, "timeout", seconds("timeout", self.timeout, MAX_TIMEOUT))
        interval = seconds("refresh_interval", self.refresh_interval, MAX_REFRESH_INTERVAL)
        object.__setattr__(self, "refresh_interval", interval)
        try:
            object.__setattr__(self, "input_requests", allowed_kinds("input_requests", self.input_requests))
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        object.__setattr__(self, "call_approval", tool_names("call_approval", self.call_approval))
        object.__setattr__(self, "audit_arguments", tool_names("audit_arguments", self.audit_arguments))
        try:
            object.__setattr__(self, "audit_redact", argument_names("audit_redact", self.audit_redact))
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        if self.pinning not in PINNING_POLICIES:
            raise RegistryError(f"pinning must be one of {', '.join(PINNING_POLICIES)}, got {self.pinning!r}")
        if not isinstance(self.foreign_audience, bool):
            raise RegistryError(f"foreign_audience must be true or false, got {self.foreign_audience!r}")
        if self.source not in ("config", "store"):
            raise RegistryError(f"source must be 'config' or 'store', got {self.source!r}")

    def scopes_for(self, tool: str) -> tuple[str, ...]:
        """The scopes an agent's token must cover to see and call upstream tool ``tool``."""
        explicit = self.tool_scopes.get(tool)
        if explicit is not None:
            return explicit
        return self.default_scopes if self.default_scopes is not None else (f"{self.id}:{tool}",)

    def call_needs_approval(self, tool: str) -> bool:
        """Whether each call of upstream tool ``tool`` waits for approval, by this registration."""
        return tool in self.call_approval or EVERY_TOOL in self.call_approval

    def audited_arguments(self, tool: str, arguments: Any) -> Any:
        """The argument values the audit trail records for a call of upstream tool ``tool``, the
        names of ``audit_redact`` redacted; None when the registration does not opt the tool in."""
        if tool not in self.audit_arguments and EVERY_TOOL not in self.audit_arguments:
            return None
        return redacted(arguments, frozenset(self.audit_redact))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``tools show --json`` prints it."""
        where = (
            {"url": self.url}
            if self.kind == "mcp"
            else {
                "base_url": self.url,
                "openapi": self.openapi,
                "operations": list(self.operations),
                "document_sha256": self.document_sha256,
            }
        )
        return {
            "id": self.id,
            "kind": self.kind,
            **where,
            "audience": self.audience,
            "foreign_audience": self.foreign_audience,
            "tool_scopes": {tool: list(scopes) for tool, scopes in self.tool_scopes.items()},
            "default_scopes": list(self.default_scopes) if self.default_scopes is not None else None,
            "descriptions": dict(self.descriptions),
            "timeout": self.timeout,
            "refresh_interval": self.refresh_interval,
            "input_requests": list(self.input_requests),
            "call_approval": list(self.call_approval),
            "audit_arguments": list(self.audit_arguments),
            "audit_redact": list(self.audit_redact),
            "pinning": self.pinning,
            "source": self.source,
        }


def from_config(raw: Mapping[str, Any]) -> UpstreamServer:
    """One ``[[servers]]`` table of the config file, validated. A REST API's document given as a
    file is read by the config loader, which adds its text as ``document``."""
    kind = kind_of(raw)
    unknown = sorted(set(raw) - CONFIG_KEYS[kind])
    if unknown:
        raise RegistryError(
            f"unknown server setting {unknown[0]!r}" + (f" for kind {kind}" if kind != "mcp" else "")
        )
    where = "url" if kind == "mcp" else "base_url"
    if "id" not in raw or where not in raw:
        raise RegistryError(
            f"every [[servers]] entry needs an id and a {where}"
            + (" (or an openapi)" if kind == "mcp" else "")
        )
    return build_server(raw, source="config")


def configured_servers(tables: Iterable[Mapping[str, Any]]) -> tuple[UpstreamServer, ...]:
    """Every ``[[servers]]`` table, validated; an id defined twice is an error."""
    servers: dict[str, UpstreamServer] = {}
    for position, raw in enumerate(tables, start=1):
        try:
            server = from_config(raw)
        except RegistryError as exc:
            label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{position}"
            raise RegistryError(f"[[servers]] {label}: {exc}") from None
        if server.id in servers:
            raise RegistryError(f"[[servers]] {server.id}: the id is defined twice")
        servers[server.id] = server
    return tuple(servers.values())


def build_server(raw: Mapping[str, Any], source: Source) -> UpstreamServer:
    """A server from its JSON (the store's, or a config table): ``url`` for an MCP server,
    ``base_url``, ``openapi``, ``operations`` and the document (or its digest) for a REST API."""
    defaults = raw.get("default_scopes")
    if defaults is not None and not isinstance(defaults, list | tuple):
        raise RegistryError(f"default_scopes must be a list of scopes, got {defaults!r}")
    kind = kind_of(raw)
    rest: dict[str, Any] = {}
    if kind == "openapi":
        rest = {
            "openapi": raw.get("openapi", ""),
            "operations": raw.get("operations", ()),
            "document": raw.get("document"),
            "document_sha256": raw.get("document_sha256", ""),
        }
    return UpstreamServer(
        id=raw["id"],
        url=raw["url" if kind == "mcp" else "base_url"],
        audience=raw.get("audience") or "",
        foreign_audience=raw.get("foreign_audience", False),
        tool_scopes=raw.get("tool_scopes", {}),
        default_scopes=tuple(defaults) if defaults is not None else None,
        descriptions=raw.get("descriptions", {}),
        timeout=raw.get("timeout", 10.0),
        refresh_interval=raw.get("refresh_interval", 300.0),
        input_requests=raw.get("input_requests", ()),
        call_approval=raw.get("call_approval", ()),
        audit_arguments=raw.get("audit_arguments", ()),
        audit_redact=raw.get("audit_redact", ()),
        pinning=raw.get("pinning", DEFAULT_PINNING),
        source=source,
        kind=kind,
        **rest,
    )


__all__ = [
    "EVERY_TOOL",
    "KINDS",
    "SERVER_ID",
    "TOOL_NAME",
    "Kind",
    "RegistryError",
    "UpstreamServer",
    "build_server",
    "configured_servers",
    "document_digest",
    "from_config",
    "is_document_url",
    "kind_of",
]
