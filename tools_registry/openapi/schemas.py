"""OpenAPI Schema Objects made self-contained JSON Schema (2020-12) for one tool.

**References are kept, not expanded.** Every schema a tool's input (or output) schema refers to is
copied once into that schema's ``$defs`` and its ``$ref`` rewritten to ``#/$defs/<name>``
(``#/components/schemas/Pet`` becomes ``#/$defs/Pet``). Expanding references in place was the other
choice; it is refused because a recursive schema (a comment whose replies are comments) would
expand forever or be cut at an arbitrary depth that changes its meaning, and because expansion
multiplies sizes: GitHub's description is 13 MB with references and 73 MB expanded
(``api.github.com.deref.json``). Kept references cost each referenced schema once, whatever the
recursion, and JSON Schema 2020-12, the default dialect of MCP tool schemas, defines ``$defs``.
Bounds (OA-3): :data:`MAX_DEFS` schemas and :data:`MAX_NODES` schema objects per bundle; a schema
that refers to itself without descending into the value (``A = {"allOf": [A]}``, which would send
a validator into endless recursion) is :class:`~.references.Unmappable`.

**OpenAPI 3.0 dialect** (a JSON Schema draft 4 variant) is translated: ``nullable: true`` adds
``"null"`` to ``type`` (and to ``enum``), a boolean ``exclusiveMinimum``/``exclusiveMaximum`` takes
the number of ``minimum``/``maximum``, and the siblings of ``$ref`` (ignored by 3.0) are dropped
but ``description`` and ``title``. In both dialects ``example`` becomes ``examples``, and the
OpenAPI-only annotations (``discriminator``, ``xml``, ``externalDocs``) and identifiers that would
re-base references inside ``$defs`` (``$id``, ``$anchor``, ``$dynamicAnchor``, ``$schema``) are
dropped; ``$dynamicRef`` is not supported (the operation is skipped).
"""

from __future__ import annotations

import re
from typing import Any

from tools_registry.openapi.documents import Dialect
from tools_registry.openapi.references import References, Unmappable

MAX_DEFS = 500
MAX_NODES = 50_000
_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SINGLE = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "dependentSchemas"})
"""Keywords that apply a subschema to the same value (a cycle through only these never ends)."""
_DROPPED = frozenset(
    {
        "discriminator",
        "xml",
        "externalDocs",
        "nullable",
        "example",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$schema",
    }
)
_REFUSED = frozenset({"$dynamicRef", "$recursiveRef"})
_KEPT_BESIDE_REF_30 = frozenset({"$ref", "description", "title"})
_OUTSIDE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
_COMPONENT = "#/components/schemas/"


