"""The authorization server's HTTP face: its endpoints, built from the wired parts, and their routes.

GET  /.well-known/oauth-authorization-server[/<issuer path>]   RFC 8414
GET  /.well-known/openid-configuration[/<issuer path>]         the same document
GET  /jwks.json                                                 the keys that sign tokens
GET  /authorize, POST /authorize/login, GET|POST /authorize/consent (+ federated sign-in)
POST /token, /introspect, /revoke
POST /register, GET|PUT|DELETE /register/<client_id>           when dynamic registration is on
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import paths
from gateway.oauth.access_requests import AccessRequestEndpoints
from gateway.oauth.authorize.approval_at_consent import ApprovalAtConsent
from gateway.oauth.authorize.endpoint import AuthorizationEndpoint
from gateway.oauth.authorize.password_sign_in import PasswordSignIn
from gateway.oauth.authorize.sign_in_limits import SignInLimits
from gateway.oauth.clients.metadata_documents import METADATA_LOOKUPS_PER_MINUTE
from gateway.oauth.clients.registration import (
    RegistrationEndpoints,
    dcr_policy,
    registration_routes,
)
from gateway.oauth.exchange.grant import TokenExchangeGrant
from gateway.oauth.server_metadata import authorization_server_metadata
from gateway.oauth.token_endpoint.endpoint import TokenEndpoint
from gateway.oauth.token_endpoint.grants.authorization_code import AuthorizationCodeGrant
from gateway.oauth.token_endpoint.grants.client_credentials import ClientCredentialsGrant
from gateway.oauth.token_endpoint.grants.refresh_token import RefreshTokenGrant
from gateway.oauth.token_endpoint.introspection import IntrospectionEndpoints
from gateway.rate_limits import WindowCounter

if TYPE_CHECKING:
    from gateway.composition import Gateway


def _token_endpoint(gateway: Gateway) -> TokenEndpoint:
    settings, ttl, audit = gateway.settings, gateway.settings.tokens.access_token_ttl, gateway.audit
    targets, entitlements, clock = gateway.targets, gateway.approvals.entitlements, gateway.clock
    return TokenEndpoint(
        gateway.authenticator,
        [
            ClientCredentialsGrant(gateway.issuer, targets, entitlements, ttl, audit, clock),
            AuthorizationCodeGrant(
                gateway.codes,
                gateway.issuer,
                gateway.refresh_tokens,
                gateway.revocations,
                ttl,
                audit,
                clock,
                gateway.marks,
                entitlements,
            ),
            RefreshTokenGrant(
                gateway.refresh_tokens,
                gateway.issuer,
                entitlements,
                ttl,
                audit,
                clock,
            ),
            TokenExchangeGrant(
                gateway.exchanger,
                gateway.verifier,
                gateway.revocations,
                targets,
                frozenset({targets.gateway_resource, settings.server.issuer_id}),  # TE-2
                audit,
                gateway.marks,
                entitlements,
            ),
        ],
        settings.tokens.max_body_bytes,
        audit,
    )


def _cached_json(document: dict[str, Any], max_age: int) -> JSONResponse:
    return JSONResponse(document, headers={"Cache-Control": f"public, max-age={max_age}"})


def _access_request_routes(gateway: Gateway) -> list[Route]:
    server = gateway.settings.server
    endpoints = AccessRequestEndpoints(
        desk=gateway.approvals.requests,
        authenticator=gateway.authenticator,
        clients=gateway.clients,
        verifier=gateway.verifier,
        revocations=gateway.revocations,
        marks=gateway.marks,
        targets=gateway.targets,
        own_audiences=frozenset({gateway.targets.gateway_resource, server.issuer_id}),
        status_url=server.endpoint(paths.ACCESS_REQUESTS),
        max_body_bytes=gateway.settings.tokens.max_body_bytes,
        clock=gateway.clock,
        audit=gateway.audit,
    )
    return [
        Route(paths.ACCESS_REQUESTS, endpoints.file, methods=["POST"]),
        Route(paths.ACCESS_REQUESTS + "/{request_id}", endpoints.look, methods=["GET", "POST"]),
    ]


def _registration_routes(gateway: Gateway) -> list[Route]:
    """Dynamic registration (RFC 7591/7592), or no routes when ``dcr_enabled`` is off."""
    settings = gateway.settings
    registration = settings.registration
    if not registration.dcr_enabled:
        return []
    scopes = tuple(registration.dcr_allowed_scopes)  # describing a scope grants it to nobody
    endpoints = RegistrationEndpoints(
        clients=gateway.clients,
        store=gateway.store,
        clock=gateway.clock,
        policy=dcr_policy(scopes, allow_client_credentials=registration.dcr_allow_client_credentials),
        limiter=WindowCounter(
            gateway.store,
            gateway.clock,
            name="dcr-rate",
            limit=registration.dcr_rate_limit_per_minute,
            window=60,
        ),
        registration_uri=settings.server.endpoint(paths.REGISTER),
        audit=gateway.audit,
        requests=gateway.approvals.requests,
    )
    return registration_routes(endpoints)


def password_sign_in(gateway: Gateway) -> PasswordSignIn:
    """Built-in users' sign-in with its limits (SI-1): ``/authorize``'s and the console's forms."""
    return PasswordSignIn(gateway.users, SignInLimits(gateway.store, gateway.clock), gateway.audit)


