"""A tool call's arguments as the HTTP request the REST API expects.

A pure function of the tool, the arguments and the base URL: nothing is sent here.

* **Path** (OA-1): each path argument is percent-encoded whole (RFC 3986 §2.1, nothing but the
  unreserved characters left as they are), so a ``/``, ``?``, ``#`` or ``%`` in a value is data
  inside its segment, never a new segment, query or fragment. A value that is empty, ``.`` or
  ``..`` is refused (dot-segments are removed by URL normalisation, RFC 3986 §5.2.4). Since ``%``
  is encoded too, a segment decodes to the template's text with the values in it, so no two values
  can make a dot-segment together either: the path the agent reaches is always the template's.
* **Query**: a scalar is one ``name=value``; an array is repeated keys (``ids=1&ids=2``, the
  OpenAPI default ``form``/``explode: true``), or one value joined by ``,`` (``form``, ``explode:
  false``), space or ``|`` (``spaceDelimited``/``pipeDelimited``). Objects are not sent in the
  query. Everything is percent-encoded (``allowReserved`` is not honoured: encoding is always safe).
* **Headers** (OA-2): only the tool's header parameters, never a header the gateway owns
  (:mod:`.headers`), and never a value holding a control character (a CR/LF would add a header).
* **Body**: the ``body`` argument as JSON (UTF-8, no NaN), with ``Content-Type: application/json``.

Scalars are sent as JSON writes them (``true``, ``3``, ``2.5``); strings as they are. A missing
required argument, an argument the tool does not have, or a value that cannot go where it goes
is a :class:`~.models.ToolArgumentsError`, for the caller to return as a tool error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from tools_registry.openapi.headers import is_field_name, is_owned, is_safe_value
from tools_registry.openapi.models import RestParameter, RestRequest, RestTool, ToolArgumentsError

_JOINERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def build_request(tool: RestTool, arguments: Mapping[str, Any], base_url: str) -> RestRequest:
    """The request calling ``tool`` with ``arguments`` at ``base_url`` (``https://api.example/v1``:
    the tool's path is appended to its path). ``ValueError`` for a base URL that is not an absolute
    http(s) URL without query or fragment (the caller's configuration, not the agent's fault)."""
    base = _checked_base(base_url)
    known = {parameter.name for parameter in tool.parameters} | ({tool.body} if tool.body else set())
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise ToolArgumentsError(f"unknown argument(s): {', '.join(name[:80] for name in unknown[:10])}")
    missing = [p.name for p in tool.parameters if p.required and arguments.get(p.name) is None]
    if tool.body and tool.body_required and tool.body not in arguments:
        missing.append(tool.body)
    if missing:
        raise ToolArgumentsError(f"missing required argument(s): {', '.join(missing)}")
    path = tool.path
    query: list[tuple[str, str]] = []
    sent_headers: dict[str, str] = {}
    for parameter in tool.parameters:
        value = arguments.get(parameter.name)
        if value is None:
            continue
        if parameter.location == "path":
            path = path.replace(f"{{{parameter.name}}}", _path_value(parameter.name, value))
        elif parameter.location == "query":
            query.extend(_query_pairs(parameter, value))
        else:
            sent_headers[parameter.name] = _header_value(parameter.name, value)
    url = base + path + (f"?{urlencode(query, quote_via=quote)}" if query else "")
    body: bytes | None = None
    if tool.body and tool.body in arguments:
        try:
            body = json.dumps(arguments[tool.body], ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError):
            raise ToolArgumentsError(f"argument {tool.body!r} is not JSON") from None
        sent_headers["Content-Type"] = "application/json"
    return RestRequest(tool.method, url, sent_headers, body)


def _checked_base(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"base URL {base_url!r:.120} is not an absolute http(s) URL without query or fragment"
        )
    return base_url.rstrip("/")


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return json.dumps(value)
    raise ToolArgumentsError(f"argument {name!r:.80} must be a string, a number or a boolean")


def _path_value(name: str, value: Any) -> str:
    text = _scalar(name, value)
    if text in ("", ".", ".."):
        raise ToolArgumentsError(f"argument {name!r:.80} cannot be {text!r} (it would change the path)")
    return quote(text, safe="")


def _query_pairs(parameter: RestParameter, value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return [(parameter.name, _scalar(parameter.name, value))]
    items = [_scalar(parameter.name, item) for item in value]
    if parameter.explode:
        return [(parameter.name, item) for item in items]
    return [(parameter.name, _JOINERS[parameter.style].join(items))] if items else []


def _header_value(name: str, value: Any) -> str:
    if is_owned(name) or not is_field_name(name):
        raise ToolArgumentsError(f"header {name!r:.80} cannot be set by a tool call")
    text = (
        ",".join(_scalar(name, item) for item in value) if isinstance(value, list) else _scalar(name, value)
    )
    if not is_safe_value(text):
        raise ToolArgumentsError(f"argument {name!r:.80} holds a control character, not allowed in a header")
    return text


__all__ = ["build_request"]
