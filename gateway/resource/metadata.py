"""Protected-resource metadata (RFC 9728; SPEC-NOTES PR-1)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

PRM_ROOT = "/.well-known/oauth-protected-resource"


def metadata_path(resource: str) -> str:
    """``/.well-known/oauth-protected-resource/<path of the resource>`` (RFC 9728 §3.1)."""
    return PRM_ROOT + urlsplit(resource).path.rstrip("/")


def protected_resource_metadata(
    *, resource: str, issuer: str, scopes: tuple[str, ...], jwks_uri: str
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "jwks_uri": jwks_uri,
        "resource_signing_alg_values_supported": ["ES256"],
    }
    if scopes:
        document["scopes_supported"] = list(scopes)
    return document
