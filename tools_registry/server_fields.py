"""The checks of each field of an upstream server's registration, one function per kind of field.

:class:`~tools_registry.servers.UpstreamServer` calls them while it is constructed, so a server
that exists is valid; each raises :class:`RegistryError` with a message that names the field and
says why, fit for a one-line answer to the tool author (the CLI, the config loader).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from tools_registry.scopes import is_scope_token
from tools_registry.urls import UrlError, web_url

SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
"""SEP-986: tool names are 1-128 characters of ``[A-Za-z0-9_.-]``, case-sensitive."""
EVERY_TOOL = "*"
"""In ``call_approval``: every tool of the server."""
Kind = Literal["mcp", "openapi"]
KINDS: tuple[Kind, ...] = ("mcp", "openapi")
_COMMON_KEYS = frozenset(
    {
        "id",
        "audience",
        "foreign_audience",
        "tool_scopes",
        "default_scopes",
        "descriptions",
        "timeout",
        "refresh_interval",
        "call_approval",
        "audit_arguments",
        "audit_redact",
        "pinning",
    }
)
CONFIG_KEYS: dict[Kind, frozenset[str]] = {
    "mcp": _COMMON_KEYS | {"kind", "url", "input_requests"},
    "openapi": _COMMON_KEYS | {"kind", "openapi", "base_url", "operations", "document"},
}
"""The settings of a ``[[servers]]`` table, by kind (``document``: the text of a file ``openapi``,
added by the config loader)."""
MAX_OPERATIONS = 5000
"""Operations a REST registration may name (as many as one document may hold)."""


class RegistryError(ValueError):
    """A server definition that cannot be accepted; the message names the field and says why."""


def check_id(value: object) -> None:
    if not isinstance(value, str) or not SERVER_ID.fullmatch(value):
        raise RegistryError(f"id must be 1-32 characters of [A-Za-z0-9_-], got {value!r}")


def check_url(name: str, value: object, *, https_off_loopback: bool) -> None:
    try:
        web_url(value, name, https_off_loopback=https_off_loopback)
    except UrlError as exc:
        raise RegistryError(str(exc)) from None


def check_tool(name: str, tool: object) -> str:
    if not isinstance(tool, str) or not TOOL_NAME.fullmatch(tool):
        raise RegistryError(f"{name} names tool {tool!r}: tool names are 1-128 chars of [A-Za-z0-9_.-]")
    return tool


def tool_names(name: str, value: object, *, every: bool = True) -> tuple[str, ...]:
    """A list of tool names, without repeats; with ``every``, ``"*"`` (every tool) is one of them."""
    if not isinstance(value, list | tuple):
        raise RegistryError(
            f"{name} must be a list of tool names" + (' (or "*")' if every else "") + f", got {value!r}"
        )
    names = tuple(tool if every and tool == EVERY_TOOL else check_tool(name, tool) for tool in value)
    return tuple(dict.fromkeys(names))


def scopes(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise RegistryError(f"{name} must be a list of scopes, got {value!r}")
    found = tuple(value)
    if not found:
        raise RegistryError(f"{name} must list at least one scope (an empty list would open the tool)")
    for scope in found:
        if not is_scope_token(scope):
            raise RegistryError(f"{name} has {scope!r}, which is not a valid OAuth scope token")
    return tuple(dict.fromkeys(found))


def frozen_tool_scopes(value: object) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise RegistryError("tool_scopes must map tool names to lists of scopes")
    frozen = {check_tool("tool_scopes", t): scopes(f"tool_scopes.{t}", s) for t, s in value.items()}
    return MappingProxyType(frozen)


def frozen_descriptions(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise RegistryError("descriptions must map tool names to text")
    for tool, text in value.items():
        check_tool("descriptions", tool)
        if not isinstance(text, str) or not text.strip():
            raise RegistryError(f"descriptions.{tool} must be non-empty text")
    return MappingProxyType(dict(value))


def seconds(name: str, value: object, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise RegistryError(f"{name} must be a number of seconds, 0 < {name} <= {maximum:g}, got {value!r}")
    return float(value)


def operations(value: object) -> tuple[str, ...]:
    """A REST registration's ``operations``: tool names or ``operationId`` values (empty: all)."""
    names = tool_names("operations", value, every=False)
    if len(names) > MAX_OPERATIONS:
        raise RegistryError(f"operations names more than {MAX_OPERATIONS} operations")
    return names


def kind_of(raw: Mapping[str, Any]) -> Kind:
    """A table's kind: as it says, else ``openapi`` when it names a document, else ``mcp``."""
    kind = raw.get("kind", "openapi" if "openapi" in raw else "mcp")
    if kind not in KINDS:
        raise RegistryError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return "openapi" if kind == "openapi" else "mcp"


def is_document_url(openapi: str) -> bool:
    """Whether a REST server's ``openapi`` names a URL (fetched) rather than a file (read once)."""
    return openapi.lower().startswith(("https://", "http://"))


def document_digest(text: str) -> str:
    """SHA-256 (hex) of a document's text as kept: what names the document a server was given."""
    return hashlib.sha256(text.encode()).hexdigest()


def check_rest_fields(
    kind: object,
    openapi: object,
    picked: object,
    document: object,
    digest: object,
    input_requests: tuple[str, ...],
) -> tuple[tuple[str, ...], str]:
    """The REST fields of a registration, checked: its ``operations`` and its document's digest.
    An MCP server has none; a REST API has a document URL (https off loopback) or a file whose text
    was read (the text, or its digest when the text is kept elsewhere), and asks agents nothing."""
    if kind not in KINDS:
        raise RegistryError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "mcp":
        if openapi or picked or document is not None or digest:
            raise RegistryError("openapi, operations and a document are for REST APIs (kind openapi)")
        return (), ""
    if not isinstance(openapi, str) or not openapi.strip():
        raise RegistryError("a REST API needs openapi: its document's URL or file")
    if is_document_url(openapi):
        check_url("openapi", openapi, https_off_loopback=True)
    if input_requests:
        raise RegistryError("input_requests: a REST API cannot ask agents for anything")
    if document is not None:
        if not isinstance(document, str) or not document.strip():
            raise RegistryError("the OpenAPI document is empty")
        digest = document_digest(document)
    if not isinstance(digest, str):
        raise RegistryError(f"document_sha256 must be text, got {digest!r:.80}")
    if not is_document_url(openapi) and not digest:
        raise RegistryError(f"the OpenAPI document {openapi!r:.120} was not read")
    return operations(picked), digest


__all__ = [
    "CONFIG_KEYS",
    "EVERY_TOOL",
    "KINDS",
    "SERVER_ID",
    "TOOL_NAME",
    "Kind",
    "RegistryError",
    "check_id",
    "check_rest_fields",
    "check_tool",
    "check_url",
    "document_digest",
    "frozen_descriptions",
    "frozen_tool_scopes",
    "is_document_url",
    "kind_of",
    "operations",
    "scopes",
    "seconds",
    "tool_names",
]
