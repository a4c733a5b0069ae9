"""A REST API's answer as the MCP ``CallToolResult`` the agent receives.

* 2xx with a JSON body: ``structuredContent`` is the value when it is an object, else
  ``{"result": value}`` (MCP's structured content is an object), and a text item holds the same
  JSON, for clients that read only ``content``.
* 2xx with another body, or with a JSON body that is too large or not JSON after all: a text item,
  the body decoded as UTF-8 (undecodable bytes replaced).
* Anything else, redirects included (the gateway does not follow them): ``isError: true`` and a
  text item with the status and an excerpt of the body (OA-4), so the agent can correct its call.

Bounds (OA-4): at most ``max_body`` bytes are ever decoded, or parsed as JSON (with the nesting
bound of :mod:`.bounded`); past it the text is cut and says how long the body was; an error's
excerpt is at most :data:`MAX_ERROR_EXCERPT` bytes. Control characters other than newline and tab
are removed from text taken from the body, so an answer cannot forge terminal escapes in a log.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tools_registry.openapi.bounded import BoundedTextError, load_json
from tools_registry.openapi.mapping import is_json

MAX_ERROR_EXCERPT = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def tool_result(
    status: int, content_type: str | None, body: bytes, max_body: int = 64 * 1024
) -> dict[str, Any]:
    """The ``CallToolResult`` for an answer with ``status``, ``content_type`` and ``body``."""
    if not 200 <= status <= 299:
        excerpt = _text(body, min(max_body, MAX_ERROR_EXCERPT))
        return {"content": [_item(f"HTTP {status}" + (f": {excerpt}" if excerpt else ""))], "isError": True}
    if content_type is not None and is_json(content_type) and len(body) <= max_body:
        try:
            value = load_json(body, max_bytes=max_body)
        except BoundedTextError:
            pass
        else:
            structured = value if isinstance(value, dict) else {"result": value}
            text = json.dumps(value, ensure_ascii=False)
            return {"content": [_item(text)], "structuredContent": structured, "isError": False}
    return {"content": [_item(_text(body, max_body) or f"HTTP {status}, no content")], "isError": False}


def _text(body: bytes, limit: int) -> str:
    """At most ``limit`` bytes of ``body`` as printable text, saying so when it was cut."""
    text = _CONTROL.sub("", body[:limit].decode("utf-8", errors="replace"))
    if len(body) > limit:
        text += f"\n[cut: {len(body)} bytes, the first {limit} shown]"
    return text


def _item(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


__all__ = ["MAX_ERROR_EXCERPT", "tool_result"]
