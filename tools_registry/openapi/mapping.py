"""The operations of an OpenAPI document as MCP tools; what cannot be mapped is skipped, with why.

One operation, one tool (:class:`~.models.RestTool`):

* ``name``: :func:`.naming.tool_name` (the ``operationId``, else method and path); ``title``: the
  summary; ``description``: summary and description (``Deprecated.`` first when it is).
* ``inputSchema``: an object whose properties are the path, query and header parameters by name
  (:mod:`.parameters`) and, when the operation takes a JSON body, the argument ``body`` holding it.
  The body is **never merged** into the parameters, even when it is an object: its schema stays as
  written (its own ``required``, ``additionalProperties``, ``allOf``), no rule is needed for a
  property that is also a parameter, and a call splits its arguments without looking at schemas.
  ``additionalProperties: false``: an unknown argument is an error (:mod:`.calls`), not ignored.
* ``outputSchema``: the schema of the first 2xx ``application/json`` answer, when it is an object
  (MCP requires an object); an array or a scalar answer is given as ``{"result": …}``
  (:mod:`.results`) and has no output schema.
* ``annotations``: ``readOnlyHint`` for the safe methods (GET, HEAD, OPTIONS, TRACE: RFC 9110
  §9.2.1), ``destructiveHint`` for DELETE, ``idempotentHint`` for PUT and DELETE (§9.2.2). POST,
  PUT and PATCH say nothing of destruction, so MCP's default (may be destructive) applies.
* ``scopes``: :func:`.security.required_scopes`, unless the caller overrides them for the tool;
  ``document_scopes``: what the document requires, override or not (the upstream's words, which
  the gateway pins with the definition, OA-7).

Skipped, with the reason (never raised): an operation with servers of its own, a request body
that is not JSON (multipart, octet-stream …), unsupported parameters (:mod:`.parameters`),
unresolvable or cyclic references, schemas over the bounds (:mod:`.schemas`), a name another
operation already has. Callbacks and webhooks describe requests the API sends, not operations a
tool can call: they are not operations here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from tools_registry.openapi.documents import METHODS, OpenApiDocument, OpenApiError
from tools_registry.openapi.models import ImportedApi, RestTool, Skipped
from tools_registry.openapi.naming import tool_name
from tools_registry.openapi.parameters import read_parameters
from tools_registry.openapi.references import References, Unmappable
from tools_registry.openapi.schemas import SchemaBundle
from tools_registry.openapi.security import required_scopes
from tools_registry.scopes import is_scope_token

BODY_ARGUMENT = "body"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def import_api(
    document: OpenApiDocument,
    *,
    only: Collection[str] | None = None,
    scopes: Mapping[str, Sequence[str]] | None = None,
) -> ImportedApi:
    """Every operation of ``document`` (or those ``only`` names, by tool name or ``operationId``)
    as a tool or a :class:`~.models.Skipped`; ``scopes`` overrides the scopes of the tools it names
    (same keys). :class:`~.documents.OpenApiError` when ``only`` or ``scopes`` name no operation
    or an override is not a list of scope tokens: a mistake of the caller, not of the document."""
    overrides = _checked_overrides(scopes or {})
    refs = References(document.content)
    tools: dict[str, RestTool] = {}
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for path, raw_item in document.path_items():
        try:
            item = refs.resolve_object(raw_item, f"the path item {path!r:.80}")
        except Unmappable as exc:
            skipped.append(Skipped(f"{path} (path item)", str(exc)))
            continue
        for method in (m for m in METHODS if m in item):
            operation = item[method]
            operation_id = operation.get("operationId") if isinstance(operation, dict) else None
            name = tool_name(operation_id, method, path)
            keys = {name} | ({operation_id} if isinstance(operation_id, str) else set())
            seen.update(keys)
            if only is not None and not keys & set(only):
                continue
            label = f"{method.upper()} {path}" + (
                f" ({operation_id})" if isinstance(operation_id, str) else ""
            )
            if name in tools:
                skipped.append(
                    Skipped(
                        label, f"the tool name {name!r} is already {tools[name].method} {tools[name].path}'s"
                    )
                )
                continue
            override = next((overrides[key] for key in (name, operation_id) if key in overrides), None)
            try:
                tools[name] = _tool(document, refs, path, method, item, name, override)
            except Unmappable as exc:
                skipped.append(Skipped(label, str(exc)))
            except (KeyError, TypeError, AttributeError) as exc:  # a reference to the wrong kind of object
                skipped.append(Skipped(label, f"malformed ({type(exc).__name__}: {str(exc)[:120]})"))
    unknown = sorted((set(only or ()) | set(overrides)) - seen)
    if unknown:
        raise OpenApiError(f"no operation is named {', '.join(map(repr, unknown[:10]))}")
    return ImportedApi(tuple(tools.values()), tuple(skipped))


def _tool(
    document: OpenApiDocument,
    refs: References,
    path: str,
    method: str,
    item: Mapping[str, Any],
    name: str,
    override: tuple[str, ...] | None,
) -> RestTool:
    operation = refs.resolve_object(item[method], "the operation")
    if not path.startswith("/") or "?" in path or "#" in path:
        raise Unmappable("its path is not a path template (it must start with / and hold no ? or #)")
    if "servers" in operation or "servers" in item:
        raise Unmappable("it has servers of its own (a tool calls the API's one base URL)")
    inputs = SchemaBundle(refs, document.dialect)
    read = read_parameters(path, item, operation, refs, inputs)
    properties, required = dict(read.properties), list(read.required)
    body_schema, body_required = _json_body(operation, refs, inputs)
    if body_schema is not None:
        if BODY_ARGUMENT in properties:
            raise Unmappable(f"a parameter is named {BODY_ARGUMENT!r}, the argument that holds the body")
        properties[BODY_ARGUMENT] = body_schema
        if body_required:
            required.append(BODY_ARGUMENT)
    input_schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        input_schema["required"] = required
    definition: dict[str, Any] = {"name": name, "inputSchema": inputs.with_defs(input_schema)}
    summary, description = operation.get("summary"), operation.get("description")
    if isinstance(summary, str) and summary.strip():
        definition["title"] = summary.strip()
    text = "\n\n".join(s.strip() for s in (summary, description) if isinstance(s, str) and s.strip())
    if operation.get("deprecated") is True:
        text = f"Deprecated. {text}".strip()
    if text:
        definition["description"] = text
    output_schema = _output_schema(operation, refs, document)
    if output_schema is not None:
        definition["outputSchema"] = output_schema
    definition["annotations"] = _annotations(method.upper())
    operation_id = operation.get("operationId")
    document_scopes = required_scopes(operation, document.content, refs)
    return RestTool(
        name=name,
        method=method.upper(),
        path=path,
        parameters=read.parameters,
        scopes=override if override is not None else document_scopes,
        operation_id=operation_id if isinstance(operation_id, str) else None,
        body=BODY_ARGUMENT if body_schema is not None else None,
        body_required=body_required,
        definition=definition,
        document_scopes=document_scopes,
    )


def is_json(media_type: str) -> bool:
    """``application/json`` or a ``+json`` type, parameters (``; charset=utf-8``) aside.

    >>> is_json("application/json; charset=utf-8"), is_json("application/vnd.github+json")
    (True, True)
    >>> is_json("multipart/form-data")
    False
    """
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json"))


def _json_body(operation: Mapping[str, Any], refs: References, bundle: SchemaBundle) -> tuple[Any, bool]:
    """The body argument's schema (None: no body) and whether it is required."""
    if "requestBody" not in operation:
        return None, False
    body = refs.resolve_object(operation["requestBody"], "the request body")
    content = body.get("content") or {}
    json_types = [media for media in content if is_json(media)]
    if not json_types:
        if not content:
            return None, False
        raise Unmappable(f"its request body is {', '.join(sorted(content))[:120]}, not JSON")
    media = refs.resolve_object(content[json_types[0]], "the request body's media type")
    schema = bundle.convert(media.get("schema", {}))
    description = body.get("description")
    if isinstance(schema, dict) and isinstance(description, str) and "description" not in schema:
        schema = {"description": description, **schema}
    return schema, body.get("required") is True


