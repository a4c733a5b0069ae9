"""The settings the configuration file gives as tables (``[[clients]]``, ``[[targets]]``,
``[[servers]]``, ``[scope_descriptions]``, ``[approvals]``, ``[oidc_role_mapping]``,
``[audit_export.<name>]``): each one's shape is checked here, what it may hold by the part that owns
it (the client model, the server registry, the approval policy, the roles, the audit exporters).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.approvals.policy import PolicyError, policy_from_table
from gateway.audit.exporters.config import exporter_configs
from gateway.oauth.authorize.roles import RoleError, checked_roles
from gateway.oauth.clients.model import CONFIG_FIELDS
from gateway.settings import TargetConfig
from tools_registry.document_files import with_document_text
from tools_registry.servers import RegistryError, configured_servers


class ConfigError(Exception):
    """One line that tells the operator what is wrong and where."""


def table_setting(name: str, value: Any, source: str) -> Any:
    """The value of the table setting ``name``, checked."""
    if name == "clients":
        return tuple(_client(entry, source) for entry in _list_of_tables(value, source, name))
    if name == "targets":
        return tuple(_target(entry, source) for entry in _list_of_tables(value, source, name))
    if name == "servers":
        return _servers(_list_of_tables(value, source, name), source)
    if name == "approvals":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: [approvals] must be a table")
        try:
            policy_from_table(value)
        except PolicyError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return dict(value)
    if name == "oidc_role_mapping":
        return _role_mapping(value, source)
    if name == "audit_export":
        try:
            exporter_configs(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return {str(key): dict(table) for key, table in value.items()}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{source}: [scope_descriptions] must map scope names to text")
    return dict(value)


def _role_mapping(value: Any, source: str) -> dict[str, tuple[str, ...]]:
    """``{claim value: role or [roles]}``, every role one the gateway knows (AD-6)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [oidc_role_mapping] must map claim values to roles")
    mapping: dict[str, tuple[str, ...]] = {}
    for claim_value, roles in value.items():
        listed = [roles] if isinstance(roles, str) else roles
        if not isinstance(listed, list | tuple) or not listed or not all(isinstance(r, str) for r in listed):
            raise ConfigError(
                f"{source}: [oidc_role_mapping] {claim_value!r} must name a role or a list of roles"
            )
        try:
            mapping[str(claim_value)] = checked_roles(listed)
        except RoleError as exc:
            raise ConfigError(f"{source}: [oidc_role_mapping] {claim_value!r}: {exc}") from None
    return mapping


def _list_of_tables(value: Any, source: str, name: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{source}: {name!r} must be a list of tables ([[{name}]])")
    return list(value)


def _target(entry: Mapping[str, Any], source: str) -> TargetConfig:
    unknown = sorted(set(entry) - {"audience", "scopes", "description"})
    if unknown:
        raise ConfigError(f"{source}: unknown target setting {unknown[0]!r}")
    audience, scopes = entry.get("audience"), entry.get("scopes", [])
    if not isinstance(audience, str) or not audience:
        raise ConfigError(f"{source}: every [[targets]] entry needs an audience")
    if not isinstance(scopes, list | tuple) or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"{source}: target {audience!r} scopes must be a list of strings")
    return TargetConfig(audience, tuple(scopes), str(entry.get("description", "")))


def _servers(tables: list[Mapping[str, Any]], source: str) -> tuple[Mapping[str, Any], ...]:
    try:  # a REST API's document file is read here, once: its text travels with the settings
        read = tuple(with_document_text(table) for table in tables)
        configured_servers(read)
    except RegistryError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return read


def _client(entry: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The table's shape; what a client may be is checked by the client model (:func:`_validate`)."""
    unknown = sorted(set(entry) - CONFIG_FIELDS)
    if unknown:
        raise ConfigError(f"{source}: unknown client setting {unknown[0]!r}")
    if not isinstance(entry.get("client_id"), str) or not entry["client_id"]:
        raise ConfigError(f"{source}: every [[clients]] entry needs a client_id")
    table = dict(entry)
    if isinstance(table.get("jwks"), str):
        try:
            table["jwks"] = json.loads(table["jwks"])
        except ValueError:
            raise ConfigError(
                f"{source}: client {entry['client_id']!r} has a jwks that is not JSON"
            ) from None
    return table
