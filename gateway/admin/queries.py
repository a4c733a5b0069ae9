"""Query parameters of the admin API's lists, read strictly.

A parameter the operation does not know, or one sent twice, is ``invalid_request`` rather than
ignored: ``?state=pending`` for ``?status=pending`` would otherwise list everything, and the
person reading would believe they saw only what is pending.

    >>> one_of("pending", "status", ("pending", "approved"))
    'pending'
    >>> yes_or_no("true", "overdue"), yes_or_no(None, "overdue")
    (True, None)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from starlette.requests import Request

from gateway.errors import InvalidRequest

MAX_VALUE = 512
"""Characters in one parameter's value."""


def query_of(request: Request, known: Collection[str]) -> dict[str, str]:
    """The request's query parameters, each at most once, each one the operation knows."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise InvalidRequest(f"unknown query parameter {name[:64]!r}; this list takes {expected}")
        if name in found:
            raise InvalidRequest(f"the query parameter {name!r} is repeated")
        if len(value) > MAX_VALUE:
            raise InvalidRequest(f"the query parameter {name!r} is longer than {MAX_VALUE} characters")
        found[name] = value
    return found


def one_of(value: str | None, name: str, choices: Sequence[str]) -> str | None:
    if value is not None and value not in choices:
        raise InvalidRequest(f"{name} must be one of {', '.join(choices)}")
    return value


def yes_or_no(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidRequest(f"{name} must be true or false")
    return value == "true"
