"""Reading request bodies the one way every endpoint does: capped before they are read in full,
and JSON objects with a duplicated member refused (two readers must never see two documents)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the request body is larger than {max_bytes} bytes")


class DuplicateMember(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"duplicate member {name[:64]!r}")
        self.name = name


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as it (or its Content-Length) is too big."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise BodyTooLarge(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(max_bytes)
    return bytes(body)


async def read_page_form(request: Request, max_bytes: int) -> dict[str, list[str]]:
    """A form one of the gateway's own pages posted: capped, every value of every name (a list of
    checkboxes repeats its name), bytes that are not UTF-8 replaced; :class:`BodyTooLarge`."""
    body = await read_capped(request, max_bytes)
    form: dict[str, list[str]] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(name, []).append(value)
    return form


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads`` that refuses a member named twice."""
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise DuplicateMember(name)
        document[name] = value
    return document
