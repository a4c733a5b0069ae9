"""Self-asserted client metadata (RFC 7591 §2), checked member by member (RG-1, RG-2).

The same rules serve both ways a client can describe itself: a dynamic registration (``POST
/register``) and a Client ID Metadata Document. Nothing a client says is trusted: every member the
gateway acts on is type-checked and validated against the gateway's policy, anything it does not
understand is ignored (RFC 7591 §2), and the result is a :class:`~gateway.oauth.clients.Client`
that has also passed :func:`~gateway.oauth.clients.validate`.

* ``redirect_uris``: CO-4 (https, or http only for loopback; no fragment; no ``javascript:``,
  ``data:`` …) — a refusal is ``invalid_redirect_uri``; every other refusal is
  ``invalid_client_metadata``;
* ``grant_types`` ⊆ the policy's set (``authorization_code``, ``refresh_token``; for DCR also
  ``client_credentials`` when a setting allows it), ``response_types`` ⊆ {``code``}, consistent
  with each other (RFC 7591 §2.1);
* ``token_endpoint_auth_method`` from the policy's set; ``jwks`` xor ``jwks_uri`` for
  ``private_key_jwt``; ``jwks_uri`` https only (fetched later by the one SSRF-safe fetcher);
* ``scope`` narrowed to the scopes self-described clients may hold, a held scope allowing the ones
  below it; when it names none of them (``openid email profile``) or is absent, the client gets
  the policy's whole set, the server's default (RFC 7591 §3.2.1): it is refused only when the
  policy lets self-registered clients hold nothing;
* ``client_name`` and the informational URIs and strings length-capped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from gateway.errors import InvalidClientMetadata, InvalidRedirectUri
from gateway.oauth.clients.model import AUTH_METHODS, AuthMethod, Client, ClientError, validate
from gateway.oauth.clients.redirect_uris import RedirectError, check_redirect_uri
from tools_registry.scopes import covers, is_scope_token
from tools_registry.urls import UrlError, split_url, web_url

MAX_CLIENT_NAME = 100
MAX_URI = 2048
MAX_REDIRECT_URIS = 16
MAX_CONTACTS = 10
MAX_SHORT_STRING = 255
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
CODE_GRANTS = frozenset({"authorization_code", "refresh_token"})
_INFO_URIS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
_INFO_STRINGS = ("software_id", "software_version")


@dataclass(frozen=True)
class MetadataPolicy:
    """What a self-described client may ask for."""

    allowed_scopes: tuple[str, ...]
    auth_methods: frozenset[str] = frozenset(AUTH_METHODS)
    grant_types: frozenset[str] = CODE_GRANTS
    default_auth_method: str = "client_secret_basic"
    """RFC 7591 §2: ``client_secret_basic`` when the member is absent (a CIMD policy says ``none``)."""
    kind: str = "dcr"
    """Recorded in the client's ``extra["registration"]``: ``dcr`` or ``cimd``."""


def _refuse(message: str) -> InvalidClientMetadata:
    return InvalidClientMetadata(message)


def _string(document: Mapping[str, Any], name: str, limit: int = MAX_SHORT_STRING) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise _refuse(f"{name} must be a non-empty printable string of at most {limit} characters")
    return value


def _string_list(document: Mapping[str, Any], name: str, limit: int) -> tuple[str, ...] | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(f"{name} must be an array of strings")
    if len(value) > limit:
        raise _refuse(f"{name} may hold at most {limit} entries")
    return tuple(dict.fromkeys(value))


def check_web_uri(name: str, uri: str) -> None:
    """An absolute https URL (http only on loopback) without userinfo or fragment."""
    try:
        web_url(uri, name, max_length=MAX_URI)
    except UrlError as exc:
        raise _refuse(str(exc)) from None


def _redirect_uris(document: Mapping[str, Any]) -> tuple[str, ...]:
    value = document.get("redirect_uris")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRedirectUri("redirect_uris must be an array of strings")
    if len(value) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(f"at most {MAX_REDIRECT_URIS} redirect URIs may be registered")
    for uri in value:
        if len(uri) > MAX_URI or not uri.isprintable():
            raise InvalidRedirectUri(f"a redirect URI must be at most {MAX_URI} printable characters")
        try:
            check_redirect_uri(uri)
        except RedirectError as exc:
            raise InvalidRedirectUri(str(exc)) from None
    return tuple(dict.fromkeys(value))


def _scopes(document: Mapping[str, Any], allowed: Sequence[str]) -> tuple[str, ...]:
    value = document.get("scope")
    if value is None:
        return tuple(dict.fromkeys(allowed))
    if not isinstance(value, str):
        raise _refuse("scope must be a string of space-separated scope tokens")
    requested = [token for token in value.split(" ") if token]
    if not all(is_scope_token(token) for token in requested):
        raise _refuse("scope must be space-separated printable tokens")
    defaults = tuple(dict.fromkeys(allowed))
    granted = tuple(dict.fromkeys(token for token in requested if covers(defaults, token)))
    if requested and not defaults:
        raise _refuse("self-registered clients may hold no scope here")
    return granted or defaults


