"""Reading ``application/x-www-form-urlencoded`` bodies of the OAuth endpoints (AS-2).

A body over the size limit is refused before it is read in full; a parameter sent twice is
refused (RFC 6749 §3.2) unless the grant defines it as repeatable (``resource``, ``audience``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request

from gateway.errors import InvalidRequest
from gateway.request_body import BodyTooLarge, read_capped

REPEATABLE = frozenset({"resource", "audience"})


@dataclass(frozen=True)
class Form:
    single: dict[str, str]
    repeated: dict[str, tuple[str, ...]]

    def get(self, name: str) -> str | None:
        return self.single.get(name)

    def require(self, name: str) -> str:
        value = self.single.get(name)
        if not value:
            raise InvalidRequest(f"the {name} parameter is required")
        return value

    def all(self, name: str) -> tuple[str, ...]:
        return self.repeated.get(name, ())


async def read_oauth_body(request: Request, max_bytes: int, content_type: str) -> bytes:
    """The body of an OAuth endpoint request: the one media type it takes, capped in size;
    anything else is ``invalid_request``."""
    sent = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if sent != content_type:
        raise InvalidRequest(f"the body must be {content_type}")
    try:
        return await read_capped(request, max_bytes)
    except BodyTooLarge as exc:
        raise InvalidRequest(str(exc)) from None


async def read_form(request: Request, max_bytes: int) -> Form:
    body = await read_oauth_body(request, max_bytes, "application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not UTF-8") from None
    single: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in REPEATABLE:
            repeated.setdefault(name, []).append(value)
        elif name in single:
            raise InvalidRequest(f"the {name} parameter is repeated")
        else:
            single[name] = value
    return Form(single, {name: tuple(values) for name, values in repeated.items()})
