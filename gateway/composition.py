"""The composition root: every long-lived part of the gateway is built here, once, in one order.

``build_gateway`` reads :class:`~gateway.settings.Settings` and hands each part only what it needs;
the only other readers are the HTTP faces assembled from its parts (each role's ``routes``,
``gateway.app``, the server, the CLI), as ``tests/test_architecture.py`` checks. The seams (store,
clock, document fetcher, the upstream transport) are parameters, so tests replace them without
patching.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gateway import builders, paths
from gateway.admin.health import Replica
from gateway.approvals import Approvals, build_approvals
from gateway.approvals.policy import policy_from_table
from gateway.audit import AuditLog
from gateway.audit.exporters.core import Exporter
from gateway.audit.retention import Retention
from gateway.audit.store import AuditStore
from gateway.audit.trail import AuditTrail
from gateway.background import Supervisor
from gateway.clock import Clock, SystemClock
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.key_encryption import KeyProtector, protector_for
from gateway.keys import PURPOSES
from gateway.oauth.authorize.browser_state import BrowserState
from gateway.oauth.authorize.federation import FederatedSignIn
from gateway.oauth.authorize.oidc_provider import OidcProvider
from gateway.oauth.authorize.users import UserDirectory
from gateway.oauth.clients.metadata_documents import metadata_fetch_policy
from gateway.oauth.clients.model import configured_clients
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.clients.standing import StandingFromClients
from gateway.oauth.exchange.rules import ExchangePolicy, TokenExchanger
from gateway.oauth.token_endpoint.assertions import ClientKeys
from gateway.oauth.token_endpoint.client_auth import ClientAuthenticator
from gateway.oauth.tokens.access_tokens import AccessTokenIssuer, AccessTokenVerifier
from gateway.oauth.tokens.audiences import Targets, canonical_resource
from gateway.oauth.tokens.authorization_codes import AuthorizationCodes
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.oauth.tokens.refresh_families import RefreshTokens
from gateway.oauth.tokens.revocation import RevocationList
from gateway.resource.bearer import VerifiedTokenCache
from gateway.resource.sessions import SessionStore
from gateway.settings import Settings
from gateway.signing_keys import SigningKeys, signing_keys
from gateway.store import Store
from gateway.upstream.aiohttp_transport import AiohttpTransport
from gateway.upstream.discovery import Discovery
from gateway.upstream.downstream_tokens import DownstreamTokens
from gateway.upstream.mcp_client import UpstreamClient
from gateway.upstream.openapi_source import OpenApiToolSource
from gateway.upstream.pin_desk import PinDesk
from gateway.upstream.refresher import Refresher
from gateway.upstream.tool_sources import McpToolSource, ToolSource
from gateway.upstream.transport import UpstreamTransport
from gateway.webhooks.dispatcher import Webhooks
from gateway.webhooks.sender import SenderPolicy
from tools_registry.catalog import Catalog
from tools_registry.server_registry import ServerRegistry
from tools_registry.servers import Kind


@dataclass(frozen=True)
class Gateway:
    """The parts, wired. Tests, the CLI and the routes reach them through this one object."""

    settings: Settings
    # -- shared -------------------------------------------------------------------------------
    store: Store
    clock: Clock
    audit: AuditLog
    audit_trail: AuditTrail
    """The durable trail behind ``audit``: its buffer, its store, its checkpoints."""
    audit_task: Supervisor
    """Writes the trail's buffer every 100 ms and signs its checkpoints."""
    audit_exporters: tuple[Exporter, ...]
    """``[audit_export.<name>]``: each ships the trail somewhere, under a supervisor of its own."""
    audit_export_tasks: tuple[Supervisor, ...]
    audit_retention: Retention
    """Deletes what is past ``audit_retention_days`` and delivered by every exporter (AU-5)."""
    audit_retention_task: Supervisor
    fetcher: DocumentFetcher
    metadata_fetcher: DocumentFetcher
    # -- authorization server -----------------------------------------------------------------
    keys: SigningKeys
    clients: ClientRegistry
    users: UserDirectory
    issuer: AccessTokenIssuer
    verifier: AccessTokenVerifier
    """Trusts the ``gateway`` keys only: for every token the gateway accepts as a credential."""
    introspection_verifier: AccessTokenVerifier
    """Trusts both key sets: introspection answers for downstream tokens too."""
    revocations: RevocationList
    marks: NotBeforeMarks
    codes: AuthorizationCodes
    refresh_tokens: RefreshTokens
    targets: Targets
    exchanger: TokenExchanger
    authenticator: ClientAuthenticator
    browser: BrowserState
    federation: FederatedSignIn | None
    approvals: Approvals
    """Policy, grants and access requests: what every grant path narrows to (AP-1)."""
    approvals_task: Supervisor
    webhooks: Webhooks
    """Signed announcements of the approval loop's events (WH-1..3)."""
    webhooks_task: Supervisor
    # -- protected resource -------------------------------------------------------------------
    sessions: SessionStore
    verified_tokens: VerifiedTokenCache
    # -- operators ----------------------------------------------------------------------------
    admin_resource: str
    """The admin API's canonical URL: the audience its tokens must carry (AD-1)."""
    admin_tokens: VerifiedTokenCache
    """Verified admin tokens; never shared with ``/mcp``'s cache, which holds another audience."""
    replica: Replica
    # -- client of the upstream tools ---------------------------------------------------------
    servers: ServerRegistry
    catalog: Catalog
    pins: PinDesk
    """Pending tool definitions reviewed, approved or rejected (TP-5)."""
    transport: UpstreamTransport
    upstream: UpstreamClient
    rest_tools: OpenApiToolSource
    """REST APIs' operations: discovered from their OpenAPI documents, called by their requests."""
    downstream_tokens: DownstreamTokens
    discovery: Discovery
    refresher: Refresher
    refresher_task: Supervisor
    """Runs the refresher in the background and starts it again should it stop (UP-1)."""

    async def aclose(self) -> None:
        """Let go of everything the parts hold open, the trail first: what it buffered is written
        and signed while the store and the connections are still there."""
        await self.audit_trail.close()
        await self.transport.aclose()
        await self.rest_tools.aclose()
        await self.fetcher.aclose()
        await self.metadata_fetcher.aclose()
        await self.store.close()


