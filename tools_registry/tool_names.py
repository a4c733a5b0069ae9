"""The names agents see: tool ``t`` of server ``s`` is exposed as ``s`` + separator + ``t``.

Agent frameworks hand MCP tool names to the model's function calling unchanged, and OpenAI and
Anthropic accept only ``^[a-zA-Z0-9_-]{1,64}$``. So by default the separator is ``__`` (as Claude
Code's ``mcp__server__tool``) and every exposed name is such a *function name*. The separator is a
setting (``tool_namespace_separator``): one to four of ``_``, ``-`` and ``.``; ``.`` gives the old
``weather.get_forecast`` form, valid for MCP (SEP-986) but not for function calling.

:func:`exposed_name` is deterministic, a pure function of server id, tool name and separator:

1. ``joined`` = server id + separator + upstream tool name.
2. With a function-safe separator (no ``.``), every character outside ``[A-Za-z0-9_-]`` becomes
   ``_`` and the limit is 64 characters; otherwise (``.`` in the separator) every character outside
   ``[A-Za-z0-9_.-]`` becomes ``_`` and the limit is SEP-986's 128.
3. A name over the limit keeps its first ``limit - 11`` characters, then ``_`` and the first 10 hex
   digits of the SHA-256 of ``joined`` (UTF-8): the same input always gives the same name, and two
   long names differ unless their digests do. The kept prefix (at least 53 characters) always
   holds the whole server id and separator (at most 32 + 4).

>>> exposed_name("weather", "get_forecast")
'weather__get_forecast'
>>> exposed_name("weather", "v2.get_forecast"), exposed_name("weather", "v2.get_forecast", ".")
('weather__v2_get_forecast', 'weather.v2.get_forecast')

Names can still meet: ``get.x`` and ``get_x`` both give ``weather__get_x``. A server id that lets
its names meet another server's is refused where servers are registered (:func:`check_server_id`):
the separator must begin right after the id, so the id is always the part before the separator's
first occurrence. What is left is resolved by the catalogue (:mod:`tools_registry.name_claims`).
"""

from __future__ import annotations

import hashlib
import re

DEFAULT_SEPARATOR = "__"
SEPARATOR = re.compile(r"[_.-]{1,4}")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What OpenAI and Anthropic accept as a function (tool) name."""
DIGEST_LENGTH = 10
_OUTSIDE_FUNCTION_NAME = re.compile(r"[^A-Za-z0-9_-]")
_OUTSIDE_MCP_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def check_separator(separator: object) -> str:
    """``separator`` when it can join names; ``ValueError`` saying why not.

    >>> check_separator("__"), check_separator(".")
    ('__', '.')
    """
    if not isinstance(separator, str) or not SEPARATOR.fullmatch(separator):
        raise ValueError(f"tool_namespace_separator must be 1-4 of the characters _ - . , got {separator!r}")
    return separator


def is_function_safe(separator: str) -> bool:
    """True when names joined by ``separator`` are function names (it holds no ``.``)."""
    return "." not in separator


def exposed_name(server_id: str, tool: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The name tool ``tool`` of server ``server_id`` has in ``tools/list`` and ``tools/call``."""
    joined = f"{server_id}{separator}{tool}"
    if is_function_safe(separator):
        name, limit = _OUTSIDE_FUNCTION_NAME.sub("_", joined), 64
    else:
        name, limit = _OUTSIDE_MCP_NAME.sub("_", joined), 128
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(joined.encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{name[: limit - DIGEST_LENGTH - 1]}_{digest}"


def check_server_id(server_id: str, separator: str) -> None:
    """``ValueError`` when ``server_id`` could blur into the separator: when it contains the
    separator, or ends so that ``server_id + separator`` holds the separator earlier (with ``__``:
    an id holding ``__`` or ending in ``_``). Ids that pass cannot share an exposed name with
    another server's tools, shortened or not.

    >>> check_server_id("weather_eu", "__")
    >>> check_server_id("weather_", "__")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: server id 'weather_' cannot be used with the tool name separator '__': ...
    """
    if f"{server_id}{separator}".find(separator) != len(server_id):
        raise ValueError(
            f"server id {server_id!r} cannot be used with the tool name separator {separator!r}: "
            "an id may neither contain the separator nor end with its first character(s), "
            "or its tools' names could be another server's"
        )


__all__ = [
    "DEFAULT_SEPARATOR",
    "FUNCTION_NAME",
    "check_separator",
    "check_server_id",
    "exposed_name",
    "is_function_safe",
]
