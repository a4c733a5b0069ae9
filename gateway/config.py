"""Configuration: built-in defaults < TOML file < ``MCP_GATEWAY_*`` environment < command line.

The file is named by ``--config`` or ``MCP_GATEWAY_CONFIG``. Every scalar setting ``name`` can be
overridden by the environment variable ``MCP_GATEWAY_<NAME>`` (lists: comma-separated). Clients
and resources with structure (``[[clients]]``) come from the file only.

    issuer = "https://gateway.example"          # kept byte-exact: no slash is added or removed
    store = "redis://127.0.0.1:6379/0"
    access_token_ttl = 300

Bad configuration raises :class:`ConfigError`; the CLI prints its one line and exits with 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools_registry.servers import RegistryError, configured_servers
from tools_registry.urls import UrlError, web_url

ENV_PREFIX = "MCP_GATEWAY_"


class ConfigError(Exception):
    """One line that tells the operator what is wrong and where."""


@dataclass(frozen=True)
class ClientConfig:
    """A client pre-registered by the security team in the config file.

    Secrets in the file are stored hashed (``secret_hash = "sha256:…"``), never in clear.
    """

    client_id: str
    name: str = ""
    auth_method: str = "private_key_jwt"
    scopes: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("client_credentials",)
    redirect_uris: tuple[str, ...] = ()
    may_impersonate: bool = False
    jwks: Mapping[str, Any] | None = None
    jwks_uri: str | None = None
    secret_hash: str | None = None


@dataclass(frozen=True)
class TargetConfig:
    """A downstream audience tokens may be exchanged for, and the scopes it accepts."""

    audience: str
    scopes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    """Where agents reach the gateway; defaults to ``http://<host>:<port>``."""
    issuer: str = ""
    """The authorization server's issuer identifier; defaults to ``public_url``. Byte-exact."""
    store: str = "sqlite:///var/mcp-gateway.sqlite3"
    mcp_path: str = "/mcp"
    access_token_ttl: int = 300
    assertion_max_lifetime: int = 300
    clock_leeway: int = 30
    accept_token_endpoint_audience: bool = False
    """Legacy clients put the token endpoint URL in an assertion's ``aud``; off by default (CA-3)."""
    key_publish_lead: int = 600
    """Seconds a rotated key is published in the JWKS before it signs anything."""
    key_refresh_interval: int = 15
    fetch_allowed_private_hosts: tuple[str, ...] = ()
    """Hosts that may resolve to loopback/private addresses when fetching ``jwks_uri`` (off)."""
    resources: tuple[str, ...] = ()
    """Audiences, besides the gateway's own MCP endpoint, that tokens may be minted for."""
    authorization_code_ttl: int = 120
    refresh_token_idle_ttl: int = 7 * 24 * 3600
    refresh_token_absolute_ttl: int = 30 * 24 * 3600
    sign_in_session_ttl: int = 3600
    max_body_bytes: int = 64 * 1024
    mcp_max_body_bytes: int = 1024 * 1024
    """Largest JSON-RPC request the MCP endpoint reads; larger ones get 413."""
    mcp_session_ttl: int = 12 * 3600
    resource_scopes: tuple[str, ...] = ()
    """Scopes named in the MCP 401 challenge and ``scopes_supported`` (minimal; none by default)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins, besides the gateway's own, allowed to call the MCP endpoint."""
    allowed_hosts: tuple[str, ...] = ()
    """Host headers, besides the public URL's (and loopback names on a loopback bind), accepted."""
    log_level: str = "info"
    dcr_enabled: bool = True
    """Dynamic client registration (RFC 7591) at ``/register``, managed per RFC 7592."""
    dcr_allowed_scopes: tuple[str, ...] = ()
    """Scopes a registered (DCR) or CIMD client may hold; empty: the keys of ``scope_descriptions``."""
    dcr_rate_limit_per_minute: int = 20
    """Registrations accepted per client IP address per minute."""
    dcr_allow_client_credentials: bool = False
    """Whether a dynamically registered confidential client may use ``client_credentials`` (off)."""
    cimd_enabled: bool = True
    """Client ID Metadata Documents: an https ``client_id`` with a path names its own metadata."""
    clients: tuple[ClientConfig, ...] = field(default=())
    targets: tuple[TargetConfig, ...] = field(default=())
    """``[[targets]]``: audiences for token exchange with the scopes each accepts (TE-3, TE-4)."""
    servers: tuple[Mapping[str, Any], ...] = field(default=())
    """``[[servers]]``: upstream MCP servers, validated by ``tools_registry.servers`` at load time."""
    exchange_max_ttl: int = 300
    max_delegation_depth: int = 4
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)
    """What each scope lets an agent do, shown on the consent page (``[scope_descriptions]``)."""
    oidc_issuer: str = ""
    """Federated sign-in: the upstream OpenID provider's issuer URL (empty: off)."""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    """Prefer ``MCP_GATEWAY_OIDC_CLIENT_SECRET`` to the file."""
    oidc_scopes: tuple[str, ...] = ("openid",)
    oidc_provider_name: str = ""
    """The name on the "Sign in with …" button; defaults to the issuer's host."""

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{_url_host(self.host)}:{self.port}"

    @property
    def issuer_id(self) -> str:
        return self.issuer or self.base_url

    @property
    def mcp_resource(self) -> str:
        return self.base_url.rstrip("/") + self.mcp_path

    def endpoint(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


_TABLES = ("clients", "scope_descriptions", "targets", "servers")
_SCALARS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in _TABLES}
_CLIENT_FIELDS = {f.name for f in dataclasses.fields(ClientConfig)}


