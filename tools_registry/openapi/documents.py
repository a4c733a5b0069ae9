"""An OpenAPI 3.0 or 3.1 document, read with bounds and validated against the official schema.

Library: **openapi-spec-validator** (its copies of the OpenAPI Initiative's JSON Schemas for 3.0
and 3.1), run by **jsonschema-rs**, the Rust engine openapi-spec-validator itself selects when it is
installed; ``$ref`` resolution is done with **referencing** (:mod:`.references`). Measured on
GitHub's REST description (``@octokit/openapi`` 23.0.2, ``api.github.com.json``: 13 MB, OpenAPI
3.0.3, 1,223 operations; ``json.loads`` alone 0.14-0.3 s), one process each, same machine:

=====================================================  =========  ===========================
candidate                                              validate   notes
=====================================================  =========  ===========================
openapi-spec-validator 0.9, schema only, jsonschema-rs   0.04 s   chosen
openapi-spec-validator 0.9, schema only, jsonschema      5.8 s    same checks, pure Python
openapi-spec-validator 0.9, full ``validate()``         19-21 s   also follows every ``$ref``,
                                                                  by default over http(s) and
                                                                  file: URLs
openapi-pydantic 0.6 ``parse_obj``                       0.44 s   accepts unknown fields and an
                                                                  empty ``responses``
prance 26.7 ``ResolvingParser``                         103 s     expands every ``$ref``: 518 MiB
openapi-core 0.23                                          -      cannot be installed beside
                                                                  openapi-spec-validator 0.9
=====================================================  =========  ===========================

So the document is checked against the official schema (what the specification says a valid
document is), fast, and nothing in it is ever fetched: the semantic checks the full validator adds
(a default that matches its schema, ...) do not matter to tool calls, and what does matter (a path
parameter declared for each template variable, a ``$ref`` that resolves) is checked per operation
by :mod:`.mapping`, which skips that one operation with the reason instead of refusing the whole
document. Bounds (OA-3): :data:`MAX_DOCUMENT_BYTES`, nesting and node count (:mod:`.bounded`),
:data:`MAX_OPERATIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema_rs
from openapi_spec_validator.schemas import schema_v30, schema_v31

from tools_registry.openapi.bounded import BoundedTextError, load_json_or_yaml

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_OPERATIONS = 5000
"""Operations in one document (GitHub's REST API has 1,223)."""
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
"""The operations of a Path Item, in the specification's order (OpenAPI 3.1 §4.8.9)."""
_VERSION = re.compile(r"3\.(?P<minor>[01])\.\d+(-.+)?")

Dialect = Literal["3.0", "3.1"]


class OpenApiError(ValueError):
    """A document that cannot be imported as a whole; the message says why."""


@dataclass(frozen=True)
class OpenApiDocument:
    """A valid OpenAPI 3.0/3.1 document, as plain JSON values (treat ``content`` as read-only)."""

    dialect: Dialect
    content: Mapping[str, Any] = field(repr=False)

    @property
    def title(self) -> str:
        return str(self.content["info"]["title"])

    def path_items(self) -> Iterator[tuple[str, Any]]:
        """``(path template, Path Item)`` in document order; a Path Item may be a Reference Object
        (3.1), resolved by :mod:`.mapping`."""
        yield from self.content.get("paths", {}).items()


def _operation_count(document: OpenApiDocument) -> int:
    """Operations, a referenced Path Item counting as one (it is resolved, and bounded, later)."""
    return sum(1 if "$ref" in item else sum(m in item for m in METHODS) for _, item in document.path_items())


def load_document(raw: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> OpenApiDocument:
    """``raw`` (JSON or YAML) as a validated :class:`OpenApiDocument`; :class:`OpenApiError` when it
    is too large or deep, not JSON/YAML, not OpenAPI 3.0/3.1, invalid, or has too many operations."""
    try:
        content = load_json_or_yaml(raw, max_bytes=max_bytes)
    except BoundedTextError as exc:
        raise OpenApiError(str(exc)) from None
    if not isinstance(content, dict):
        raise OpenApiError("an OpenAPI document is a JSON object")
    version = content.get("openapi")
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise OpenApiError(f"only OpenAPI 3.0 and 3.1 are accepted, not openapi={version!r:.40}")
    dialect: Dialect = "3.0" if match["minor"] == "0" else "3.1"
    meta = schema_v30 if dialect == "3.0" else schema_v31
    # The meta-schema is compiled on each load (about 2 ms): no validator is kept at module level.
    error = next(iter(jsonschema_rs.validator_for(dict(meta)).iter_errors(content)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.instance_path) or "(root)"
        raise OpenApiError(f"not a valid OpenAPI {dialect} document at {where[:200]}: {error.message[:300]}")
    document = OpenApiDocument(dialect, content)
    count = _operation_count(document)
    if count > MAX_OPERATIONS:
        raise OpenApiError(f"{count} operations, more than the {MAX_OPERATIONS} accepted")
    return document


__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_OPERATIONS",
    "METHODS",
    "Dialect",
    "OpenApiDocument",
    "OpenApiError",
    "load_document",
]
