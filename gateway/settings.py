"""The gateway's settings, in groups: one small frozen object per concern.

The file, the ``MCP_GATEWAY_*`` environment and the command line spell every setting flat
(``access_token_ttl = 300``); the loader (:mod:`gateway.config`) checks the values and files each
one in its group under the same name (``settings.tokens.access_token_ttl``). Every field with a
default is a setting; ``McpSettings.resource``, the one field without, is derived by the loader.

Only the composition root and the HTTP faces it assembles read these objects
(``tests/test_architecture.py``): every other part is handed the values it needs, so no part below
them depends on how the settings are laid out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerSettings:
    """Where the gateway listens, where agents reach it, what it calls itself, where it keeps state.

    >>> ServerSettings(port=9000).base_url
    'http://127.0.0.1:9000'
    >>> public = ServerSettings(public_url="https://gw.example", issuer="https://gw.example/")
    >>> public.issuer_id, public.endpoint("/token")
    ('https://gw.example/', 'https://gw.example/token')
    """

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """Where agents reach the gateway; defaults to ``http://<host>:<port>``."""
    issuer: str = ""
    """The authorization server's issuer identifier; defaults to ``public_url``. Byte-exact."""
    store: str = "sqlite:///var/mcp-gateway.sqlite3"
    hot_store: str = ""
    """A second store for the single-use and expiring keys (replay, deny-list, codes, sessions, rate
    limits, votes), e.g. a Redis Cluster beside a PostgreSQL ``store``; unset: ``store`` keeps both."""
    store_deadline_ms: int = 400
    """Milliseconds the gateway waits for one answer from a networked store (Redis, PostgreSQL, a
    PostgreSQL audit trail) before it fails closed with 503; at most 30,000."""
    key_encryption_key: str = ""
    """Where the key-encryption key that seals private keys at rest comes from: ``file:<path>`` or
    ``env:<NAME>``; unset, a file beside a SQLite store (created on first use), required for PostgreSQL
    and Redis."""
    log_level: str = "info"
    webhooks_allowed_private_hosts: tuple[str, ...] = ()
    """Hosts webhook deliveries may reach on loopback or private addresses, and over plain http
    (``host`` or ``host:port``; none by default: every receiver is public and https)."""

    @property
    def store_deadline(self) -> float:
        """``store_deadline_ms`` in seconds."""
        return self.store_deadline_ms / 1000

    @property
    def base_url(self) -> str:
        """Where agents reach the gateway: ``public_url``, else the address it is bound to."""
        return self.public_url or f"http://{_url_host(self.host)}:{self.port}"

    @property
    def issuer_id(self) -> str:
        """The issuer as published and as checked in tokens: ``issuer``, else ``base_url``."""
        return self.issuer or self.base_url

    def endpoint(self, path: str) -> str:
        """The public URL of one of the gateway's own paths."""
        return self.base_url.rstrip("/") + path


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class TargetConfig:
    """A downstream audience tokens may be exchanged for, and the scopes it accepts (``[[targets]]``).

    >>> TargetConfig("https://weather.example/mcp", ("weather:read",))
    TargetConfig(audience='https://weather.example/mcp', scopes=('weather:read',), description='')
    """

    audience: str
    scopes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TokenSettings:
    """What the authorization server issues and accepts: lifetimes, keys, audiences, exchange limits.

    >>> tokens = TokenSettings(access_token_ttl=600, resources=("https://tools.example/api",))
    >>> tokens.access_token_ttl, tokens.clock_leeway
    (600, 30)
    """

    access_token_ttl: int = 300
    assertion_max_lifetime: int = 300
    clock_leeway: int = 30
    accept_token_endpoint_audience: bool = False
    """Legacy clients put the token endpoint URL in an assertion's ``aud``; off by default (CA-3)."""
    key_publish_lead: int = 600
    """Seconds a rotated key is published in the JWKS before it signs anything."""
    key_refresh_interval: int = 15
    authorization_code_ttl: int = 120
    refresh_token_idle_ttl: int = 7 * 24 * 3600
    refresh_token_absolute_ttl: int = 30 * 24 * 3600
    exchange_max_ttl: int = 300
    max_delegation_depth: int = 4
    resources: tuple[str, ...] = ()
    """Audiences, besides the gateway's own MCP endpoint, that tokens may be minted for."""
    targets: tuple[TargetConfig, ...] = ()
    """``[[targets]]``: audiences for token exchange with the scopes each accepts (TE-3, TE-4)."""
    max_body_bytes: int = 64 * 1024
    """Largest form the token, introspection and revocation endpoints read."""


@dataclass(frozen=True)
class RegistrationSettings:
    """How clients may describe themselves: dynamic registration (RFC 7591/7592) and Client ID
    Metadata Documents, and which private hosts their documents may be fetched from.

        >>> RegistrationSettings(dcr_enabled=False, cimd_enabled=True).dcr_rate_limit_per_minute
        20
    """

    dcr_enabled: bool = True
    """Dynamic client registration (RFC 7591) at ``/register``, managed per RFC 7592."""
    dcr_allowed_scopes: tuple[str, ...] = ()
    """Scopes a registered (DCR) or CIMD client may hold; empty: none (describing a scope for the
    consent page grants it to nobody)."""
    dcr_rate_limit_per_minute: int = 20
    """Registrations accepted per client IP address per minute."""
    dcr_allow_client_credentials: bool = False
    """Whether a dynamically registered confidential client may use ``client_credentials`` (off)."""
    cimd_enabled: bool = True
    """Client ID Metadata Documents: an https ``client_id`` with a path names its own metadata."""
    fetch_allowed_private_hosts: tuple[str, ...] = ()
    """Hosts that may resolve to loopback/private addresses when fetching ``jwks_uri`` (off)."""


