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
        └── TemporarilyUnavailable   503 temporarily_unavailable (a store or upstream is down)

Every error leaves the process through :func:`render_oauth_error`, so a description never carries
a stack trace and every response carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import ClassVar

from starlette.responses import JSONResponse

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


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


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


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503


def render_oauth_error(exc: OAuthError) -> JSONResponse:
    """The JSON body of RFC 6749 §5.2, with the headers every OAuth error response needs."""
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient) and exc.basic_auth_used:
        headers["WWW-Authenticate"] = 'Basic realm="mcp-gateway"'
    if isinstance(exc, TemporarilyUnavailable):
        headers["Retry-After"] = "1"
    return JSONResponse(body, status_code=exc.status_code, headers=headers)