class SchemaBundle:
    """The schemas one tool refers to, collected as ``$defs`` while its schemas are converted.

    >>> refs = References({"components": {"schemas": {"Pet": {"type": "object", "nullable": True}}}})
    >>> bundle = SchemaBundle(refs, "3.0")
    >>> bundle.convert({"$ref": "#/components/schemas/Pet"})
    {'$ref': '#/$defs/Pet'}
    >>> bundle.defs
    {'Pet': {'type': ['object', 'null']}}
    """

    def __init__(self, refs: References, dialect: Dialect) -> None:
        self._refs, self._dialect = refs, dialect
        self._names: dict[str, str] = {}
        self._pending: list[str] = []
        self._nodes = 0
        self.defs: dict[str, Any] = {}

    def convert(self, schema: Any) -> Any:
        """``schema`` as JSON Schema 2020-12, every schema it refers to added to :attr:`defs`."""
        converted = self._node(schema)
        while self._pending:
            pointer = self._pending.pop(0)
            self.defs[self._names[pointer]] = self._node(self._refs.lookup(pointer))
        _refuse_in_place_cycles(self.defs)
        return converted

    def with_defs(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``schema`` (a root converted by this bundle) holding the ``$defs`` it needs."""
        return {**schema, "$defs": dict(self.defs)} if self.defs else schema

    def is_object(self, converted: Any) -> bool:
        """Whether the converted schema, its leading ``$ref`` chain followed, says ``type: object``."""
        for _ in range(len(self.defs) + 1):
            if not isinstance(converted, dict):
                return False
            if converted.get("type") == "object":
                return True
            ref = converted.get("$ref")
            if not isinstance(ref, str):
                return False
            converted = self.defs.get(ref.removeprefix("#/$defs/"))
        return False

    def _node(self, schema: Any) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise Unmappable(f"its schemas have more than {MAX_NODES} schema objects")
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            raise Unmappable(f"a schema is a {type(schema).__name__}, not an object")
        if self._dialect == "3.0" and "$ref" in schema:
            schema = {key: value for key, value in schema.items() if key in _KEPT_BESIDE_REF_30}
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _REFUSED:
                raise Unmappable(f"{key} in a schema is not supported")
            if key == "$ref":
                out[key] = self._ref(value)
            elif key in _MAPS:
                if not isinstance(value, dict):
                    raise Unmappable(f"{key} in a schema is not an object")
                out[key] = {name: self._node(item) for name, item in value.items()}
            elif key in _LISTS:
                if not isinstance(value, list):
                    raise Unmappable(f"{key} in a schema is not an array")
                out[key] = [self._node(item) for item in value]
            elif key in _SINGLE:
                out[key] = self._node(value)
            elif key not in _DROPPED:
                out[key] = value
        if "example" in schema and "examples" not in schema:
            out["examples"] = [schema["example"]]
        if self._dialect == "3.0":
            _translate_30(schema, out)
        return out

    def _ref(self, ref: Any) -> str:
        self._refs.lookup(ref)  # refuses what is not local or points at nothing
        name = self._names.get(ref)
        if name is None:
            if len(self._names) >= MAX_DEFS:
                raise Unmappable(f"its schemas refer to more than {MAX_DEFS} schemas")
            name = self._names[ref] = self._free_name(ref)
            self._pending.append(ref)
        return f"#/$defs/{name}"

    def _free_name(self, pointer: str) -> str:
        raw = (
            pointer.removeprefix(_COMPONENT) if pointer.startswith(_COMPONENT) else pointer.removeprefix("#/")
        )
        base = _OUTSIDE_NAME.sub("_", raw.replace("~1", "_").replace("~0", "_"))[:100] or "schema"
        taken = set(self._names.values())
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}_{number}"
        return name


def _translate_30(schema: dict[str, Any], out: dict[str, Any]) -> None:
    """OpenAPI 3.0's draft-4 keywords in their 2020-12 form (``out`` is changed in place)."""
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(exclusive)
        if isinstance(flag, bool):
            del out[exclusive]
            if flag and bound in out:
                out[exclusive] = out.pop(bound)


def _in_place_refs(schema: Any) -> set[str]:
    """The ``$defs`` names ``schema`` applies to its own value (not to its properties or items)."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        for key in _IN_PLACE.intersection(node):
            value = node[key]
            if key == "$ref" and isinstance(value, str):
                found.add(value.removeprefix("#/$defs/"))
            elif isinstance(value, list):
                pending.extend(value)
            elif isinstance(value, dict):
                pending.extend(value.values() if key == "dependentSchemas" else [value])
    return found


def _refuse_in_place_cycles(defs: dict[str, Any]) -> None:
    edges = {name: _in_place_refs(schema) for name, schema in defs.items()}
    done: set[str] = set()
    for start in edges:
        stack: list[tuple[str, bool]] = [(start, False)]
        on_path: set[str] = set()
        while stack:
            name, leaving = stack.pop()
            if leaving:
                on_path.discard(name)
                done.add(name)
                continue
            if name in on_path:
                raise Unmappable(f"schema {name!r} refers to itself without descending into the value")
            if name in done or name not in edges:
                continue
            on_path.add(name)
            stack.append((name, True))
            stack.extend((child, False) for child in edges[name])


__all__ = ["MAX_DEFS", "MAX_NODES", "SchemaBundle"]
