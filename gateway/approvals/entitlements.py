"""What a client may be issued now: its standing scopes and its active grants, narrowed (AS-4, AP-1).

Every grant path asks here: ``client_credentials``, the authorization request and the code it
yields, refresh, token exchange. The answer names the scopes, the approved grants that allowed them
(their ids go into the token's ``grants`` claim, so revoking a grant reaches the token) and the
instant the token must not outlive (the earliest end among those grants).

    >>> from gateway.approvals.grants import Grant
    >>> g = Grant("grt_1", "agent", ("payments",), "https://gw/mcp", "approval", expires_at=500.0)
    >>> entitle(("payments:refund", "weather"), ("weather",), [g], "https://gw/mcp", now=100.0)
    Entitlement(scopes=('payments:refund', 'weather'), grant_ids=('grt_1',), not_after=500.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.approvals.events import GrantMarks
from gateway.approvals.grants import Grant, GrantBook
from gateway.clock import Clock
from gateway.errors import InvalidScope
from tools_registry.scopes import covers

GRANTS_CLAIM = "grants"
"""The access-token claim naming the approved grants that allowed its scopes."""


def narrow_scopes(requested: tuple[str, ...], allowed: Iterable[str]) -> tuple[str, ...]:
    """What may be granted: the requested scopes the client holds or that a scope it holds covers
    (``weather`` covers ``weather:get_forecast``, :mod:`tools_registry.scopes`), or all it holds when
    none were requested. Nothing left is ``invalid_scope``: a token with no scope is never issued."""
    allowed_set = tuple(dict.fromkeys(allowed))
    granted = tuple(s for s in requested if covers(allowed_set, s)) if requested else allowed_set
    if not granted:
        raise InvalidScope("none of the requested scopes may be granted to this client")
    return granted


@dataclass(frozen=True)
class Entitlement:
    scopes: tuple[str, ...]
    grant_ids: tuple[str, ...]
    """The approved grants the scopes rest on (standing scopes rest on none)."""
    not_after: float | None
    """A token carrying these scopes must expire by then (None: only its own lifetime bounds it)."""

    def claims(self) -> dict[str, Any]:
        """The extra claims of a token issued under this entitlement."""
        return {GRANTS_CLAIM: list(self.grant_ids)} if self.grant_ids else {}

    def bound(self, lifetime: int, now: float) -> int:
        """``lifetime`` cut so the token ends by :attr:`not_after`."""
        if self.not_after is None:
            return lifetime
        return max(0, min(lifetime, int(self.not_after - now)))


def entitle(
    requested: tuple[str, ...],
    standing: Sequence[str],
    grants: Iterable[Grant],
    audience: str | Sequence[str],
    *,
    now: float,
    suspend_overdue: bool = False,
) -> Entitlement:
    """Pure: the scopes ``requested`` (all held when none) narrowed to ``standing`` and the grants
    active at ``now`` for ``audience``; each scope rests on the standing scopes when they cover it,
    else on the covering grant that lasts longest."""
    active = active_grants(grants, audience, now, suspend_overdue)
    held = (*standing, *(scope for grant in active for scope in grant.scopes))
    scopes = narrow_scopes(requested, held)
    used: dict[str, Grant] = {}
    for scope in scopes:
        if covers(standing, scope):
            continue
        covering = [grant for grant in active if covers(grant.scopes, scope)]
        longest = max(covering, key=lambda g: _end(g, suspend_overdue))
        used[longest.grant_id] = longest
    ends = [end for grant in used.values() if (end := grant.active_until(suspend_overdue)) is not None]
    return Entitlement(scopes, tuple(used), min(ends) if ends else None)


def active_grants(
    grants: Iterable[Grant], audience: str | Sequence[str] | None, now: float, suspend_overdue: bool
) -> list[Grant]:
    """The grants active at ``now`` that hold for ``audience`` (every audience given; None: any)."""
    audiences = (audience,) if isinstance(audience, str) else tuple(audience or ())
    return [
        grant
        for grant in grants
        if grant.status(now, suspend_overdue) == "active"
        and (grant.resource is None or all(a == grant.resource for a in audiences))
    ]


def _end(grant: Grant, suspend_overdue: bool) -> float:
    end = grant.active_until(suspend_overdue)
    return float("inf") if end is None else end


class Entitlements:
    """:func:`entitle` over the grants in the store, at the clock's now."""

    def __init__(
        self, grants: GrantBook, clock: Clock, marks: GrantMarks, suspend_overdue: bool = False
    ) -> None:
        self._grants = grants
        self._marks = marks
        self._clock = clock
        self._suspend_overdue = suspend_overdue

    async def entitle(
        self,
        client_id: str,
        standing: Sequence[str],
        requested: tuple[str, ...],
        audience: str | Sequence[str],
    ) -> Entitlement:
        return entitle(
            requested,
            standing,
            await self._of_client(client_id),
            audience,
            now=self._clock.now(),
            suspend_overdue=self._suspend_overdue,
        )

    async def held(
        self, client_id: str, standing: Sequence[str], audience: str | None = None
    ) -> tuple[str, ...]:
        """Every scope the client may be issued now, for ``audience`` or (None) anywhere."""
        grants = await self._of_client(client_id)
        active = active_grants(grants, audience, self._clock.now(), self._suspend_overdue)
        return tuple(dict.fromkeys((*standing, *(s for g in active for s in g.scopes))))

    async def _of_client(self, client_id: str) -> list[Grant]:
        """The client's grants made after it was last removed (RV-2): a client added again under
        the same id starts clean, its marks read from memory."""
        return [
            grant
            for grant in await self._grants.of_client(client_id)
            if await self._marks.not_removed_since(at=grant.created_at, client_id=client_id)
        ]
