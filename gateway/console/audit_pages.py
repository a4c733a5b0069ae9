"""The console's audit search: ``GET /admin/audit`` with the criteria as query parameters.

Auditors and security admins read it (what the admin API's search allows,
:data:`~gateway.admin.roles.AUDIT_READERS`); anyone else holding a role gets the 403 page. The
criteria are read by :mod:`gateway.audit.search`, as the CLI and the admin API read them; a
criterion that is not one is shown above the form, and nothing is searched. ``after`` is the
sequence number the previous page ended on (the "next" link carries it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway import paths
from gateway.audit.search import QUERY_NAMES, Criteria, SearchError, criteria
from gateway.audit.store import AuditStore
from gateway.clock import Clock
from gateway.console import html
from gateway.console.access import refused_page
from gateway.console.audit_views import search_page
from gateway.console.visitors import Visitor
from gateway.oauth.authorize.roles import TRAIL_READERS

PAGE = 50
MAX_VALUE = 512


class AuditPages:
    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def search(self, request: Request, visitor: Visitor) -> Response:
        if not any(visitor.principal.holds(role) for role in TRAIL_READERS):
            return refused_page("The audit trail is for auditors and security admins.", 403, visitor)
        asked = {name: request.query_params.get(name, "")[:MAX_VALUE] for name in QUERY_NAMES}
        after_text = request.query_params.get("after", "0")
        try:
            after = int(after_text) if after_text.isascii() and after_text.isdigit() else -1
            if not 0 <= after < 2**53:
                raise SearchError("after must be the sequence number a page ended on")
            found = criteria(Criteria.of(asked), self._clock.now())
        except SearchError as exc:
            return self._page(visitor, search_page(asked, [], None, f"Not searched: {exc}."), 400)
        events = await self._store.read(after, PAGE + 1, found)
        shown = events[:PAGE]
        next_after = shown[-1].seq if len(events) > PAGE else None
        return self._page(visitor, search_page(asked, shown, next_after))

    @staticmethod
    def _page(visitor: Visitor, body: str, status: int = 200) -> Response:
        return html.page(
            "Audit search", body, status=status, person=visitor.header(), current=paths.CONSOLE_AUDIT
        )
