"""Small builders the composition root hands its verbose constructions to: each reads the settings
it needs and returns one part."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway import paths
from gateway.audit.checkpoints import Checkpointer
from gateway.audit.events import EventMaker
from gateway.audit.exporters.build import exporter_for
from gateway.audit.exporters.config import exporter_configs
from gateway.audit.exporters.core import Exporter
from gateway.audit.factory import audit_store_url, open_audit_store
from gateway.audit.log import AuditLog
from gateway.audit.retention import Retention
from gateway.audit.store import AuditStore
from gateway.audit.trail import AuditTrail, WhenUnavailable
from gateway.clock import Clock
from gateway.fetching.fetcher import DocumentFetcher, FetchPolicy
from gateway.oauth.authorize.browser_state import BrowserState, Cookies
from gateway.oauth.authorize.oidc_provider import FederationConfig
from gateway.oauth.authorize.roles import RoleMapping
from gateway.oauth.clients.metadata_documents import ClientMetadataDocuments, cimd_policy
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.token_endpoint.assertions import AssertionVerifier, ClientKeys
from gateway.oauth.tokens.not_before import NotBeforeMarks
from gateway.settings import Settings
from gateway.signing_keys import SigningKeys
from gateway.store import Store
from gateway.store.factory import open_state
from gateway.upstream.namespace_owners import NamespaceOwners
from gateway.upstream.pin_desk import PinDesk
from gateway.upstream.pin_keeper import PinKeeper
from gateway.upstream.pin_records import PinBook
from gateway.upstream.pin_registry import PinnedRegistry
from gateway.upstream.public_servers import PublicServers
from gateway.upstream.registration import Registrations
from gateway.webhooks import Announcer
from tools_registry.catalog import Catalog
from tools_registry.document_files import with_document_text
from tools_registry.openapi.documents import MAX_DOCUMENT_BYTES
from tools_registry.servers import configured_servers

if TYPE_CHECKING:
    from gateway.composition import Gateway

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


def server_registry(settings: Settings, store: Store, admin_resource: str, clock: Clock) -> PinnedRegistry:
    """The upstream servers, with the audiences none of them may hold (UP-4): the gateway's own
    resource, admin API and issuer, and the configured resources and exchange targets. Removing
    one forgets its pins (TP-8); at the first listing (the refresher's, at startup) the pins of
    servers registered nowhere are pruned after a grace (TP-10)."""
    tokens = settings.tokens
    reserved = (
        settings.mcp.resource,
        admin_resource,
        settings.server.issuer_id,
        *tokens.resources,
        *(target.audience for target in tokens.targets),
    )
    return PinnedRegistry(
        store,
        PinBook(store),
        configured_servers(with_document_text(table) for table in settings.servers),
        reserved_audiences=reserved,
        separator=settings.mcp.tool_namespace_separator,
        prune_clock=clock.now,
    )


def openapi_fetcher(settings: Settings, clock: Clock) -> DocumentFetcher:
    """Fetches REST APIs' OpenAPI documents at each refresh: the SSRF-safe fetcher, with the
    openapi package's size bound (OA-3), the jwks_uri allow-list, and no cache (each refresh is
    meant to see the document as it is now)."""
    policy = FetchPolicy(
        allowed_private_hosts=frozenset(settings.registration.fetch_allowed_private_hosts),
        max_bytes=MAX_DOCUMENT_BYTES,
        timeout=10.0,
        default_cache_seconds=0.0,
        max_cache_seconds=0.0,
    )
    return DocumentFetcher(policy, clock=clock)


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


def audit_trail(
    settings: Settings, keys: SigningKeys, clock: Clock, audit_store: AuditStore | None
) -> AuditTrail:
    """The durable trail: its store, its outage policy, its checkpoints signed with the gateway's
    own key set (never the downstream one)."""
    audit = settings.audit
    server = settings.server
    durable = audit_store or open_audit_store(
        audit_store_url(audit.audit_store, server.store), store_deadline=server.store_deadline
    )
    maker = EventMaker(clock)
    checkpointer = Checkpointer(
        durable,
        keys.rings["gateway"],
        maker,
        clock,
        issuer=settings.server.issuer_id,
        every_events=audit.audit_checkpoint_events,
        every_seconds=audit.audit_checkpoint_seconds,
    )
    policy: WhenUnavailable = "buffer" if audit.audit_when_unavailable == "buffer" else "fail_closed"
    return AuditTrail(
        durable,
        maker,
        when_unavailable=policy,
        max_buffered=audit.audit_buffer_events,
        checkpoints=checkpointer,
    )


def audit_exporters(settings: Settings, store: AuditStore, clock: Clock) -> tuple[Exporter, ...]:
    """One exporter per ``[audit_export.<name>]`` table, reading the trail's store."""
    return tuple(
        exporter_for(config, store, clock) for config in exporter_configs(settings.audit.audit_export)
    )


def audit_retention(
    settings: Settings, store: AuditStore, audit: AuditLog, clock: Clock, exporters: Sequence[Exporter]
) -> Retention:
    return Retention(
        store,
        audit,
        clock,
        days=settings.audit.audit_retention_days,
        exporters=[exporter.name for exporter in exporters],
        prune_unexported=settings.audit.audit_prune_unexported,
    )


def open_configured_state(settings: Settings, clock: Clock | None = None) -> Store:
    """The state the settings name: ``store``, beside ``hot_store`` if set, waited for
    ``store_deadline_ms`` per call."""
    server = settings.server
    return open_state(server.store, server.hot_store, clock, deadline=server.store_deadline)


def tool_pins(
    book: PinBook, catalog: Catalog, clock: Clock, audit: AuditLog, announcer: Announcer
) -> tuple[PinKeeper, PinDesk]:
    """TP-2, TP-5: what discovery settles each answer's definitions with, and the desk that decides
    the pending ones; one book of pins in the store for both (and for the registry, TP-8)."""
    store = book.store
    keeper = PinKeeper(book, clock=clock, audit=audit, announcer=announcer)
    return keeper, PinDesk(book, catalog, store, clock=clock, audit=audit, announcer=announcer)


def registrations(gateway: Gateway) -> Registrations:
    """The one registration service (AD-9) over the gateway's registry, its store's ownership
    records, its REST document source and its audit log: built by each face (CLI, admin API,
    console) from the same parts, so none keeps state of its own."""
    public = PublicServers(gateway.settings.registration.fetch_allowed_private_hosts)
    owners = NamespaceOwners(gateway.store)
    return Registrations(gateway.servers, owners, gateway.rest_tools, gateway.audit, public)
