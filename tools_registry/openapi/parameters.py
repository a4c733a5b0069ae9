"""Path, query and header parameters read into :class:`~.models.RestParameter` and their schemas.

Each parameter becomes one argument of the same name (its schema, with the parameter's
description, is a property of the tool's input schema). What cannot be sent faithfully makes the
operation unmappable, with the reason: a cookie parameter (the gateway owns ``Cookie``), a
parameter described by ``content`` rather than ``schema``, a path parameter in another style than
``simple``, a query parameter in ``deepObject`` style, a header the gateway owns (OA-2), two
parameters with one name (in different places: a single argument could not tell them apart), a
path variable without its parameter, or a path parameter the template does not have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from tools_registry.openapi.headers import IGNORED_BY_OPENAPI, is_field_name, is_owned
from tools_registry.openapi.models import QueryStyle, RestParameter
from tools_registry.openapi.references import References, Unmappable
from tools_registry.openapi.schemas import SchemaBundle

_VARIABLE = re.compile(r"\{([^{}]*)\}")
_QUERY_STYLES = ("form", "spaceDelimited", "pipeDelimited")


@dataclass(frozen=True)
class ReadParameters:
    parameters: tuple[RestParameter, ...]
    properties: Mapping[str, Any]
    """Argument name to its JSON Schema, in document order."""
    required: tuple[str, ...]


def path_variables(path: str) -> tuple[str, ...]:
    """The variables of a path template, in order.

    >>> path_variables("/repos/{owner}/{repo}")
    ('owner', 'repo')
    """
    return tuple(_VARIABLE.findall(path))


def read_parameters(
    path: str, item: Mapping[str, Any], operation: Mapping[str, Any], refs: References, bundle: SchemaBundle
) -> ReadParameters:
    """The parameters of ``operation``, the Path Item's included unless the operation overrides them
    (same name and location: OpenAPI 3.1 §4.8.10.1)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*_list(item.get("parameters")), *_list(operation.get("parameters"))]:
        parameter = refs.resolve_object(raw, "a parameter")
        name, location = parameter.get("name"), parameter.get("in")
        if not isinstance(name, str) or not isinstance(location, str):
            raise Unmappable("a parameter has no string name or location")
        merged[(name, location)] = parameter
    variables = path_variables(path)
    read: list[RestParameter] = []
    properties: dict[str, Any] = {}
    required: list[str] = []
    for (name, location), parameter in merged.items():
        if location == "header" and name.lower() in IGNORED_BY_OPENAPI:
            continue
        rest = _parameter(name, location, parameter, variables)
        if name in properties:
            raise Unmappable(f"two parameters are named {name!r:.80} (one argument cannot be both)")
        properties[name] = _described(bundle.convert(parameter["schema"]), parameter.get("description"))
        read.append(rest)
        if rest.required:
            required.append(name)
    for variable in variables:
        if (variable, "path") not in merged:
            raise Unmappable(f"the path variable {{{variable:.80}}} has no path parameter")
    return ReadParameters(tuple(read), properties, tuple(required))


def _parameter(
    name: str, location: str, parameter: Mapping[str, Any], variables: tuple[str, ...]
) -> RestParameter:
    label = f"{location} parameter {name!r:.80}"
    if location not in ("path", "query", "header"):
        raise Unmappable(f"{label} is not supported (only path, query and header parameters are)")
    if "schema" not in parameter:
        raise Unmappable(f"{label} is described by content, not by a schema")
    style = parameter.get("style")
    explode = parameter.get("explode")
    if location == "path":
        if name not in variables:
            raise Unmappable(f"{label} is not in the path template")
        if style not in (None, "simple"):
            raise Unmappable(f"{label} has style {style!r:.40}; only simple is supported")
        return RestParameter(name, "path", required=True)
    if location == "header":
        if is_owned(name):
            raise Unmappable(f"{label} is a header the gateway sets itself")
        if not is_field_name(name):
            raise Unmappable(f"{label} is not a valid header name")
        return RestParameter(name, "header", required=parameter.get("required") is True)
    style = style or "form"
    if style not in _QUERY_STYLES:
        raise Unmappable(
            f"{label} has style {style!r:.40}; only form, spaceDelimited and pipeDelimited are supported"
        )
    return RestParameter(
        name,
        "query",
        required=parameter.get("required") is True,
        style=cast(QueryStyle, style),
        explode=explode if isinstance(explode, bool) else style == "form",
    )


def _described(schema: Any, description: object) -> Any:
    if isinstance(schema, dict) and isinstance(description, str) and "description" not in schema:
        return {"description": description, **schema}
    return schema


def _list(value: object) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unmappable("its parameters are not an array")
    return value


__all__ = ["ReadParameters", "path_variables", "read_parameters"]
