"""Configuration: built-in defaults < TOML file < ``MCP_GATEWAY_*`` environment < command line.

The file is named by ``--config`` or ``MCP_GATEWAY_CONFIG``. Every scalar setting ``name`` can be
overridden by the environment variable ``MCP_GATEWAY_<NAME>`` (lists: comma-separated). Clients
and resources with structure (``[[clients]]``) come from the file only.

    issuer = "https://gateway.example"          # kept byte-exact: no slash is added or removed
    store = "redis://127.0.0.1:6379/0"
    access_token_ttl = 300

Every layer spells the settings flat; the result is grouped (:mod:`gateway.settings`), each value
under its own name in its group. Bad configuration raises :class:`ConfigError`; the CLI prints its
one line and exits with 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from gateway import paths
from gateway.config_tables import ConfigError, table_setting
from gateway.oauth.clients.model import ClientError, configured_clients
from gateway.settings import (
    AuditSettings,
    FederationSettings,
    McpSettings,
    RegistrationSettings,
    ServerSettings,
    Settings,
    SignInSettings,
    TokenSettings,
)
from gateway.store.factory import store_kind
from tools_registry.tool_names import check_separator, check_server_id
from tools_registry.urls import UrlError, web_url

__all__ = ["ENV_PREFIX", "ConfigError", "load_settings", "settings_from"]

ENV_PREFIX = "MCP_GATEWAY_"

_GROUPS: dict[str, type] = {
    "server": ServerSettings,
    "tokens": TokenSettings,
    "registration": RegistrationSettings,
    "sign_in": SignInSettings,
    "federation": FederationSettings,
    "mcp": McpSettings,
    "audit": AuditSettings,
}


def _is_setting(spec: Field[Any]) -> bool:
    """A field with a default is a setting; the one without (the MCP resource URL) is derived."""
    return spec.default is not MISSING or spec.default_factory is not MISSING


_GROUP_OF = {
    spec.name: group for group, kind in _GROUPS.items() for spec in fields(kind) if _is_setting(spec)
}
"""The group each flat name is filed under (``access_token_ttl`` -> ``tokens``)."""
_TABLES = (
    "clients",
    "scope_descriptions",
    "targets",
    "servers",
    "approvals",
    "oidc_role_mapping",
    "audit_export",
)
_SCALARS = {
    spec.name: spec
    for kind in _GROUPS.values()
    for spec in fields(kind)
    if _is_setting(spec) and spec.name not in _TABLES
}


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
    return _settings(values, source=path or "environment")


def settings_from(**values: Any) -> Settings:
    """Settings from flat names, with values as the file holds them, checked as the file is: the
    one way to build settings in code (tests, examples, benchmarks).

        settings_from(port=9000, store="memory://", clients=[{"client_id": "a", "jwks_uri": …}])

    Lists may also be tuples; a bad value raises :class:`ConfigError` with the file's message.
    """
    return _settings(values, source="settings")


def _settings(values: Mapping[str, Any], source: str) -> Settings:
    settings = _grouped(_build(values, source))
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


def _build(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Every value checked and typed; the names nobody set keep their defaults (absent here)."""
    unknown = sorted(set(values) - set(_SCALARS) - set(_TABLES))
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r}")
    built: dict[str, Any] = {}
    for name, value in values.items():
        if name in _TABLES:
            built[name] = table_setting(name, value, source)
        else:
            built[name] = _coerce(name, value, source)
    return built


def _grouped(values: Mapping[str, Any]) -> Settings:
    """Each value filed under its group; the MCP endpoint's URL follows from the server's."""
    by_group: dict[str, dict[str, Any]] = {group: {} for group in _GROUPS}
    for name, value in values.items():
        if name in _GROUP_OF:
            by_group[_GROUP_OF[name]][name] = value
    server = ServerSettings(**by_group["server"])
    mcp_path = by_group["mcp"].get("mcp_path", McpSettings.mcp_path)
    return Settings(
        server=server,
        tokens=TokenSettings(**by_group["tokens"]),
        registration=RegistrationSettings(**by_group["registration"]),
        sign_in=SignInSettings(**by_group["sign_in"]),
        federation=FederationSettings(**by_group["federation"]),
        mcp=McpSettings(resource=server.endpoint(mcp_path), **by_group["mcp"]),
        audit=AuditSettings(**by_group["audit"]),
        clients=values.get("clients", ()),
        servers=values.get("servers", ()),
        approvals=values.get("approvals", {}),
    )


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


