"""The one error family of the gateway, and its one renderer.

    GatewayError
    └── OAuthError                   RFC 6749 §5.2 / RFC 8693 / RFC 7009 / RFC 7662 JSON errors
        ├── InvalidRequest           400 invalid_request
        ├── InvalidClient            401 invalid_client (+ WWW-Authenticate when Basic was used)
        ├── InvalidGrant             400 invalid_grant
        ├── UnauthorizedClient       400 unauthorized_client
        ├── UnsupportedGrantType     400 unsupported_grant_type
        ├── InvalidScope             400 invalid_scope
        ├── InvalidTarget            400 invalid_target (RFC 8707)
        ├── UnsupportedTokenType     400 unsupported_token_type (RFC 7009)
        ├── InvalidClientMetadata    400 invalid_client_metadata (RFC 7591 §3.2.2)
        ├── InvalidRedirectUri       400 invalid_redirect_uri (RFC 7591 §3.2.2)
        ├── InvalidBearerToken       401 invalid_token + WWW-Authenticate: Bearer (RFC 6750 §3.1)
        │   ├── BearerTokenInQuery   400 invalid_request: a token in the query string (PR-3)
        │   └── InsufficientScope    403 insufficient_scope: a valid token without the role (AD-1)
        ├── MisdirectedRequest       421 misdirected_request: an unknown Host (PR-6)
        ├── Forbidden                403 forbidden: a caller who may not do this (no self-approval)
        │   └── OriginNotAllowed     403 forbidden: a browser Origin that is not allowed (PR-6)
        ├── NotFound                 404 not_found (admin API)
        ├── MethodNotAllowed         405 method_not_allowed + Allow (admin API)
        ├── Conflict                 409 conflict: the record is no longer in a state that allows it
        ├── ContentTooLarge          413 invalid_request: a body over the endpoint's cap (admin API)
        ├── UnsupportedMediaType     415 invalid_request: a body not in the media type taken (admin API)
        ├── RateLimited              429 temporarily_unavailable + Retry-After
        ├── TemporarilyUnavailable   503 temporarily_unavailable (a store or upstream is down)
        └── ServerError              500 server_error: a fault of the gateway's own, no detail
    └── JSONRPCError                 a JSON-RPC error answer of the MCP endpoint, with its HTTP status

Every error leaves the process through :func:`render_error`, so a description never carries a
stack trace and every error response carries ``Cache-Control: no-store``. An error of the OAuth
family has two bodies: the RFC 6749 §5.2 JSON (:func:`render_oauth_error`) and, at the admin API,
RFC 9457 problem details (:func:`render_problem`, AD-2) with the same status and headers. The
handlers Starlette calls are at the end.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import ClassVar

from starlette.responses import JSONResponse, Response

from gateway.challenges import ResourceChallenge, bearer_challenge

logger = logging.getLogger("mcp_gateway")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PROBLEM_JSON = "application/problem+json"


class GatewayError(Exception):
    """Base of every error the gateway answers with."""


class OAuthError(GatewayError):
    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str = "", *, basic_auth_used: bool = False) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.basic_auth_used = basic_auth_used

    def headers(self) -> dict[str, str]:
        """Headers this error adds to the response (a challenge, ``Retry-After``)."""
        return {}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="mcp-gateway"'} if self.basic_auth_used else {}


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    error = "invalid_target"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidClientMetadata(OAuthError):
    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    error = "invalid_redirect_uri"


class InvalidBearerToken(OAuthError):
    """A missing or unacceptable bearer token at an endpoint the gateway guards itself (RFC 6750
    §3.1): ``/mcp`` (its challenge names the resource metadata) and RFC 7592 management."""

    error = "invalid_token"
    status_code = 401

    def __init__(
        self, description: str = "", *, token_sent: bool = True, challenge: ResourceChallenge | None = None
    ) -> None:
        super().__init__(description)
        self.token_sent = token_sent
        self.challenge = challenge

    def headers(self) -> dict[str, str]:
        error = self.error if self.token_sent else None  # no error code when no token was sent
        if self.challenge is None:
            return {"WWW-Authenticate": f'Bearer error="{error}"' if error else "Bearer"}
        challenge = bearer_challenge(
            resource_metadata=self.challenge.resource_metadata,
            scope=self.challenge.scope,
            error=error,
            description=self.description if error else "",
        )
        return {"WWW-Authenticate": challenge}


class BearerTokenInQuery(InvalidBearerToken):
    """RFC 6750 §2.3 / OAuth 2.1 §5.2: a token in the query string is refused, never read (PR-3)."""

    error = "invalid_request"
    status_code = 400


class InsufficientScope(InvalidBearerToken):
    """403: a valid token that lacks the scope the operation needs; the challenge's ``scope`` names
    it (RFC 6750 §3.1). The admin API's role check (AD-1)."""

    error = "insufficient_scope"
    status_code = 403


