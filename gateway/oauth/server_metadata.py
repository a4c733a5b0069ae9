"""Authorization server metadata (RFC 8414), OIDC discovery, and the JWKS document (AS-1)."""

from __future__ import annotations

from typing import Any

from gateway.oauth.clients.model import ASSERTION_ALGORITHMS

AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
TOKEN_AUTH_METHODS = [*AUTH_METHODS, "none"]


def authorization_server_metadata(
    *,
    issuer: str,
    endpoint: dict[str, str],
    grant_types: list[str],
    registration_endpoint: str | None = None,
    client_id_metadata_document_supported: bool = False,
    access_request_endpoint: str | None = None,
) -> dict[str, Any]:
    """The document served byte-for-byte at both well-known paths; ``issuer`` is never rewritten."""
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": endpoint["authorize"],
        "token_endpoint": endpoint["token"],
        "jwks_uri": endpoint["jwks"],
        "introspection_endpoint": endpoint["introspect"],
        "revocation_endpoint": endpoint["revoke"],
        "grant_types_supported": grant_types,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "authorization_response_iss_parameter_supported": True,
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
    }
    if registration_endpoint is not None:
        document["registration_endpoint"] = registration_endpoint  # RFC 7591
    if client_id_metadata_document_supported:
        document["client_id_metadata_document_supported"] = True  # RG-2, AS-1
    if access_request_endpoint is not None:
        document["access_request_endpoint"] = access_request_endpoint  # AP-3, this gateway's own
    return document
