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
        │   └── BearerTokenInQuery   400 invalid_request: a token in the query string (PR-3)
        ├── MisdirectedRequest       421 misdirected_request: an unknown Host (PR-6)
        ├── OriginNotAllowed         403 forbidden: a browser Origin that is not allowed (PR-6)
        ├── RateLimited              429 temporarily_unavailable + Retry-After
        └── TemporarilyUnavailable   503 temporarily_unavailable (a store or upstream is down)
    └── JSONRPCError                 a JSON-RPC error answer of the MCP endpoint, with its HTTP status

Every error leaves the process through :func:`render_error` (OAuth bodies through
:func:`render_oauth_error`), so a description never carries a stack trace and every OAuth error
response carries ``Cache-Control: no-store``. The handlers Starlette calls are at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.store import StoreUnavailable

logger = logging.getLogger("mcp_gateway")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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


@dataclass(frozen=True)
class ResourceChallenge:
    """What a protected resource's challenge names (RFC 9728 §5.1): where its metadata is, and
    the scopes to ask for."""

    resource_metadata: str
    scope: str = ""


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


class MisdirectedRequest(OAuthError):
    """421: the ``Host`` is not a name this gateway serves (a DNS-rebinding attempt; PR-6)."""

    error = "misdirected_request"
    status_code = 421


class OriginNotAllowed(OAuthError):
    """403: a browser page on an origin that is not allowed (PR-6)."""

    error = "forbidden"
    status_code = 403


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


def render_oauth_error(exc: OAuthError) -> JSONResponse:
    """The JSON body of RFC 6749 §5.2, with the headers every OAuth error response needs."""
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return JSONResponse(body, status_code=exc.status_code, headers={**NO_STORE, **exc.headers()})


def bearer_challenge(
    *, resource_metadata: str, scope: str = "", error: str | None = None, description: str = ""
) -> str:
    """``WWW-Authenticate: Bearer …`` (RFC 6750 §3, RFC 9728 §5.1; PR-2).

    No ``error`` when no token was sent; ``invalid_token`` for a bad one; ``insufficient_scope``
    with every scope the operation needs.
    """
    params = []
    if error:
        params.append(f'error="{error}"')
        if description:
            params.append(f'error_description="{_challenge_text(description)}"')
    params.append(f'resource_metadata="{resource_metadata}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)


def _challenge_text(text: str) -> str:
    """RFC 6750 §3: ``error_description`` holds only %x20-21 / %x23-5B / %x5D-7E. A description
    can quote a token's content (a duplicated member name): anything else becomes ``?``, so a
    crafted token can neither break the challenge's quoting nor make the header unencodable."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


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


def render_error(exc: GatewayError) -> Response:
    """The one way an error of the family becomes an HTTP answer."""
    if isinstance(exc, JSONRPCError):
        return render_jsonrpc_error(exc)
    if isinstance(exc, OAuthError):
        return render_oauth_error(exc)
    raise TypeError(f"{type(exc).__name__} has no renderer")  # pragma: no cover - a new subclass


# -- the application's exception handlers --------------------------------------------------------
async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_oauth_error(exc)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("store unavailable: %s", exc)
    return render_oauth_error(TemporarilyUnavailable("the state store is unavailable; retry shortly"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"error": "server_error"}, status_code=500, headers={"Cache-Control": "no-store"})


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    OAuthError: _oauth_error,
    StoreUnavailable: _store_unavailable,
    Exception: _unexpected,
}
"""Starlette's ``exception_handlers`` for every route but ``/mcp`` (which renders its own)."""
