"""The approval policy: for each scope, whether an agent gets it at once, after approval, or never.

The security team writes it in the configuration file (``[approvals]``), versioned with the rest::

    [approvals]
    version = "2026-12-07"        # shown by the admin API, so everyone can tell which policy ruled
    default = "approval"          # scopes no rule names: auto | approval | never
    step_up = true                # a refusal for a missing scope at /mcp files a request
    suspend_overdue = false       # an overdue review suspends the grant until re-certified
    destructive_calls = "approval"  # calls of tools annotated destructiveHint wait for approval
    call_approver = "person"      # who approves a held call: security-admin | person

    [[approvals.rules]]
    scope = "payments"            # this scope and every scope under it (payments:refund, ...)
    decision = "approval"
    max_duration = 3600           # the longest a grant of it may last, in seconds
    approvers = 2                 # two different people must approve (two-person rule)

The most specific rule wins: a rule for ``payments:refund`` beats one for ``payments``. Deciding is
pure: :meth:`ApprovalPolicy.rule_for` reads nothing but the policy, and the functions that decide
with it (:mod:`gateway.approvals.decisions`) take every input as an argument.

    >>> policy = policy_from_table({"rules": [{"scope": "payments", "approvers": 2}]})
    >>> policy.rule_for("payments:refund").approvers, policy.rule_for("weather").decision
    (2, 'approval')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tools_registry.scopes import ancestors, is_scope_token

Decision = Literal["auto", "approval", "never"]
DECISIONS: tuple[Decision, ...] = ("auto", "approval", "never")
CallDecision = Literal["auto", "approval"]
CallApprover = Literal["security-admin", "person"]
CALL_DECISIONS: tuple[CallDecision, ...] = ("auto", "approval")
CALL_APPROVERS: tuple[CallApprover, ...] = ("security-admin", "person")
APPROVER_ROLES = ("security-admin", "tool-author")
"""Roles a rule may name as its approvers; an auditor never decides."""

DAY = 24 * 3600


class PolicyError(ValueError):
    """A policy the gateway refuses to start with; the message names the rule and the field."""


@dataclass(frozen=True)
class ScopeRule:
    scope: str
    """The scope the rule is for; it also rules every scope under it."""
    decision: Decision = "approval"
    max_duration: int = 30 * DAY
    """The longest a grant may last, in seconds, whatever was asked."""
    approver_role: str = "security-admin"
    approvers: int = 1
    """How many different people must approve: 2 is the two-person rule."""

    def public_view(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "decision": self.decision,
            "max_duration": self.max_duration,
            "approver_role": self.approver_role,
            "approvers": self.approvers,
        }


@dataclass(frozen=True)
class ApprovalPolicy:
    version: str = "built-in"
    default: ScopeRule = field(default_factory=lambda: ScopeRule(scope=""))
    """The rule for every scope no rule names."""
    rules: Mapping[str, ScopeRule] = field(default_factory=dict)
    request_lifetime: int = 7 * DAY
    """Seconds a pending access request waits for a decision before it expires."""
    poll_interval: int = 5
    """Seconds an agent waits between two looks at its pending request."""
    step_up: bool = False
    """Whether a refusal for a missing scope at the MCP endpoint files an access request (off: an
    agent asks with ``POST /access-requests`` itself)."""
    review_interval: int = 90 * DAY
    """Seconds from a grant's approval (or last review) to its next review date."""
    suspend_overdue: bool = False
    """Whether a grant past its review date stops working until someone re-certifies it."""
    destructive_calls: CallDecision = "auto"
    """Whether each call of a tool its upstream annotates ``destructiveHint`` waits for approval."""
    call_approver: CallApprover = "security-admin"
    """Who approves a held call: a ``security-admin``, or the person the agent acts for (a
    ``security-admin`` when there is none)."""

    def rule_for(self, scope: str) -> ScopeRule:
        """The most specific rule naming ``scope`` or a scope above it, else the default."""
        for candidate in ancestors(scope):
            rule = self.rules.get(candidate)
            if rule is not None:
                return rule
        return self.default

    def public_view(self) -> dict[str, Any]:
        """What the admin API shows: the policy as it rules now."""
        return {
            "version": self.version,
            "default": {k: v for k, v in self.default.public_view().items() if k != "scope"},
            "rules": [rule.public_view() for rule in self.rules.values()],
            "request_lifetime": self.request_lifetime,
            "poll_interval": self.poll_interval,
            "step_up": self.step_up,
            "review_interval": self.review_interval,
            "suspend_overdue": self.suspend_overdue,
            "destructive_calls": self.destructive_calls,
            "call_approver": self.call_approver,
        }


