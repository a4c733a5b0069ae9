"""Protected-resource metadata (RFC 9728; PR-1)."""

from __future__ import annotations

from typing import Any


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