def _output_schema(operation: Mapping[str, Any], refs: References, document: OpenApiDocument) -> Any:
    responses = operation.get("responses") or {}
    for status in sorted(str(code) for code in responses):
        if not (status.startswith("2") and len(status) == 3):
            continue
        response = refs.resolve_object(responses[status], f"the {status} response")
        content = response.get("content") or {}
        json_types = [media for media in content if is_json(media)]
        if not json_types:
            continue
        media = refs.resolve_object(content[json_types[0]], f"the {status} response's media type")
        if "schema" not in media:
            return None
        bundle = SchemaBundle(refs, document.dialect)
        schema = bundle.convert(media["schema"])
        if not bundle.is_object(schema):
            return None
        return bundle.with_defs({"type": "object", **schema})
    return None


def _annotations(method: str) -> dict[str, Any]:
    annotations: dict[str, Any] = {"readOnlyHint": method in _SAFE}
    if method == "DELETE":
        annotations["destructiveHint"] = True
    if method in ("PUT", "DELETE"):
        annotations["idempotentHint"] = True
    return annotations


def _checked_overrides(scopes: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    checked: dict[str, tuple[str, ...]] = {}
    for key, value in scopes.items():
        if isinstance(value, str) or not all(is_scope_token(scope) for scope in value):
            raise OpenApiError(f"the scopes of {key!r:.80} must be a list of scope tokens")
        checked[key] = tuple(dict.fromkeys(value))
    return checked


__all__ = ["BODY_ARGUMENT", "import_api", "is_json"]