def _check_url(name: str, url: str) -> None:
    """An https URL (http on loopback) without query, fragment or userinfo."""
    try:
        web_url(url, name, query=False)
    except UrlError as exc:
        raise ConfigError(str(exc)) from None


MAX_STORE_DEADLINE_MS = 30_000
"""A longer wait for a store is an outage: requests would pile up behind it instead of failing closed."""

_POSITIVE = (
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
    "audit_buffer_events",
    "audit_checkpoint_events",
    "audit_checkpoint_seconds",
)


def _validate(settings: Settings) -> None:
    server, tokens = settings.server, settings.tokens
    for name, url in (("issuer", server.issuer_id), ("public_url", server.base_url)):
        _check_url(name, url)
    mcp_path = settings.mcp.mcp_path
    if not mcp_path.startswith("/"):
        raise ConfigError(f"mcp_path must start with '/', got {mcp_path!r}")
    if mcp_path == paths.HEALTHZ or (mcp_path + "/").startswith(paths.CONSOLE + "/"):  # AD-1, AD-5
        raise ConfigError(f"mcp_path {mcp_path!r} is taken by the health probe, the console or the admin API")
    if server.hot_store and store_kind(server.hot_store) not in ("redis", "memory"):
        raise ConfigError(
            "hot_store must be a Redis URL (redis://, rediss://, redis+sentinel://, redis+cluster://)"
        )
    if not 0 < server.store_deadline_ms <= MAX_STORE_DEADLINE_MS:
        raise ConfigError(
            f"store_deadline_ms must be between 1 and {MAX_STORE_DEADLINE_MS}, got {server.store_deadline_ms}"
        )
    if not 0 < server.port < 65536:
        raise ConfigError(f"port must be between 1 and 65535, got {server.port}")
    counts = {**vars(tokens), **vars(settings.sign_in), **vars(settings.registration), **vars(settings.audit)}
    for name in _POSITIVE:
        if counts[name] <= 0:
            raise ConfigError(f"{name} must be positive, got {counts[name]}")
    if settings.audit.audit_when_unavailable not in ("fail_closed", "buffer"):
        raise ConfigError("audit_when_unavailable must be fail_closed or buffer")
    if settings.audit.audit_retention_days < 0:
        raise ConfigError("audit_retention_days must be 0 (keep forever) or a number of days")
    if tokens.access_token_ttl > 3600:
        raise ConfigError("access_token_ttl must be at most 3600 seconds (short-lived tokens)")
    if tokens.authorization_code_ttl > 600:
        raise ConfigError("authorization_code_ttl must be at most 600 seconds (CO-3)")
    try:
        configured_clients(settings.clients)
        separator = check_separator(settings.mcp.tool_namespace_separator)
        for table in settings.servers:  # UP-6: no id may blur into the separator of tool names
            check_server_id(table["id"], separator)
    except (ClientError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    if settings.federation.enabled:
        _validate_oidc(settings.federation)


def _validate_oidc(federation: FederationSettings) -> None:
    _check_url("oidc_issuer", federation.oidc_issuer)
    if not federation.oidc_client_id:
        raise ConfigError("oidc_issuer is set, so oidc_client_id is required")
    if "openid" not in federation.oidc_scopes:
        raise ConfigError("oidc_scopes must include 'openid'")
    if federation.oidc_role_mapping and not federation.oidc_role_claim:
        raise ConfigError("[oidc_role_mapping] is set, so oidc_role_claim must name the claim it maps")
