"""How the gateway refuses: an OAuth error answer (RFC 6749 §5.2), or an error page.

Every refusal at ``/token``, ``/introspect``, ``/revoke`` and ``/register`` is one JSON object of
``error`` and ``error_description`` that is never cached; an ``/authorize`` request whose client or
redirect URI is not known good gets an HTML page instead of a redirect (CO-4: no open redirector).
"""

from __future__ import annotations

import httpx
import httpx2


def error_of(response: httpx2.Response | httpx.Response, status: int | None = 400) -> str:
    """The ``error`` of an OAuth error answer, after checking it is one (and its status, unless None)."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["cache-control"] == "no-store", response.headers
    body = response.json()
    assert set(body) <= {"error", "error_description"}, body
    return str(body["error"])


def assert_error_page(response: httpx2.Response, *fragments: str) -> None:
    """An error page, never a redirect (CO-4), that says each of ``fragments``."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    for fragment in fragments:
        assert fragment in response.text, response.text