@dataclass(frozen=True)
class SignInSettings:
    """What a person sees and keeps at ``/authorize``: the consent page's words, the sign-in session.

    >>> SignInSettings(scope_descriptions={"tools:read": "Read your tools"}).sign_in_session_ttl
    3600
    """

    sign_in_session_ttl: int = 3600
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)
    """What each scope lets an agent do, shown on the consent page (``[scope_descriptions]``)."""


@dataclass(frozen=True)
class FederationSettings:
    """Sign-in at an upstream OpenID provider instead of the built-in users (off without an issuer).

    >>> FederationSettings().enabled
    False
    >>> FederationSettings(oidc_issuer="https://idp.example", oidc_client_id="gw").oidc_scopes
    ('openid',)
    """

    oidc_issuer: str = ""
    """Federated sign-in: the upstream OpenID provider's issuer URL (empty: off)."""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    """Prefer ``MCP_GATEWAY_OIDC_CLIENT_SECRET`` to the file."""
    oidc_scopes: tuple[str, ...] = ("openid",)
    oidc_provider_name: str = ""
    """The name on the "Sign in with …" button; defaults to the issuer's host."""
    oidc_role_claim: str = ""
    """The ID-token claim whose values give console roles (``groups``); empty: federated people
    hold no role."""
    oidc_role_mapping: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``[oidc_role_mapping]``: a value of that claim -> the role (or list of roles) it gives."""

    @property
    def enabled(self) -> bool:
        return bool(self.oidc_issuer)


@dataclass(frozen=True)
class McpSettings:
    """The MCP endpoint: its canonical URL (the ``aud`` of agents' tokens) and what it accepts.

    >>> mcp = McpSettings(resource="https://gw.example/mcp", allowed_origins=("https://app.example",))
    >>> mcp.mcp_path, mcp.mcp_max_body_bytes, mcp.tool_namespace_separator
    ('/mcp', 1048576, '__')
    """

    resource: str
    """The endpoint's canonical URL: the public URL and ``mcp_path``. Derived by the loader."""
    mcp_path: str = "/mcp"
    mcp_max_body_bytes: int = 1024 * 1024
    """Largest JSON-RPC request the MCP endpoint reads; larger ones get 413."""
    mcp_session_ttl: int = 12 * 3600
    resource_scopes: tuple[str, ...] = ()
    """Scopes named in the MCP 401 challenge and ``scopes_supported`` (minimal; none by default)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins, besides the gateway's own, allowed to call the MCP endpoint."""
    allowed_hosts: tuple[str, ...] = ()
    """Host headers, besides the public URL's (and loopback names on a loopback bind), accepted."""
    tool_namespace_separator: str = "__"
    """Joins server id and tool name in exposed tool names (``weather__get_forecast``): 1-4 of
    ``_ - .``. Without ``.`` every name is a valid OpenAI/Anthropic function name; ``.`` gives the
    older ``weather.get_forecast``."""


@dataclass(frozen=True)
class AuditSettings:
    """The durable audit trail (docs/audit.md): where it lives, what an outage does, how often it
    is signed.

    >>> AuditSettings().audit_when_unavailable, AuditSettings().audit_checkpoint_events
    ('fail_closed', 1000)
    """

    audit_store: str = ""
    """``sqlite:///path``, ``postgresql://…`` or ``memory://``; unset: a file beside a SQLite store
    (``<name>.audit.sqlite3``), the store's own database for a PostgreSQL store."""
    audit_when_unavailable: str = "fail_closed"
    """While the trail does not answer, a decision that grants is ``fail_closed`` (refused, 503) or
    given with its event kept in memory (``buffer``) until the trail answers."""
    audit_buffer_events: int = 10_000
    """Events kept in memory at most, waiting to be written."""
    audit_checkpoint_events: int = 1000
    """A signed checkpoint after this many events at most …"""
    audit_checkpoint_seconds: int = 60
    """… and after this many seconds at most, when events are unsigned."""
    audit_export: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``[audit_export.<name>]``: the exporters (JSON lines, syslog, OTLP), checked at load time by
    ``gateway.audit.exporters.config``; the name keys each one's position in the trail."""
    audit_retention_days: int = 0
    """Events older than this many days leave the trail once every exporter delivered them (0: kept
    forever)."""
    audit_prune_unexported: bool = False
    """With no exporter configured, whether retention may delete events no exporter copied (off:
    it deletes nothing, and says so once)."""


@dataclass(frozen=True)
class Settings:
    """Every setting, by group, as :func:`gateway.config.load_settings` (or, from flat names,
    :func:`gateway.config.settings_from`) builds them.

    The tables of structure stay as the file wrote them, checked at load time: the composition root
    turns ``clients`` into :class:`~gateway.oauth.clients.model.Client` objects and ``servers`` into
    :class:`~tools_registry.servers.UpstreamServer` objects, each with its own rules.
    """

    server: ServerSettings
    tokens: TokenSettings
    registration: RegistrationSettings
    sign_in: SignInSettings
    federation: FederationSettings
    mcp: McpSettings
    audit: AuditSettings = field(default_factory=AuditSettings)
    clients: tuple[Mapping[str, Any], ...] = ()
    """``[[clients]]``: clients pre-registered by the security team (secrets only as ``secret_hash``)."""
    servers: tuple[Mapping[str, Any], ...] = ()
    """``[[servers]]``: upstream MCP servers, validated by ``tools_registry.servers`` at load time."""
    approvals: Mapping[str, Any] = field(default_factory=dict)
    """``[approvals]``: the approval policy, validated by ``gateway.approvals.policy`` at load time."""
