"""The audit trail at the admin API: a search, a page at a time.

    GET /admin/api/v1/audit/events   ?since=&until=&type=&client_id=&subject=&tool=&outcome=&cursor=&limit=

Auditors and security admins read it (:data:`~gateway.admin.roles.AUDIT_READERS`); a tool author
is refused (403 ``insufficient_scope``): the trail names every client, person and tool and what
each did. The criteria are read as the CLI's ``audit search`` reads its flags
(:mod:`gateway.audit.search`): times as epoch seconds, RFC 3339 or a length of time before now
(``15m``, ``2h``, ``7d``); ``type`` one type or several, comma-separated; every criterion given must
hold. Events come oldest first, each with its place in the chain (``seq``, ``prev_hash``,
``hash``) and the event as stored. The cursor is the sequence number of the last event shown, so
events appended while someone pages come after, and none is shown twice or skipped; the next page
is also named in a ``Link`` header (RFC 8288).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.admin.paging import page_asked, paged_headers, sequence_after, sequence_cursor
from gateway.admin.queries import query_of
from gateway.admin.roles import AUDIT_READERS, require_role
from gateway.audit.search import QUERY_NAMES, Criteria, SearchError, criteria
from gateway.audit.store import AuditStore
from gateway.clock import Clock
from gateway.errors import InvalidRequest


def audit_routes(store: AuditStore, clock: Clock, resource_metadata: str) -> list[BaseRoute]:
    """The route above, for the admin API's router (``resource_metadata``: its challenge's URL)."""

    async def events(request: Request) -> Response:
        require_role(request.scope["state"]["claims"], AUDIT_READERS, resource_metadata)
        query = query_of(request, (*QUERY_NAMES, "cursor", "limit"))
        limit = page_asked(None, query.get("limit")).limit
        after = sequence_after(query["cursor"]) if "cursor" in query else 0
        try:
            filters = criteria(Criteria.of(query), clock.now())
        except SearchError as exc:
            raise InvalidRequest(str(exc)) from None
        found = await store.read(after, limit + 1, filters)
        shown = found[:limit]
        next_cursor = sequence_cursor(shown[-1].seq) if len(found) > limit else None
        answer = {"items": [stored.to_json() for stored in shown], "next_cursor": next_cursor}
        return JSONResponse(answer, headers=paged_headers(request, query, next_cursor))

    return [Route(paths.ADMIN_AUDIT_EVENTS, events, methods=["GET"])]
