"""Is this authorization request acceptable? A pure decision (CO-1, CO-6), taken once the client
and its redirect URI are known good, so every refusal here goes back to the client's redirect URI.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.approvals.entitlements import narrow_scopes
from gateway.errors import InvalidScope, InvalidTarget
from gateway.oauth.authorize.pkce import is_valid_challenge_or_verifier
from gateway.oauth.clients.model import Client
from gateway.oauth.tokens.audiences import Targets
from gateway.oauth.tokens.scope_requests import parse_scope
from tools_registry.scopes import covers


class RedirectedError(Exception):
    """An error reported to the client at its (already validated) redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def validate_request(
    client: Client,
    redirect_uri: str,
    params: dict[str, str],
    targets: Targets,
    held: tuple[str, ...],
    approvable: Callable[[str], bool] = lambda scope: False,
) -> dict[str, object]:
    """The fields of the pending request, or :class:`RedirectedError` naming the first problem;
    the scopes are narrowed to ``held``, what the client may hold now (AP-1). Requested scopes it
    does not hold but that are ``approvable`` (policy grants them after approval) are kept apart as
    ``awaiting`` (AP-3); with none held and none approvable, the request is ``invalid_scope``."""
    if params.get("request") or params.get("request_uri"):
        raise RedirectedError("request_not_supported", "request objects are not supported")
    if params.get("response_type") != "code":
        raise RedirectedError("unsupported_response_type", "only response_type=code is supported")
    challenge = params.get("code_challenge", "")
    if not challenge:
        raise RedirectedError("invalid_request", "PKCE is required: send code_challenge")
    if params.get("code_challenge_method") != "S256":
        raise RedirectedError("invalid_request", "code_challenge_method must be S256")
    if not is_valid_challenge_or_verifier(challenge):
        raise RedirectedError("invalid_request", "code_challenge must be 43-128 unreserved characters")
    try:
        requested = (params["resource"],) if "resource" in params else ()
        resource = targets.choose(client, requested)
        asked = parse_scope(params.get("scope"))
        awaiting = tuple(scope for scope in asked if not covers(held, scope) and approvable(scope))
        scopes = tuple(s for s in asked if covers(held, s)) if awaiting else narrow_scopes(asked, held)
    except (InvalidTarget, InvalidScope) as exc:
        raise RedirectedError(exc.error, exc.description) from None
    return {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scopes": scopes,
        "state": params.get("state"),
        "code_challenge": challenge,
        "resource": resource,
        "awaiting": awaiting,
    }