def _grants_and_responses(
    document: Mapping[str, Any], policy: MetadataPolicy
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    grant_types = _string_list(document, "grant_types", 8)
    grant_types = ("authorization_code",) if grant_types is None else grant_types
    if not grant_types:
        raise _refuse("grant_types must not be empty")
    for grant in grant_types:
        if grant not in policy.grant_types:
            allowed = ", ".join(sorted(policy.grant_types))
            raise _refuse(f"grant type {grant[:64]!r} may not be registered; allowed: {allowed}")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise _refuse("refresh_token is only meaningful together with authorization_code")
    response_types = _string_list(document, "response_types", 4)
    if response_types is None:
        response_types = ("code",) if "authorization_code" in grant_types else ()
    for response_type in response_types:
        if response_type != "code":
            raise _refuse(f"response type {response_type[:64]!r} is not supported; only code")
    if ("code" in response_types) != ("authorization_code" in grant_types):
        raise _refuse("response_types code and grant_types authorization_code go together (RFC 7591 §2.1)")
    return grant_types, response_types


def _keys(document: Mapping[str, Any], auth_method: str) -> tuple[Mapping[str, Any] | None, str | None]:
    jwks, jwks_uri = document.get("jwks"), document.get("jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise _refuse("send jwks or jwks_uri, not both")
    if jwks is not None and not isinstance(jwks, dict):
        raise _refuse("jwks must be a JSON Web Key Set object")
    if jwks_uri is not None:
        if not isinstance(jwks_uri, str):
            raise _refuse("jwks_uri must be a string")
        check_web_uri("jwks_uri", jwks_uri)
        if split_url(jwks_uri, "jwks_uri").scheme.lower() != "https":
            raise _refuse("jwks_uri must use https")
    if auth_method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise _refuse("private_key_jwt needs the client's public keys: jwks or jwks_uri")
    return cast("Mapping[str, Any] | None", jwks), jwks_uri


def parse_client_metadata(
    document: Mapping[str, Any],
    policy: MetadataPolicy,
    *,
    client_id: str,
    secret_hash: str | None = None,
    issued_at: int = 0,
) -> Client:
    """The client ``document`` describes, or :class:`InvalidRedirectUri` / :class:`InvalidClientMetadata`.

    ``secret_hash`` is the gateway's own (the document never chooses a secret); it is kept only when
    the chosen method uses a secret.
    """
    redirect_uris = _redirect_uris(document)
    auth_method = document.get("token_endpoint_auth_method", policy.default_auth_method)
    if not isinstance(auth_method, str) or auth_method not in policy.auth_methods:
        allowed = ", ".join(sorted(policy.auth_methods))
        shown = auth_method[:64] if isinstance(auth_method, str) else auth_method
        raise _refuse(f"token_endpoint_auth_method {shown!r} is not accepted here; allowed: {allowed}")
    grant_types, response_types = _grants_and_responses(document, policy)
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidRedirectUri("a client using the authorization code flow needs redirect_uris")
    jwks, jwks_uri = _keys(document, auth_method)
    name = _string(document, "client_name", MAX_CLIENT_NAME)
    extra: dict[str, Any] = {"registration": policy.kind, "response_types": list(response_types)}
    for member in _INFO_URIS:
        uri = _string(document, member, MAX_URI)
        if uri is not None:
            check_web_uri(member, uri)
            extra[member] = uri
    for member in _INFO_STRINGS:
        text = _string(document, member)
        if text is not None:
            extra[member] = text
    contacts = _string_list(document, "contacts", MAX_CONTACTS)
    if contacts is not None:
        if any(not c or len(c) > MAX_SHORT_STRING or not c.isprintable() for c in contacts):
            raise _refuse(f"each contact must be a printable string of at most {MAX_SHORT_STRING} characters")
        extra["contacts"] = list(contacts)
    client = Client(
        client_id=client_id,
        auth_method=cast(AuthMethod, auth_method),
        name=name or "",
        scopes=_scopes(document, policy.allowed_scopes),
        grant_types=grant_types,
        redirect_uris=redirect_uris,
        jwks=jwks,
        jwks_uri=jwks_uri,
        secret_hash=secret_hash if auth_method in SECRET_METHODS else None,
        source=policy.kind,
        created_at=issued_at,
        extra=extra,
    )
    try:
        return validate(client)
    except ClientError as exc:
        raise _refuse(str(exc)) from None


def client_metadata(client: Client) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 view of a client: what the registration endpoints answer with."""
    extra = dict(client.extra)
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "client_id_issued_at": client.created_at,
        "token_endpoint_auth_method": client.auth_method,
        "grant_types": list(client.grant_types),
        "response_types": list(extra.get("response_types", [])),
        "redirect_uris": list(client.redirect_uris),
        "scope": " ".join(client.scopes),
    }
    if client.name:
        body["client_name"] = client.name
    if client.jwks is not None:
        body["jwks"] = dict(client.jwks)
    if client.jwks_uri is not None:
        body["jwks_uri"] = client.jwks_uri
    for member in (*_INFO_URIS, *_INFO_STRINGS, "contacts"):
        if member in extra:
            body[member] = extra[member]
    if client.secret_hash is not None:
        body["client_secret_expires_at"] = 0
    return body