def authorization_server_routes(gateway: Gateway) -> list[BaseRoute]:
    settings = gateway.settings
    server = settings.server
    tokens = _token_endpoint(gateway)
    introspection = IntrospectionEndpoints(
        gateway.authenticator,
        gateway.introspection_verifier,
        gateway.revocations,
        gateway.refresh_tokens,
        gateway.marks,
        settings.tokens.max_body_bytes,
        gateway.audit,
    )
    authorization = AuthorizationEndpoint(
        issuer=server.issuer_id,
        clients=gateway.clients,
        passwords=password_sign_in(gateway),
        browser=gateway.browser,
        federation=gateway.federation,
        codes=gateway.codes,
        targets=gateway.targets,
        entitlements=gateway.approvals.entitlements,
        scope_descriptions=settings.sign_in.scope_descriptions,
        audit=gateway.audit,
        approvals=ApprovalAtConsent(
            gateway.approvals.requests, gateway.audit, settings.sign_in.scope_descriptions
        ),
        document_lookups=WindowCounter(
            gateway.store, gateway.clock, name="cimd-lookup", limit=METADATA_LOOKUPS_PER_MINUTE, window=60
        ),
    )
    metadata = authorization_server_metadata(
        issuer=server.issuer_id,
        endpoint={
            name: server.endpoint(path)
            for name, path in (
                ("authorize", paths.AUTHORIZE),
                ("token", paths.TOKEN),
                ("jwks", paths.JWKS),
                ("introspect", paths.INTROSPECT),
                ("revoke", paths.REVOKE),
            )
        },
        grant_types=tokens.grant_types,
        registration_endpoint=server.endpoint(paths.REGISTER) if settings.registration.dcr_enabled else None,
        client_id_metadata_document_supported=settings.registration.cimd_enabled,
        access_request_endpoint=server.endpoint(paths.ACCESS_REQUESTS),
    )

    async def serve_metadata(request: Request) -> Response:
        return _cached_json(metadata, 300)

    async def serve_jwks(request: Request) -> Response:
        return _cached_json(await gateway.keys.jwks(), 60)

    well_known = [
        *paths.well_known_paths("oauth-authorization-server", server.issuer_id),
        *paths.well_known_paths("openid-configuration", server.issuer_id),
    ]
    return [
        *(Route(path, serve_metadata, methods=["GET"]) for path in well_known),
        Route(paths.JWKS, serve_jwks, methods=["GET"]),
        Route(paths.AUTHORIZE, authorization.authorize, methods=["GET"]),
        Route(paths.LOGIN, authorization.login, methods=["POST"]),
        Route(paths.CONSENT, authorization.consent_form, methods=["GET"]),
        Route(paths.CONSENT, authorization.consent, methods=["POST"]),
        *(gateway.federation.routes() if gateway.federation else []),
        Route(paths.TOKEN, tokens.handle, methods=["POST"]),
        Route(paths.INTROSPECT, introspection.introspect, methods=["POST"]),
        Route(paths.REVOKE, introspection.revoke, methods=["POST"]),
        *_registration_routes(gateway),
        *_access_request_routes(gateway),
    ]
