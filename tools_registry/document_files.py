"""A REST API's OpenAPI document given as a file: read once, when the registration is made.

A file is read where the registration is made (the config loader, ``mcp-gateway tools add``), not
where the gateway runs: its text then travels with the registration (the config's tables, the
store), so every replica imports the same document and none needs the file. The read is bounded by
the openapi package's own limit (OA-3), and the text must be UTF-8 (JSON or YAML).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools_registry.openapi.documents import MAX_DOCUMENT_BYTES
from tools_registry.server_fields import RegistryError, is_document_url, kind_of


def read_document_file(path: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The text of the document at ``path`` (relative to the working directory); RegistryError
    when it cannot be read, is larger than ``max_bytes`` or is not UTF-8."""
    try:
        with Path(path).open("rb") as file:
            raw = file.read(max_bytes + 1)
    except OSError as exc:
        raise RegistryError(
            f"cannot read the OpenAPI document {path!r:.200}: {exc.strerror or exc}"
        ) from None
    if len(raw) > max_bytes:
        raise RegistryError(f"the OpenAPI document {path!r:.200} is larger than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RegistryError(f"the OpenAPI document {path!r:.200} is not UTF-8 text") from None


def with_document_text(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``[[servers]]`` table, with the text of its document file as ``document`` when it is a
    REST API whose ``openapi`` is a file and whose text is not there yet."""
    openapi = table.get("openapi")
    if (
        kind_of(table) != "openapi"
        or not isinstance(openapi, str)
        or not openapi.strip()
        or is_document_url(openapi)
        or "document" in table
    ):
        return table
    return {**table, "document": read_document_file(openapi)}


__all__ = ["read_document_file", "with_document_text"]
