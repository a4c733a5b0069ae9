"""The rules of deciding, as pure functions: what a request may ask, who may approve it, what an
approval grants. The desk (:mod:`gateway.approvals.desk`) applies them to records.

    >>> from gateway.approvals.policy import policy_from_table
    >>> policy = policy_from_table({"rules": [{"scope": "payments", "approvers": 2,
    ...                                         "max_duration": 3600}]})
    >>> terms_of(policy, ("payments:refund", "weather"), wished=86400)
    (2, 'security-admin', 3600)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.approvals.policy import ApprovalPolicy
from gateway.approvals.requests import AccessRequest, Vote
from gateway.errors import Conflict, Forbidden, InvalidRequest, InvalidScope
from tools_registry.scopes import covers, is_scope_token

MAX_SCOPES = 20
MAX_JUSTIFICATION = 1000
MAX_NOTE = 1000


@dataclass(frozen=True)
class Principal:
    """Who acts at the admin API, the console or the CLI: a subject and the roles it holds
    (``security-admin``, ``tool-author``, ``auditor``)."""

    subject: str
    roles: tuple[str, ...]

    def holds(self, role: str) -> bool:
        return role in self.roles


def checked_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """The scopes of a request: 1 to :data:`MAX_SCOPES` valid scope tokens, each once."""
    if not scopes:
        raise InvalidScope("name at least one scope")
    if len(scopes) > MAX_SCOPES or not all(is_scope_token(s) for s in scopes):
        raise InvalidScope(f"scope must be 1 to {MAX_SCOPES} space-separated scope tokens")
    return tuple(dict.fromkeys(scopes))


def checked_text(text: str, name: str, limit: int, *, required: bool = False) -> str:
    text = text.strip()
    if required and not text:
        raise InvalidRequest(f"{name} is required")
    if len(text) > limit or not all(c.isprintable() or c in "\n\t" for c in text):
        raise InvalidRequest(f"{name} must be at most {limit} printable characters")
    return text


def split_by_decision(policy: ApprovalPolicy, scopes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The scopes under each decision policy makes for them (``auto``, ``approval``, ``never``)."""
    found: dict[str, list[str]] = {"auto": [], "approval": [], "never": []}
    for scope in scopes:
        found[policy.rule_for(scope).decision].append(scope)
    return {decision: tuple(values) for decision, values in found.items()}


def terms_of(policy: ApprovalPolicy, scopes: Sequence[str], wished: int) -> tuple[int, str, int]:
    """How many approvers the scopes need, of which role, and the longest they may be granted for:
    the strictest rule among the scopes decides each."""
    rules = [policy.rule_for(scope) for scope in scopes]
    approvers = max(rule.approvers for rule in rules)
    roles = {rule.approver_role for rule in rules}
    role = "security-admin" if len(roles) > 1 else roles.pop()
    return approvers, role, min([wished, *(rule.max_duration for rule in rules)])


def check_approver(request: AccessRequest, by: Principal, now: float, *, voting: bool = True) -> None:
    """AP-4: the request is still pending, the decider holds its role, never asked for it, and
    (``voting``) has not approved it already."""
    if not by.holds(request.approver_role):  # first: a caller without the role learns nothing more
        raise Forbidden(f"deciding this request needs the {request.approver_role} role")
    if request.current_status(now) != "pending":
        raise Conflict(f"the request is {request.current_status(now)}, not pending")
    if by.subject in request.requesters():
        raise Forbidden("no one decides a request they made")
    if voting and any(vote.approver == by.subject for vote in request.votes):
        raise Conflict("you approved this request already; another person must approve it too")


def approved_terms(
    request: AccessRequest, scopes: Sequence[str] | None, resource: str | None, duration: int | None
) -> tuple[tuple[str, ...], str, int]:
    """What one approver grants: all the request's scopes (``scopes`` None) or a subset (or
    narrower scopes under them), its resource or one under it, its duration or shorter."""
    chosen = request.scopes if scopes is None else checked_scopes(scopes)  # [] is no scope, not all
    wider = [scope for scope in chosen if not covers(request.scopes, scope)]
    if wider:
        raise InvalidScope(f"scope {wider[0]!r} was not requested; approve the request's scopes or fewer")
    target = resource or request.resource
    if target != request.resource and not target.startswith(request.resource.rstrip("/") + "/"):
        raise InvalidRequest("the resource may only be the requested one or narrower (a path under it)")
    length = request.duration if duration is None else duration
    if length <= 0 or length > request.duration:
        raise InvalidRequest(f"duration must be between 1 and {request.duration} seconds")
    return chosen, target, length


def combined(votes: Sequence[Vote]) -> tuple[tuple[str, ...], str, int]:
    """What several approvers agreed on: the scopes each approved, the narrowest resource, the
    shortest duration."""
    candidates = dict.fromkeys(scope for vote in votes for scope in vote.scopes)
    scopes = tuple(s for s in candidates if all(covers(v.scopes, s) for v in votes))
    resource = max((v.resource for v in votes), key=len)
    return scopes, resource, min(v.duration for v in votes)
