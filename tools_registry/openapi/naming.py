"""The name an operation's tool gets: its ``operationId``, else its method and path.

MCP tool names are 1-128 characters of ``[A-Za-z0-9_.-]`` (SEP-986). An ``operationId`` is kept
with every other character made ``_`` (GitHub's ``repos/get-content`` becomes
``repos_get-content``); an operation without one is named after its method and path, variables
unbraced (``GET /pets/{petId}`` becomes ``get_pets_petId``). A name over 128 characters keeps its
first 117, then ``_`` and 10 hex digits of the SHA-256 of the unshortened name, as
:func:`tools_registry.tool_names.exposed_name` does. Two operations may still get one name; the
first in document order keeps it, and :mod:`.mapping` skips the other with the reason.
"""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 128
_DIGEST_LENGTH = 10
_OUTSIDE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_RUNS = re.compile(r"_{2,}")


def tool_name(operation_id: object, method: str, path: str) -> str:
    """The tool name of an operation.

    >>> tool_name("listPets", "get", "/pets"), tool_name(None, "get", "/pets/{petId}")
    ('listPets', 'get_pets_petId')
    >>> tool_name("repos/get-content", "get", "/repos/{owner}/{repo}/contents/{path}")
    'repos_get-content'
    """
    if isinstance(operation_id, str) and operation_id.strip():
        raw = _OUTSIDE_NAME.sub("_", operation_id.strip())
    else:
        unbraced = path.replace("{", "").replace("}", "")
        raw = _RUNS.sub("_", _OUTSIDE_NAME.sub("_", f"{method}_{unbraced}")).strip("_") or method
    if len(raw) <= MAX_LENGTH:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{raw[: MAX_LENGTH - _DIGEST_LENGTH - 1]}_{digest}"


__all__ = ["MAX_LENGTH", "tool_name"]
