"""Step-up by request (AP-3): a call refused for a missing scope files an access request for it, so
the agent can wait for a decision and call again, instead of failing for good.

The refusal keeps its shape (403, ``insufficient_scope`` challenge, JSON-RPC ``-32003`` with
``requiredScopes``); its ``data`` gains ``accessRequest``: the request's id, status, the URL to look
at it and the interval to wait. A scope policy never grants files nothing, and asking again while a
request for the same scopes is pending names that same request.
"""

from __future__ import annotations

from typing import Any

from gateway.approvals.request_desk import RequestDesk
from gateway.claims import Claims
from gateway.clock import Clock
from gateway.errors import OAuthError


class StepUpRequests:
    def __init__(self, desk: RequestDesk, status_url: str, clock: Clock) -> None:
        self._desk = desk
        self._status_url = status_url.rstrip("/")
        self._clock = clock

    async def file(self, claims: Claims, missing: tuple[str, ...], tool_name: str) -> dict[str, Any] | None:
        """The ``accessRequest`` member of the refusal, or None when no request may be filed."""
        if not self._desk.policy.step_up:
            return None
        try:
            request = await self._desk.file(
                client_id=claims.client_id,
                subject=claims.subject if claims.subject != claims.client_id else None,
                scopes=missing,
                resource=claims.audience[0],
                justification=f"a call to the tool {tool_name[:128]} needs {' '.join(missing)}",
                origin="step-up",
            )
        except OAuthError:  # a scope policy never grants, or nothing left to ask for
            return None
        return {
            "id": request.request_id,
            "status": request.current_status(self._clock.now()),
            "statusUrl": f"{self._status_url}/{request.request_id}",
            "interval": self._desk.policy.poll_interval,
        }
