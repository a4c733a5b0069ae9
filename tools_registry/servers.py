"""Upstream MCP servers registered by tool authors: the model, its validation, and where it is kept.

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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tools_registry.audit_arguments import argument_names, redacted
from tools_registry.input_requests import allowed_kinds
from tools_registry.pins import DEFAULT_PINNING, PINNING_POLICIES
from tools_registry.scopes import is_scope_token
from tools_registry.urls import UrlError, canonical_url, web_url

logger = logging.getLogger("tools_registry")

MAX_TIMEOUT = 120.0
MAX_REFRESH_INTERVAL = 86400.0
SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
"""SEP-986: tool names are 1-128 characters of ``[A-Za-z0-9_.-]``, case-sensitive."""
_CONFIG_KEYS = frozenset(
    {
        "id",
        "url",
        "audience",
        "foreign_audience",
        "tool_scopes",
        "default_scopes",
        "descriptions",
        "timeout",
        "refresh_interval",
        "input_requests",
        "call_approval",
        "audit_arguments",
        "audit_redact",
        "pinning",
    }
)
EVERY_TOOL = "*"
"""In ``call_approval``: every tool of the server."""

Source = Literal["config", "store"]


class RegistryError(ValueError):
    """A server definition that cannot be accepted; the message names the field and says why."""


@dataclass(frozen=True)
class UpstreamServer:
    """One upstream MCP server and what its tools need.

    >>> UpstreamServer("weather", "https://Weather.example:443/mcp").audience
    'https://weather.example/mcp'
    >>> UpstreamServer("weather", "https://weather.example/mcp").scopes_for("get_forecast")
    ('weather:get_forecast',)

    Construction validates; a bad field raises :class:`RegistryError` naming it.
    """

    id: str
    url: str
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

    def __post_init__(self) -> None:
        _check_id(self.id)
        _check_url("url", self.url, https_off_loopback=True)
        audience = self.audience or self.url
        _check_url("audience", audience, https_off_loopback=False)
        object.__setattr__(self, "audience", canonical_url(audience))
        object.__setattr__(self, "tool_scopes", _frozen_tool_scopes(self.tool_scopes))
        if self.default_scopes is not None:
            object.__setattr__(self, "default_scopes", _scopes("default_scopes", self.default_scopes))
        object.__setattr__(self, "descriptions", _frozen_descriptions(self.descriptions))
        object.__setattr__(self, "timeout", _seconds("timeout", self.timeout, MAX_TIMEOUT))
        interval = _seconds("refresh_interval", self.refresh_interval, MAX_REFRESH_INTERVAL)
        object.__setattr__(self, "refresh_interval", interval)
        try:
            object.__setattr__(self, "input_requests", allowed_kinds("input_requests", self.input_requests))
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        object.__setattr__(self, "call_approval", _tool_names("call_approval", self.call_approval))
        object.__setattr__(self, "audit_arguments", _tool_names("audit_arguments", self.audit_arguments))
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
        return {
            "id": self.id,
            "url": self.url,
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


def _check_id(value: object) -> None:
    if not isinstance(value, str) or not SERVER_ID.fullmatch(value):
        raise RegistryError(f"id must be 1-32 characters of [A-Za-z0-9_-], got {value!r}")


def _check_url(name: str, value: object, *, https_off_loopback: bool) -> None:
    try:
        web_url(value, name, https_off_loopback=https_off_loopback)
    except UrlError as exc:
        raise RegistryError(str(exc)) from None


def _check_tool(name: str, tool: object) -> str:
    if not isinstance(tool, str) or not TOOL_NAME.fullmatch(tool):
        raise RegistryError(f"{name} names tool {tool!r}: tool names are 1-128 chars of [A-Za-z0-9_.-]")
    return tool


def _tool_names(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise RegistryError(f'{name} must be a list of tool names (or "*"), got {value!r}')
    names = tuple(tool if tool == EVERY_TOOL else _check_tool(name, tool) for tool in value)
    return tuple(dict.fromkeys(names))


def _scopes(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise RegistryError(f"{name} must be a list of scopes, got {value!r}")
    scopes = tuple(value)
    if not scopes:
        raise RegistryError(f"{name} must list at least one scope (an empty list would open the tool)")
    for scope in scopes:
        if not is_scope_token(scope):
            raise RegistryError(f"{name} has {scope!r}, which is not a valid OAuth scope token")
    return tuple(dict.fromkeys(scopes))


def _frozen_tool_scopes(value: object) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise RegistryError("tool_scopes must map tool names to lists of scopes")
    frozen = {_check_tool("tool_scopes", t): _scopes(f"tool_scopes.{t}", s) for t, s in value.items()}
    return MappingProxyType(frozen)


def _frozen_descriptions(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise RegistryError("descriptions must map tool names to text")
    for tool, text in value.items():
        _check_tool("descriptions", tool)
        if not isinstance(text, str) or not text.strip():
            raise RegistryError(f"descriptions.{tool} must be non-empty text")
    return MappingProxyType(dict(value))


def _seconds(name: str, value: object, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise RegistryError(f"{name} must be a number of seconds, 0 < {name} <= {maximum:g}, got {value!r}")
    return float(value)


def from_config(raw: Mapping[str, Any]) -> UpstreamServer:
    """One ``[[servers]]`` table of the config file, validated."""
    unknown = sorted(set(raw) - _CONFIG_KEYS)
    if unknown:
        raise RegistryError(f"unknown server setting {unknown[0]!r}")
    if "id" not in raw or "url" not in raw:
        raise RegistryError("every [[servers]] entry needs an id and a url")
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
    defaults = raw.get("default_scopes")
    if defaults is not None and not isinstance(defaults, list | tuple):
        raise RegistryError(f"default_scopes must be a list of scopes, got {defaults!r}")
    return UpstreamServer(
        id=raw["id"],
        url=raw["url"],
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
    )


__all__ = ["RegistryError", "UpstreamServer", "build_server", "configured_servers", "from_config"]
