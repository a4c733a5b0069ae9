"""Small builders the composition root hands its verbose constructions to: each reads the settings
it needs and returns one part."""

from __future__ import annotations

from gateway import paths
from gateway.clock import Clock
from gateway.fetching.fetcher import DocumentFetcher
from gateway.oauth.authorize.browser_state import BrowserState, Cookies
from gateway.oauth.authorize.oidc_provider import FederationConfig
from gateway.oauth.authorize.roles import RoleMapping
from gateway.oauth.clients.metadata_documents import ClientMetadataDocuments, cimd_policy
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.token_endpoint.assertions import AssertionVerifier, ClientKeys
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.settings import Settings
from gateway.store import Store
from tools_registry.server_registry import ServerRegistry
from tools_registry.servers import configured_servers

SIGN_IN_REQUEST_LIFETIME = 600
"""Seconds a pending authorization request waits for sign-in and consent."""


def assertion_verifier(
    settings: Settings, clients: ClientRegistry, keys: ClientKeys, store: Store, clock: Clock
) -> AssertionVerifier:
    server, tokens = settings.server, settings.tokens
    return AssertionVerifier(
        issuer=server.issuer_id,
        token_endpoint=server.endpoint(paths.TOKEN),
        accept_token_endpoint_audience=tokens.accept_token_endpoint_audience,
        max_lifetime=tokens.assertion_max_lifetime,
        leeway=tokens.clock_leeway,
        clients=clients,
        keys=keys,
        store=store,
        clock=clock,
    )


def browser_state(settings: Settings, store: Store, clock: Clock, marks: NotBeforeMarks) -> BrowserState:
    return BrowserState(
        store,
        Cookies(secure=settings.server.issuer_id.startswith("https://")),
        session_lifetime=settings.sign_in.sign_in_session_ttl,
        request_lifetime=SIGN_IN_REQUEST_LIFETIME,
        clock=clock,
        marks=marks,
    )


def server_registry(settings: Settings, store: Store, admin_resource: str) -> ServerRegistry:
    """The upstream servers, with the audiences none of them may hold (UP-4): the gateway's own
    resource, admin API and issuer, and the configured resources and exchange targets."""
    tokens = settings.tokens
    reserved = (
        settings.mcp.resource,
        admin_resource,
        settings.server.issuer_id,
        *tokens.resources,
        *(target.audience for target in tokens.targets),
    )
    return ServerRegistry(
        store,
        configured_servers(settings.servers),
        reserved_audiences=reserved,
        separator=settings.mcp.tool_namespace_separator,
    )


def metadata_documents(
    settings: Settings, fetcher: DocumentFetcher, clock: Clock
) -> ClientMetadataDocuments | None:
    """The CIMD resolver the client registry asks last, or None when ``cimd_enabled`` is off."""
    if not settings.registration.cimd_enabled:
        return None
    policy = cimd_policy(tuple(settings.registration.dcr_allowed_scopes))
    return ClientMetadataDocuments(fetcher, policy, clock)


def federation_config(settings: Settings) -> FederationConfig:
    federation = settings.federation
    return FederationConfig(
        issuer=federation.oidc_issuer,
        client_id=federation.oidc_client_id,
        client_secret=federation.oidc_client_secret,
        redirect_uri=settings.server.endpoint(paths.FEDERATED_CALLBACK),
        scopes=federation.oidc_scopes,
        provider_name=federation.oidc_provider_name,
        leeway=settings.tokens.clock_leeway,
        roles=RoleMapping(federation.oidc_role_claim, federation.oidc_role_mapping),
    )
