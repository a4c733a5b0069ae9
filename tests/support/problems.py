"""How the admin API refuses: RFC 9457 problem details (rule book AD-2).

Every refusal is one ``application/problem+json`` object of ``type`` (``about:blank``), ``title``
(the status phrase), ``status``, ``detail`` and ``error`` (the OAuth code), never cached and never
carrying a stack trace.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx2


def problem_of(response: httpx2.Response, status: int) -> dict[str, Any]:
    """The problem details of ``response``, after checking they are exactly that, with ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", response.headers
    assert response.headers["cache-control"] == "no-store", response.headers
    body: dict[str, Any] = response.json()
    assert set(body) == {"type", "title", "status", "detail", "error"}, body
    assert body["type"] == "about:blank", body
    assert body["title"] == HTTPStatus(status).phrase, body
    assert body["status"] == status, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body
