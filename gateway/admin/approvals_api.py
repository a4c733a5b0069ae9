"""The approval loop at the admin API: access requests, grants and the policy (AP-4, AD-4).

    GET  /admin/api/v1/access-requests                  ?status=&client_id=&cursor=&limit=
    GET  /admin/api/v1/access-requests/{id}             with the scopes the client holds now
    POST /admin/api/v1/access-requests/{id}/approve     {"scopes", "resource", "duration", "note"}
    POST /admin/api/v1/access-requests/{id}/deny        {"reason"}
    GET  /admin/api/v1/grants                           ?client_id=&status=&overdue=&cursor=&limit=
    GET  /admin/api/v1/grants/{id}
    POST /admin/api/v1/grants/{id}/revoke               {"reason"}
    POST /admin/api/v1/grants/{id}/review               {"note"}
    GET  /admin/api/v1/policy

Every role reads. Writing needs a deciding role before anything is looked up, so an auditor is
refused (403 ``insufficient_scope``) whatever the id; then the desks
(:mod:`gateway.approvals.request_desk`, :mod:`gateway.approvals.grant_desk`) decide as they do for
the CLI and the console: which role the request's policy names, no self-approval, two approvers,
one decision. The principal is the token's subject with the roles its scopes cover
(:func:`gateway.admin.roles.principal_of`). Lists are paged (:mod:`gateway.admin.paging`) and the
next page is also named in a ``Link`` header (RFC 8288).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import paths
from gateway.admin.json_bodies import Member, json_body, positive_whole, strings, text
from gateway.admin.paging import Page, SortKey, page, page_asked, paged_headers
from gateway.admin.queries import one_of, query_of, yes_or_no
from gateway.admin.roles import DECIDERS, KEEPERS, READERS, principal_of, require_role
from gateway.approvals import Approvals
from gateway.approvals.decisions import Principal
from gateway.approvals.grants import Grant, Status
from gateway.approvals.requests import STATUSES, AccessRequest
from gateway.clock import Clock
from gateway.errors import NO_STORE, NotFound

T = TypeVar("T")

GRANT_STATUSES: tuple[str, ...] = get_args(Status)
MAX_ID = 200
"""Characters in an id; longer ones name nothing."""

APPROVE = {
    "scopes": Member(strings),
    "resource": Member(text),
    "duration": Member(positive_whole),
    "note": Member(text),
}
DENY = {"reason": Member(text, required=True)}
REVOKE = {"reason": Member(text, required=True)}
REVIEW = {"note": Member(text)}


class ApprovalsApi:
    def __init__(self, approvals: Approvals, clock: Clock, resource_metadata: str) -> None:
        self._requests = approvals.requests
        self._grants = approvals.grants
        self._policy = approvals.policy
        self._clock = clock
        self._resource_metadata = resource_metadata

    def routes(self) -> list[Route]:
        requests, grants = paths.ADMIN_ACCESS_REQUESTS, paths.ADMIN_GRANTS
        return [
            Route(requests, self.list_requests, methods=["GET"]),
            Route(requests + "/{request_id}", self.show_request, methods=["GET"]),
            Route(requests + "/{request_id}/approve", self.approve, methods=["POST"]),
            Route(requests + "/{request_id}/deny", self.deny, methods=["POST"]),
            Route(grants, self.list_grants, methods=["GET"]),
            Route(grants + "/{grant_id}", self.show_grant, methods=["GET"]),
            Route(grants + "/{grant_id}/revoke", self.revoke, methods=["POST"]),
            Route(grants + "/{grant_id}/review", self.review, methods=["POST"]),
            Route(paths.ADMIN_POLICY, self.policy, methods=["GET"]),
        ]

    # -- access requests ----------------------------------------------------------------------
    async def list_requests(self, request: Request) -> Response:
        self._acting(request, READERS)
        query = query_of(request, ("status", "client_id", "cursor", "limit"))
        asked = page_asked(query.get("cursor"), query.get("limit"))
        found = await self._requests.list(one_of(query.get("status"), "status", STATUSES))
        client_id = query.get("client_id")
        chosen = [r for r in found if client_id is None or r.client_id == client_id]
        now = self._clock.now()
        return _paged(request, query, chosen, _request_key, asked, lambda r: r.public_view(now))

    async def show_request(self, request: Request) -> Response:
        self._acting(request, READERS)
        found = await self._requests.get(_id(request, "request_id"))
        return await self._request_answer(found)

    async def approve(self, request: Request) -> Response:
        by = self._acting(request, DECIDERS)
        body = await json_body(request, APPROVE)
        approved = await self._requests.approve(
            _id(request, "request_id"),
            by,
            scopes=body.get("scopes"),
            resource=body.get("resource"),
            duration=body.get("duration"),
            note=body.get("note", ""),
        )
        return await self._request_answer(approved)

    async def deny(self, request: Request) -> Response:
        by = self._acting(request, DECIDERS)
        body = await json_body(request, DENY)
        denied = await self._requests.deny(_id(request, "request_id"), by, body["reason"])
        return await self._request_answer(denied)

    async def _request_answer(self, found: AccessRequest) -> Response:
        """A request as the decider needs it: with every scope its client may be issued now."""
        held = await self._grants.held(found.client_id)
        view = found.public_view(self._clock.now()) | {"held_scopes": list(held)}
        return JSONResponse(view, headers=NO_STORE)

    # -- grants -------------------------------------------------------------------------------
    async def list_grants(self, request: Request) -> Response:
        self._acting(request, READERS)
        query = query_of(request, ("client_id", "status", "overdue", "cursor", "limit"))
        asked = page_asked(query.get("cursor"), query.get("limit"))
        status = one_of(query.get("status"), "status", GRANT_STATUSES)
        overdue = yes_or_no(query.get("overdue"), "overdue")
        now, suspend = self._clock.now(), self._policy.suspend_overdue
        chosen = [
            grant
            for grant in await self._grants.list(query.get("client_id"))
            if (status is None or grant.status(now, suspend) == status)
            and (overdue is None or grant.overdue(now) == overdue)
        ]
        return _paged(request, query, chosen, _grant_key, asked, lambda g: g.public_view(now, suspend))

    async def show_grant(self, request: Request) -> Response:
        self._acting(request, READERS)
        return self._grant_answer(await self._grants.get(_id(request, "grant_id")))

    async def revoke(self, request: Request) -> Response:
        by = self._acting(request, KEEPERS)
        body = await json_body(request, REVOKE)
        return self._grant_answer(await self._grants.revoke(_id(request, "grant_id"), by, body["reason"]))

    async def review(self, request: Request) -> Response:
        by = self._acting(request, KEEPERS)
        body = await json_body(request, REVIEW)
        reviewed = await self._grants.review(_id(request, "grant_id"), by, body.get("note", ""))
        return self._grant_answer(reviewed)

    def _grant_answer(self, grant: Grant) -> Response:
        view = grant.public_view(self._clock.now(), self._policy.suspend_overdue)
        return JSONResponse(view, headers=NO_STORE)

    # -- policy -------------------------------------------------------------------------------
    async def policy(self, request: Request) -> Response:
        self._acting(request, READERS)
        return JSONResponse(self._policy.public_view(), headers=NO_STORE)

    def _acting(self, request: Request, allowed: Sequence[str]) -> Principal:
        """The caller as a principal, once its token holds one of the ``allowed`` roles (AD-1)."""
        claims = request.scope["state"]["claims"]
        require_role(claims, allowed, self._resource_metadata)
        return principal_of(claims)


def _id(request: Request, name: str) -> str:
    """A path's id; one too long to be any names nothing (and is never sent to the store)."""
    value: str = request.path_params[name]
    if len(value) > MAX_ID:
        raise NotFound("no such record")
    return value


def _request_key(found: AccessRequest) -> SortKey:
    return found.created_at, found.request_id


def _grant_key(grant: Grant) -> SortKey:
    return grant.created_at, grant.grant_id


def _paged(
    request: Request,
    query: dict[str, str],
    items: Iterable[T],
    key: Callable[[T], SortKey],
    asked: Page,
    view: Callable[[T], dict[str, Any]],
) -> Response:
    """``{"items": [...], "next_cursor": ...}``, with ``Link: <…>; rel="next"`` when there is more."""
    shown, next_cursor = page(items, key, asked)
    headers = paged_headers(request, query, next_cursor)
    answer = {"items": [view(item) for item in shown], "next_cursor": next_cursor}
    return JSONResponse(answer, headers=headers)