class MisdirectedRequest(OAuthError):
    """421: the ``Host`` is not a name this gateway serves (a DNS-rebinding attempt; PR-6)."""

    error = "misdirected_request"
    status_code = 421


class Forbidden(OAuthError):
    """403: an authenticated caller who may not do this (an approver of their own request, AP-4)."""

    error = "forbidden"
    status_code = 403


class OriginNotAllowed(Forbidden):
    """403: a browser page on an origin that is not allowed (PR-6)."""


class NotFound(OAuthError):
    error = "not_found"
    status_code = 404


class MethodNotAllowed(OAuthError):
    error = "method_not_allowed"
    status_code = 405

    def __init__(self, allow: str) -> None:
        super().__init__(f"this path answers {allow}")
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow}


class Conflict(OAuthError):
    error = "conflict"
    status_code = 409


class ContentTooLarge(OAuthError):
    """413 (RFC 9110 §15.5.14): a request body larger than the endpoint takes."""

    status_code = 413


class UnsupportedMediaType(OAuthError):
    """415 (RFC 9110 §15.5.16): a request body in a media type the endpoint does not take; the
    description names the one it takes."""

    status_code = 415


class RateLimited(OAuthError):
    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, description: str = "", *, retry_after: int = 1) -> None:
        super().__init__(description)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class ServerError(OAuthError):
    """500: a fault of the gateway's own; the answer says nothing more (the log has the type)."""

    error = "server_error"
    status_code = 500


def render_oauth_error(exc: OAuthError) -> JSONResponse:
    """The JSON body of RFC 6749 §5.2, with the headers every OAuth error response needs."""
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status_code, headers={**NO_STORE, **exc.headers()})


def render_problem(exc: OAuthError) -> JSONResponse:
    """The same error as RFC 9457 problem details (AD-2): ``about:blank`` with the status phrase as
    its title (§4.2.1), the description as ``detail``, the OAuth code as the ``error`` member."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(exc.status_code).phrase,
        "status": exc.status_code,
        "detail": exc.description or exc.error,
        "error": exc.error,
    }
    headers = {**NO_STORE, **exc.headers()}
    return JSONResponse(body, status_code=exc.status_code, headers=headers, media_type=PROBLEM_JSON)


class JSONRPCError(GatewayError):
    """A JSON-RPC error answer of the MCP endpoint (``status`` is the HTTP status to send)."""

    def __init__(
        self, code: int, message: str, *, request_id: object = None, status: int = 200, data: object = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status
        self.data = data
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": self.request_id, "error": error}


def render_jsonrpc_error(exc: JSONRPCError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def render_error(exc: GatewayError, *, problem: bool = False) -> Response:
    """The one way an error of the family becomes an HTTP answer; ``problem``: as RFC 9457
    problem details (the admin API) instead of the OAuth JSON."""
    if isinstance(exc, JSONRPCError):
        return render_jsonrpc_error(exc)
    if isinstance(exc, OAuthError):
        return render_problem(exc) if problem else render_oauth_error(exc)
    raise TypeError(f"{type(exc).__name__} has no renderer")  # pragma: no cover - a new subclass
