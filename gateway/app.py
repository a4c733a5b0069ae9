"""Composition: build every part from the settings and a store, and route HTTP to them.

Nothing here decides anything; each concern lives in the module its name points to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit import AuditLog
from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.errors import (
    JSONRPCError,
    OAuthError,
    TemporarilyUnavailable,
    render_jsonrpc_error,
    render_oauth_error,
)
from gateway.keys import KeyManager, KeyRing
from gateway.oauth import clients as client_model
from gateway.oauth.assertions import AssertionVerifier, ClientKeys
from gateway.oauth.authorize import CONSENT_PATH, LOGIN_PATH, AuthorizationEndpoint
from gateway.oauth.cimd import resolver_for
from gateway.oauth.client_auth import ClientAuthenticator
from gateway.oauth.clients import ClientRegistry
from gateway.oauth.codes import AuthorizationCodes
from gateway.oauth.exchange import ExchangePolicy, TokenExchanger
from gateway.oauth.federation import FederatedSignIn, FederationConfig
from gateway.oauth.fetch import DocumentFetcher, FetchPolicy
from gateway.oauth.grants.authorization_code import AuthorizationCodeGrant
from gateway.oauth.grants.client_credentials import ClientCredentialsGrant
from gateway.oauth.grants.refresh_token import RefreshTokenGrant
from gateway.oauth.grants.token_exchange import TokenExchangeGrant
from gateway.oauth.introspection import IntrospectionEndpoints
from gateway.oauth.metadata import authorization_server_metadata
from gateway.oauth.refresh import RefreshTokens
from gateway.oauth.registration import REGISTER_PATH, registration_routes
from gateway.oauth.signin import BrowserState, Cookies
from gateway.oauth.targets import Targets
from gateway.oauth.token_endpoint import TokenEndpoint
from gateway.oauth.tokens import AccessTokenIssuer, AccessTokenVerifier, RevocationList
from gateway.oauth.users import UserDirectory
from gateway.resource.bearer import BearerAuth, VerifiedTokenCache
from gateway.resource.mcp_endpoint import McpEndpoint
from gateway.resource.metadata import PRM_ROOT, metadata_path, protected_resource_metadata
from gateway.resource.origin import OriginGuard
from gateway.resource.sessions import SessionStore
from gateway.resource.tool_directory import CatalogDirectory
from gateway.store import Store, StoreUnavailable
from gateway.upstream.discovery import Discovery, Refresher
from gateway.upstream.downstream_tokens import DownstreamTokens
from gateway.upstream.forwarding import ToolForwarder
from gateway.upstream.hop import UpstreamHop
from gateway.upstream.mcp_client import UpstreamClient
from tools_registry.catalog import Catalog
from tools_registry.servers import ServerRegistry, configured_servers

logger = logging.getLogger("mcp_gateway")

PATHS = {
    "authorize": "/authorize",
    "token": "/token",
    "jwks": "/jwks.json",
    "introspect": "/introspect",
    "revoke": "/revoke",
}


@dataclass(frozen=True)
class Gateway:
    """The parts, wired; tests and the CLI reach them through this one object."""

    settings: Settings
    store: Store
    clock: Clock
    keys: KeyManager
    keyring: KeyRing
    clients: ClientRegistry
    issuer: AccessTokenIssuer
    verifier: AccessTokenVerifier
    revocations: RevocationList
    fetcher: DocumentFetcher
    audit: AuditLog
    users: UserDirectory
    codes: AuthorizationCodes
    refresh_tokens: RefreshTokens
    targets: Targets
    exchanger: TokenExchanger
    downstream_tokens: DownstreamTokens
    servers: ServerRegistry
    catalog: Catalog
    hop: UpstreamHop
    upstream: UpstreamClient
    discovery: Discovery


def build_gateway(
    settings: Settings, store: Store, clock: Clock | None = None, fetcher: DocumentFetcher | None = None
) -> Gateway:
    clock = clock or SystemClock()
    keys = KeyManager(
        store, clock, publish_lead=settings.key_publish_lead, retire_after=settings.access_token_ttl + 60
    )
    keyring = KeyRing(keys, clock, refresh_interval=settings.key_refresh_interval)
    fetcher = fetcher or DocumentFetcher(
        FetchPolicy(allowed_private_hosts=frozenset(settings.fetch_allowed_private_hosts))
    )
    configured = tuple(client_model.from_config(entry) for entry in settings.clients)
    revocations = RevocationList(store, clock)
    issuer = AccessTokenIssuer(keyring, settings.issuer_id, clock)
    targets = Targets(
        settings.mcp_resource, settings.resources, ((t.audience, t.scopes) for t in settings.targets)
    )
    exchanger = TokenExchanger(
        issuer,
        targets,
        revocations,
        clock,
        ExchangePolicy(settings.exchange_max_ttl, settings.max_delegation_depth),
    )
    catalog = Catalog()
    hop = UpstreamHop()
    upstream = UpstreamClient(hop)
    return Gateway(
        settings=settings,
        store=store,
        clock=clock,
        keys=keys,
        keyring=keyring,
        clients=ClientRegistry(store, configured, resolver_for(settings, fetcher)),
        issuer=issuer,
        verifier=AccessTokenVerifier(keyring, settings.issuer_id, clock, leeway=0),
        revocations=revocations,
        fetcher=fetcher,
        audit=AuditLog(),
        users=UserDirectory(store),
        codes=AuthorizationCodes(store, settings.authorization_code_ttl),
        refresh_tokens=RefreshTokens(
            store, revocations, clock, settings.refresh_token_idle_ttl, settings.refresh_token_absolute_ttl
        ),
        targets=targets,
        exchanger=exchanger,
        downstream_tokens=DownstreamTokens(exchanger, clock),
        servers=ServerRegistry(store, configured_servers(settings.servers)),
        catalog=catalog,
        hop=hop,
        upstream=upstream,
        discovery=Discovery(upstream, issuer, catalog, targets),
    )


def _well_known_paths(name: str, issuer: str) -> list[str]:
    """RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path."""
    path = urlsplit(issuer).path.rstrip("/")
    return [f"/.well-known/{name}"] + ([f"/.well-known/{name}{path}"] if path else [])


def create_app(gateway: Gateway) -> Starlette:
    settings = gateway.settings
    assertions = AssertionVerifier(
        issuer=settings.issuer_id,
        token_endpoint=settings.endpoint(PATHS["token"]),
        accept_token_endpoint_audience=settings.accept_token_endpoint_audience,
        max_lifetime=settings.assertion_max_lifetime,
        leeway=settings.clock_leeway,
        clients=gateway.clients,
        keys=ClientKeys(gateway.fetcher),
        store=gateway.store,
        clock=gateway.clock,
    )
    authenticator = ClientAuthenticator(gateway.clients, assertions)
    targets = gateway.targets
    ttl, audit = settings.access_token_ttl, gateway.audit
    token_endpoint = TokenEndpoint(
        authenticator,
        [
            ClientCredentialsGrant(gateway.issuer, targets, ttl, audit),
            AuthorizationCodeGrant(
                gateway.codes,
                gateway.issuer,
                gateway.refresh_tokens,
                gateway.revocations,
                ttl,
                audit,
                gateway.clock,
            ),
            RefreshTokenGrant(gateway.refresh_tokens, gateway.issuer, ttl, audit),
            TokenExchangeGrant(
                gateway.exchanger,
                gateway.verifier,
                gateway.revocations,
                targets,
                frozenset({targets.gateway_resource, settings.issuer_id}),
                audit,
            ),
        ],
        settings.max_body_bytes,
        audit,
    )
    introspection = IntrospectionEndpoints(
        authenticator,
        gateway.verifier,
        gateway.revocations,
        gateway.refresh_tokens,
        settings.max_body_bytes,
        audit,
    )
    browser = BrowserState(
        gateway.store,
        Cookies(secure=settings.issuer_id.startswith("https://")),
        session_lifetime=settings.sign_in_session_ttl,
        request_lifetime=600,
    )
    federation = (
        FederatedSignIn(
            FederationConfig.from_settings(settings),
            browser=browser,
            clients=gateway.clients,
            users=gateway.users,
            store=gateway.store,
            audit=audit,
        )
        if settings.oidc_issuer
        else None
    )
    authorization = AuthorizationEndpoint(
        issuer=settings.issuer_id,
        clients=gateway.clients,
        users=gateway.users,
        browser=browser,
        federation=federation,
        codes=gateway.codes,
        targets=targets,
        scope_descriptions=settings.scope_descriptions,
        audit=audit,
    )
    metadata = authorization_server_metadata(
        issuer=settings.issuer_id,
        endpoint={name: settings.endpoint(path) for name, path in PATHS.items()},
        grant_types=token_endpoint.grant_types,
        registration_endpoint=settings.endpoint(REGISTER_PATH) if settings.dcr_enabled else None,
        client_id_metadata_document_supported=settings.cimd_enabled,
    )

    async def serve_metadata(request: Request) -> Response:
        return JSONResponse(metadata, headers={"Cache-Control": "public, max-age=300"})

    async def serve_jwks(request: Request) -> Response:
        keys = await gateway.keyring.current()
        return JSONResponse(keys.jwks, headers={"Cache-Control": "public, max-age=60"})

    mcp_app = _mcp_app(gateway)
    resource_metadata = protected_resource_metadata(
        resource=settings.mcp_resource,
        issuer=settings.issuer_id,
        scopes=settings.resource_scopes,
        jwks_uri=settings.endpoint(PATHS["jwks"]),
    )

    async def serve_resource_metadata(request: Request) -> Response:
        return JSONResponse(resource_metadata, headers={"Cache-Control": "public, max-age=300"})

    routes = [
        *(
            Route(p, serve_resource_metadata, methods=["GET"])
            for p in dict.fromkeys((metadata_path(settings.mcp_resource), PRM_ROOT))
        ),
        *(
            Route(p, serve_metadata, methods=["GET"])
            for p in _well_known_paths("oauth-authorization-server", settings.issuer_id)
        ),
        *(
            Route(p, serve_metadata, methods=["GET"])
            for p in _well_known_paths("openid-configuration", settings.issuer_id)
        ),
        Route(PATHS["jwks"], serve_jwks, methods=["GET"]),
        Route(PATHS["authorize"], authorization.authorize, methods=["GET"]),
        Route(LOGIN_PATH, authorization.login, methods=["POST"]),
        Route(CONSENT_PATH, authorization.consent_form, methods=["GET"]),
        Route(CONSENT_PATH, authorization.consent, methods=["POST"]),
        *(federation.routes() if federation else []),
        Route(PATHS["token"], token_endpoint.handle, methods=["POST"]),
        Route(PATHS["introspect"], introspection.introspect, methods=["POST"]),
        Route(PATHS["revoke"], introspection.revoke, methods=["POST"]),
        *registration_routes(settings, gateway.clients, gateway.store, gateway.clock, audit),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await gateway.keys.ensure_key()
        except StoreUnavailable:
            logger.warning("the store is unavailable at start-up; requests get 503 until it is back")
        refresher = Refresher(
            gateway.discovery, gateway.servers, gateway.catalog, gateway.store, gateway.upstream.list_changed
        )
        refreshing = asyncio.create_task(refresher.run())
        try:
            yield
        finally:
            refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refreshing
            await gateway.hop.aclose()
            await gateway.fetcher.aclose()
            await gateway.store.close()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(McpRoute, path=settings.mcp_path, mcp_app=mcp_app)],
        exception_handlers={
            OAuthError: _oauth_error,
            StoreUnavailable: _store_unavailable,
            Exception: _unexpected,
        },
    )


class McpRoute:
    """Sends ``/mcp`` straight to its own ASGI stack, ahead of the router and the exception
    middleware: the hot path of every tool call pays for neither. Its failures are rendered
    here, as JSON-RPC errors: 503 when the store cannot answer, 500 (no details) otherwise."""

    def __init__(self, app: ASGIApp, *, path: str, mcp_app: ASGIApp) -> None:
        self._app = app
        self._path = path
        self._mcp_app = mcp_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path:
            await self._app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._mcp_app(scope, receive, tracking_send)
        except StoreUnavailable as exc:
            logger.warning("store unavailable: %s", exc)
            if not started:
                error = JSONRPCError(-32603, "the state store is unavailable; retry shortly", status=503)
                await render_jsonrpc_error(error)(scope, receive, send)
        except Exception as exc:
            logger.error("unexpected error on %s: %s", self._path, type(exc).__name__)
            if not started:
                await render_jsonrpc_error(JSONRPCError(-32603, "internal error", status=500))(
                    scope, receive, send
                )


def _mcp_app(gateway: Gateway) -> ASGIApp:
    """``/mcp``: Host and Origin checks, then the bearer check, then the endpoint."""
    settings = gateway.settings
    endpoint = McpEndpoint(
        directory=CatalogDirectory(gateway.catalog),
        forwarder=ToolForwarder(gateway.downstream_tokens, gateway.upstream),
        sessions=SessionStore(gateway.store, settings.mcp_session_ttl),
        resource_metadata_url=settings.endpoint(metadata_path(settings.mcp_resource)),
        max_body_bytes=settings.mcp_max_body_bytes,
    )

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint.handle(Request(scope, receive), send)
        await response(scope, receive, send)

    bearer = BearerAuth(
        serve,
        verifier=gateway.verifier,
        revocations=gateway.revocations,
        resource=gateway.targets.gateway_resource,
        resource_metadata_url=settings.endpoint(metadata_path(settings.mcp_resource)),
        scopes=settings.resource_scopes,
        cache=VerifiedTokenCache(gateway.clock),
    )
    return OriginGuard(
        bearer,
        public_url=settings.base_url,
        allowed_origins=settings.allowed_origins,
        allowed_hosts=(*settings.allowed_hosts, *_loopback_hosts(settings)),
    )


def _loopback_hosts(settings: Settings) -> tuple[str, ...]:
    """On a loopback bind, the other names of loopback reach the same socket legitimately."""
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        return ()
    return tuple(f"{name}:{settings.port}" for name in ("127.0.0.1", "localhost", "[::1]"))


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_oauth_error(exc)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("store unavailable: %s", exc)
    return render_oauth_error(TemporarilyUnavailable("the state store is unavailable; retry shortly"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse({"error": "server_error"}, status_code=500, headers={"Cache-Control": "no-store"})