def build_gateway(
    settings: Settings,
    store: Store,
    clock: Clock | None = None,
    fetcher: DocumentFetcher | None = None,
    transport: UpstreamTransport | None = None,
    metadata_fetcher: DocumentFetcher | None = None,
    key_protector: KeyProtector | None = None,
    audit_store: AuditStore | None = None,
) -> Gateway:
    """``fetcher`` fetches clients' ``jwks_uri`` (its allow-list is a setting); ``metadata_fetcher``
    fetches Client ID Metadata Documents and never reaches a private address (RG-3);
    ``key_protector`` seals private keys (by default from the ``key_encryption_key`` setting);
    ``audit_store`` keeps the audit trail (by default where the ``audit_store`` setting says)."""
    clock = clock or SystemClock()
    server, tokens, registration = settings.server, settings.tokens, settings.registration
    metadata_fetcher = metadata_fetcher or DocumentFetcher(metadata_fetch_policy(), clock=clock)
    fetcher = fetcher or DocumentFetcher(
        FetchPolicy(allowed_private_hosts=frozenset(registration.fetch_allowed_private_hosts)), clock=clock
    )

    # -- authorization server ---------------------------------------------------------------------
    admin_resource = canonical_resource(server.endpoint(paths.ADMIN_API))
    protector = key_protector or protector_for(server.key_encryption_key, server.store, os.environ)
    keys = signing_keys(  # the gateway accepts tokens for its /mcp, its issuer and its admin API
        store,
        clock,
        protector,
        own_audiences=(settings.mcp.resource, server.issuer_id, admin_resource),
        publish_lead=tokens.key_publish_lead,
        retire_after=tokens.access_token_ttl + 60,
        refresh_interval=tokens.key_refresh_interval,
    )
    trail = builders.audit_trail(settings, keys, clock, audit_store)
    audit = AuditLog(trail=trail, maker=trail.maker)
    exporters = builders.audit_exporters(settings, trail.store, clock)
    retention = builders.audit_retention(settings, trail.store, audit, clock, exporters)
    marks = NotBeforeMarks(store, clock)
    clients = ClientRegistry(
        store,
        configured_clients(settings.clients),
        builders.metadata_documents(settings, metadata_fetcher, clock),
        marks=marks,
    )
    users = UserDirectory(store, marks=marks)
    revocations = RevocationList(store, clock)
    issuer = AccessTokenIssuer(keys, server.issuer_id, clock)
    targets = Targets(
        settings.mcp.resource,
        (*tokens.resources, admin_resource),
        ((t.audience, t.scopes) for t in tokens.targets),
    )
    policy = ExchangePolicy(tokens.exchange_max_ttl, tokens.max_delegation_depth)
    exchanger = TokenExchanger(issuer, targets, revocations, clock, policy)
    webhooks = Webhooks(
        store,
        clock,
        protector,
        SenderPolicy(allowed_private_hosts=frozenset(server.webhooks_allowed_private_hosts)),
        audit,
    )
    approvals = build_approvals(
        store=store,
        clock=clock,
        audit=audit,
        announcer=webhooks,
        marks=marks,
        standing=StandingFromClients(clients),
        policy=policy_from_table(settings.approvals),
        default_resource=settings.mcp.resource,
        known_resource=targets.is_known,
        call_pages=server.endpoint(paths.CALL_PAGES),
    )
    assertions = builders.assertion_verifier(settings, clients, ClientKeys(fetcher), store, clock)
    browser = builders.browser_state(settings, store, clock, marks)
    federation = (
        FederatedSignIn(
            OidcProvider(builders.federation_config(settings), clock=clock),
            browser=browser,
            clients=clients,
            users=users,
            store=store,
            audit=audit,
        )
        if settings.federation.enabled
        else None
    )

    # -- client of the upstream tools -------------------------------------------------------------
    servers = builders.server_registry(settings, store, admin_resource, clock)
    catalog = Catalog(
        separator=settings.mcp.tool_namespace_separator, clock=clock.now, namespaces=servers.namespaces
    )
    transport = transport or AiohttpTransport()
    upstream = UpstreamClient(transport)
    keeper, pins = builders.tool_pins(servers.book, catalog, clock, audit, webhooks)
    rest_tools = OpenApiToolSource(builders.openapi_fetcher(settings, clock), servers)
    sources: dict[Kind, ToolSource] = {"mcp": McpToolSource(upstream, issuer), "openapi": rest_tools}
    discovery = Discovery(sources, catalog, targets, clock=clock, audit=audit, pins=keeper)
    refresher = Refresher(discovery, servers, store, upstream.list_changed, clock=clock)

    return Gateway(
        settings=settings,
        store=store,
        clock=clock,
        audit=audit,
        audit_trail=trail,
        audit_task=Supervisor("audit_flusher", trail.run, clock=clock, audit=audit),
        audit_exporters=exporters,
        audit_export_tasks=tuple(
            Supervisor(f"audit_export_{e.name}", e.run, clock=clock, audit=audit) for e in exporters
        ),
        audit_retention=retention,
        audit_retention_task=Supervisor("audit_retention", retention.run, clock=clock, audit=audit),
        fetcher=fetcher,
        metadata_fetcher=metadata_fetcher,
        keys=keys,
        clients=clients,
        users=users,
        issuer=issuer,
        verifier=AccessTokenVerifier(keys, ("gateway",), server.issuer_id, clock, leeway=0),
        introspection_verifier=AccessTokenVerifier(keys, PURPOSES, server.issuer_id, clock),
        revocations=revocations,
        marks=marks,
        codes=AuthorizationCodes(store, tokens.authorization_code_ttl, clock),
        refresh_tokens=RefreshTokens(
            store, revocations, clock, tokens.refresh_token_idle_ttl, tokens.refresh_token_absolute_ttl, marks
        ),
        targets=targets,
        exchanger=exchanger,
        authenticator=ClientAuthenticator(clients, assertions),
        browser=browser,
        federation=federation,
        approvals=approvals,
        approvals_task=Supervisor("approvals_sweeper", approvals.run, clock=clock, audit=audit),
        webhooks=webhooks,
        webhooks_task=Supervisor("webhook_deliveries", webhooks.run, clock=clock, audit=audit),
        sessions=SessionStore(store, settings.mcp.mcp_session_ttl),
        verified_tokens=VerifiedTokenCache(clock),
        admin_resource=admin_resource,
        admin_tokens=VerifiedTokenCache(clock, max_entries=100),
        replica=Replica(started_at=clock.now()),
        servers=servers,
        catalog=catalog,
        pins=pins,
        transport=transport,
        upstream=upstream,
        rest_tools=rest_tools,
        downstream_tokens=DownstreamTokens(exchanger, clock),
        discovery=discovery,
        refresher=refresher,
        refresher_task=Supervisor("catalogue_refresher", refresher.run, clock=clock, audit=audit),
    )