def load_settings(
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the layers in their documented order and validate the result."""
    env = os.environ if environ is None else environ
    path = config_path or env.get(ENV_PREFIX + "CONFIG")
    values: dict[str, Any] = {}
    if path:
        values.update(_read_file(Path(path)))
    for name in _SCALARS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _from_env(name, raw)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = _build(values, source=path or "environment")
    _validate(settings)
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def _from_env(name: str, raw: str) -> Any:
    kind = _SCALARS[name].type
    if "tuple" in str(kind):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if kind in ("bool", bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")
    if kind in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a whole number, got {raw!r}") from None
    return raw


def _build(values: dict[str, Any], source: str) -> Settings:
    unknown = sorted(set(values) - set(_SCALARS) - set(_TABLES))
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name == "clients":
            kwargs["clients"] = tuple(
                _client(entry, source) for entry in _list_of_tables(value, source, name)
            )
            continue
        if name == "targets":
            kwargs["targets"] = tuple(
                _target(entry, source) for entry in _list_of_tables(value, source, name)
            )
            continue
        if name == "servers":
            kwargs["servers"] = _servers(_list_of_tables(value, source, name), source)
            continue
        if name == "scope_descriptions":
            if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{source}: [scope_descriptions] must map scope names to text")
            kwargs[name] = dict(value)
            continue
        kwargs[name] = _coerce(name, value, source)
    return Settings(**kwargs)


def _list_of_tables(value: Any, source: str, name: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{source}: {name!r} must be a list of tables ([[{name}]])")
    return value


def _target(entry: Mapping[str, Any], source: str) -> TargetConfig:
    unknown = sorted(set(entry) - {"audience", "scopes", "description"})
    if unknown:
        raise ConfigError(f"{source}: unknown target setting {unknown[0]!r}")
    audience, scopes = entry.get("audience"), entry.get("scopes", [])
    if not isinstance(audience, str) or not audience:
        raise ConfigError(f"{source}: every [[targets]] entry needs an audience")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"{source}: target {audience!r} scopes must be a list of strings")
    return TargetConfig(audience, tuple(scopes), str(entry.get("description", "")))


def _servers(tables: list[Mapping[str, Any]], source: str) -> tuple[Mapping[str, Any], ...]:
    try:
        configured_servers(tables)
    except RegistryError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return tuple(tables)


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = str(_SCALARS[name].type)
    if "tuple" in kind:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {name!r} must be a list of strings")
        return tuple(value)
    expected: type = {"bool": bool, "int": int}.get(kind, str)
    if type(value) is not expected:
        raise ConfigError(f"{source}: {name!r} must be a {expected.__name__}, got {value!r}")
    return value


def _client(entry: Mapping[str, Any], source: str) -> ClientConfig:
    unknown = sorted(set(entry) - _CLIENT_FIELDS)
    if unknown:
        raise ConfigError(f"{source}: unknown client setting {unknown[0]!r}")
    if not isinstance(entry.get("client_id"), str) or not entry["client_id"]:
        raise ConfigError(f"{source}: every [[clients]] entry needs a client_id")
    values = dict(entry)
    for name in ("scopes", "audiences", "grant_types", "redirect_uris"):
        if name in values:
            values[name] = tuple(values[name])
    if isinstance(values.get("jwks"), str):
        try:
            values["jwks"] = json.loads(values["jwks"])
        except ValueError:
            raise ConfigError(
                f"{source}: client {entry['client_id']!r} has a jwks that is not JSON"
            ) from None
    return ClientConfig(**values)


def _check_url(name: str, url: str) -> None:
    """An https URL (http on loopback) without query, fragment or userinfo."""
    try:
        web_url(url, name, query=False)
    except UrlError as exc:
        raise ConfigError(str(exc)) from None


def _validate(settings: Settings) -> None:
    for name, url in (("issuer", settings.issuer_id), ("public_url", settings.base_url)):
        _check_url(name, url)
    if not settings.mcp_path.startswith("/"):
        raise ConfigError(f"mcp_path must start with '/', got {settings.mcp_path!r}")
    if not 0 < settings.port < 65536:
        raise ConfigError(f"port must be between 1 and 65535, got {settings.port}")
    for name in (
        "access_token_ttl",
        "assertion_max_lifetime",
        "key_publish_lead",
        "key_refresh_interval",
        "authorization_code_ttl",
        "refresh_token_idle_ttl",
        "refresh_token_absolute_ttl",
        "sign_in_session_ttl",
        "dcr_rate_limit_per_minute",
        "exchange_max_ttl",
        "max_delegation_depth",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(settings, name)}")
    if settings.access_token_ttl > 3600:
        raise ConfigError("access_token_ttl must be at most 3600 seconds (short-lived tokens)")
    if settings.authorization_code_ttl > 600:
        raise ConfigError("authorization_code_ttl must be at most 600 seconds (CO-3)")
    seen: set[str] = set()
    for client in settings.clients:
        if client.client_id in seen:
            raise ConfigError(f"client {client.client_id!r} is defined twice")
        seen.add(client.client_id)
    if settings.oidc_issuer:
        _validate_oidc(settings)


def _validate_oidc(settings: Settings) -> None:
    _check_url("oidc_issuer", settings.oidc_issuer)
    if not settings.oidc_client_id:
        raise ConfigError("oidc_issuer is set, so oidc_client_id is required")
    if "openid" not in settings.oidc_scopes:
        raise ConfigError("oidc_scopes must include 'openid'")
