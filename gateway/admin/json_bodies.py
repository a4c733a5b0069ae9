"""Request bodies of the admin API: one JSON object, small, strict, every member known (AD-2).

A body is ``application/json`` (413 past :data:`MAX_BODY_BYTES`, 415 in any other media type), one
JSON object without a member named twice, ``NaN`` or ``Infinity``, and only with the members the
operation names, each of its type; anything else is 400 ``invalid_request`` naming the member. An
operation whose members are all optional also takes an empty body. What a value may say beyond
its type (a scope token, a note's length) is the desks' to check, so it is checked the same way
for the CLI and the console.

    >>> shape = {"note": Member(text), "duration": Member(positive_whole)}
    >>> checked({"note": "ok", "duration": 60}, shape)
    {'note': 'ok', 'duration': 60}
    >>> checked({"duration": "60"}, shape)
    Traceback (most recent call last):
    ...
    gateway.errors.InvalidRequest: duration must be a positive whole number
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway.errors import ContentTooLarge, InvalidRequest, UnsupportedMediaType
from gateway.request_body import BodyTooLarge, DuplicateMember, read_capped, unique_members

MAX_BODY_BYTES = 16 * 1024
JSON = "application/json"


@dataclass(frozen=True)
class Member:
    """One member a body may have: ``check(value, name)`` returns the value or refuses it."""

    check: Callable[[Any, str], Any]
    required: bool = False


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


def positive_whole(value: Any, name: str) -> int:
    """A whole number above zero; ``60.0`` is one too, as JSON Schema's ``integer`` says."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive whole number")
    return value


def strings(value: Any, name: str) -> list[str]:
    """A non-empty list of strings (an empty one would read as "everything" to some and "nothing"
    to others, so it is refused)."""
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{name} must be a non-empty list of strings")
    return value


async def json_body(request: Request, shape: Mapping[str, Member]) -> dict[str, Any]:
    """The body as the members of ``shape`` it holds, each checked."""
    try:
        raw = await read_capped(request, MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        raise ContentTooLarge(str(exc)) from None
    if not raw.strip() and not any(member.required for member in shape.values()):
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise UnsupportedMediaType(f"the body must be {JSON}")
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_members, parse_constant=_refuse)
    except DuplicateMember as exc:
        raise InvalidRequest(f"the member {exc.name[:64]!r} appears twice") from None
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, a number too long, nesting too deep
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the body must be a JSON object")
    return checked(document, shape)


def checked(document: Mapping[str, Any], shape: Mapping[str, Member]) -> dict[str, Any]:
    unknown = sorted(set(document) - set(shape))
    if unknown:
        raise InvalidRequest(f"unknown member {unknown[0][:64]!r}; this body takes {', '.join(shape)}")
    missing = [name for name, member in shape.items() if member.required and name not in document]
    if missing:
        raise InvalidRequest(f"{missing[0]} is required")
    return {name: shape[name].check(value, name) for name, value in document.items()}


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")