_RULE_FIELDS = frozenset({"scope", "decision", "max_duration", "approver_role", "approvers"})
_POLICY_FIELDS = frozenset(
    {
        "version",
        "default",
        "max_duration",
        "approver_role",
        "approvers",
        "rules",
        "request_lifetime",
        "poll_interval",
        "step_up",
        "review_interval",
        "suspend_overdue",
        "destructive_calls",
        "call_approver",
    }
)


def policy_from_table(table: Mapping[str, Any]) -> ApprovalPolicy:
    """The ``[approvals]`` table, checked; :class:`PolicyError` names the first problem.

    ``default``, ``max_duration``, ``approver_role`` and ``approvers`` at the top make the default
    rule; each ``[[approvals.rules]]`` entry names one scope.
    """
    unknown = sorted(set(table) - _POLICY_FIELDS)
    if unknown:
        raise PolicyError(f"[approvals]: unknown setting {unknown[0]!r}")
    default = _rule(
        {"scope": "", "decision": table.get("default", "approval")}
        | {k: table[k] for k in ("max_duration", "approver_role", "approvers") if k in table},
        "[approvals]",
    )
    rules: dict[str, ScopeRule] = {}
    entries = table.get("rules", [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise PolicyError("[approvals]: rules must be a list of tables ([[approvals.rules]])")
    for entry in entries:
        scope = entry.get("scope")
        if not is_scope_token(scope):
            raise PolicyError("[[approvals.rules]]: every rule needs a scope that is a valid scope token")
        if scope in rules:
            raise PolicyError(f"[[approvals.rules]]: scope {scope!r} has two rules")
        rules[scope] = _rule(entry, f"[[approvals.rules]] {scope!r}")
    values: dict[str, Any] = {"default": default, "rules": rules}
    for name in ("request_lifetime", "poll_interval", "review_interval"):
        if name in table:
            values[name] = _positive(table[name], name, "[approvals]")
    for name in ("step_up", "suspend_overdue"):
        if name in table:
            if not isinstance(table[name], bool):
                raise PolicyError(f"[approvals]: {name} must be true or false")
            values[name] = table[name]
    for name, allowed in (("destructive_calls", CALL_DECISIONS), ("call_approver", CALL_APPROVERS)):
        if name in table:
            if table[name] not in allowed:
                raise PolicyError(f"[approvals]: {name} must be one of {', '.join(allowed)}")
            values[name] = table[name]
    if "version" in table:
        values["version"] = str(table["version"])
    return ApprovalPolicy(**values)


def _rule(entry: Mapping[str, Any], where: str) -> ScopeRule:
    unknown = sorted(set(entry) - _RULE_FIELDS)
    if unknown:
        raise PolicyError(f"{where}: unknown setting {unknown[0]!r}")
    decision = entry.get("decision", "approval")
    if decision not in DECISIONS:
        raise PolicyError(f"{where}: decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    role = entry.get("approver_role", "security-admin")
    if role not in APPROVER_ROLES:
        raise PolicyError(f"{where}: approver_role must be one of {', '.join(APPROVER_ROLES)}")
    approvers = entry.get("approvers", 1)
    if approvers not in (1, 2) or isinstance(approvers, bool):
        raise PolicyError(f"{where}: approvers must be 1 or 2")
    return ScopeRule(
        scope=str(entry["scope"]),
        decision=decision,
        max_duration=_positive(entry.get("max_duration", 30 * DAY), "max_duration", where),
        approver_role=role,
        approvers=approvers,
    )


def _positive(value: Any, name: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise PolicyError(f"{where}: {name} must be a positive whole number of seconds")
    return value
