"""Client ID Metadata Documents (RG-2): a ``client_id`` that is an https URL with a path
names a JSON document, published by the client, that describes it.

The :class:`~gateway.oauth.clients.registry.ClientRegistry` asks :class:`ClientMetadataDocuments`
for any id it does not know itself, so ``/authorize``, ``/token``, introspection and revocation all
see CIMD clients through the one lookup they already make. Resolving one:

1. the URL: a path other than ``/`` without dot segments, no fragment, no userinfo, at most 255
   characters;
2. the document, through an SSRF-safe :class:`~gateway.fetching.fetcher.DocumentFetcher` of its own
   (RG-3): https only and never a private or loopback address, whatever the ``jwks_uri`` allow-list
   says (anyone can make the gateway fetch one, anonymously, through ``/authorize``); address
   resolved once and pinned, no redirects, 5 KB cap, short deadline, JSON only, cached by its HTTP
   caching headers. Why a fetch failed is logged and audited but never told: the answer is one
   generic refusal, so the error page is no port scanner. A refused URL is remembered for
   :data:`REFUSAL_CACHE_SECONDS`: asking again costs no fetch;
3. its ``client_id`` equals the URL exactly (byte for byte), it carries no client secret;
4. its metadata passes the same rules as a dynamic registration, with a narrower policy: only the
   ``none`` and ``private_key_jwt`` methods (there is no way to share a secret), only the
   ``authorization_code`` / ``refresh_token`` grants, scopes narrowed to the DCR set. An absent
   ``token_endpoint_auth_method`` means ``none`` here (RFC 7591's ``client_secret_basic`` default
   cannot apply to a document).

Any refusal raises :class:`ClientMetadataRefused`: an ``invalid_client`` at the token endpoint, an
error page at ``/authorize``. Nothing is stored: the document is the client.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from urllib.parse import urlsplit

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.errors import InvalidClient, InvalidClientMetadata, InvalidRedirectUri
from gateway.fetching.fetcher import DocumentFetcher, FetchError, FetchPolicy
from gateway.oauth.clients.model import Client, ClientError
from gateway.oauth.clients.self_described import CODE_GRANTS, MetadataPolicy, parse_client_metadata
from tools_registry.urls import UrlError, web_url

MAX_CLIENT_ID_URL = 255
REFUSAL_CACHE_SECONDS = 60.0
METADATA_LOOKUPS_PER_MINUTE = 60
"""``/authorize`` requests naming a client id URL accepted per source address per minute (RG-3)."""
MAX_REMEMBERED_REFUSALS = 1024
NOT_FETCHED = "the client metadata document could not be fetched"
"""The one answer for every fetch failure (unreachable, refused address, wrong type, too large…)."""
CIMD_AUTH_METHODS = frozenset({"none", "private_key_jwt"})


logger = logging.getLogger("mcp_gateway.cimd")


def metadata_fetch_policy() -> FetchPolicy:
    """RG-3: https only, never a private or loopback address; no setting widens it."""
    return FetchPolicy(allowed_private_hosts=frozenset(), allow_http_for_allowed_hosts=False)


class ClientMetadataRefused(InvalidClient, ClientError):
    """A client metadata document that cannot be used; the description says why."""


def cimd_policy(allowed_scopes: tuple[str, ...]) -> MetadataPolicy:
    return MetadataPolicy(
        allowed_scopes=allowed_scopes,
        auth_methods=CIMD_AUTH_METHODS,
        grant_types=CODE_GRANTS,
        default_auth_method="none",
        kind="cimd",
    )


def looks_like_metadata_url(client_id: str) -> bool:
    """Whether ``client_id`` is meant as a document URL (checked strictly when it is resolved)."""
    if not client_id.lower().startswith(("https://", "http://")):
        return False
    try:
        return urlsplit(client_id).path not in ("", "/")
    except ValueError:
        return False


def check_metadata_url(url: str) -> None:
    """The shape rules of a client id URL; :class:`ClientMetadataRefused` when one is broken."""
    try:  # https or not is the fetcher's decision (its allow-list may admit plain http)
        parts = web_url(url, "a client id URL", https_off_loopback=False, max_length=MAX_CLIENT_ID_URL)
    except UrlError as exc:
        raise ClientMetadataRefused(str(exc)) from None
    if parts.path in ("", "/"):
        raise ClientMetadataRefused("a client id URL needs a path")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise ClientMetadataRefused("a client id URL must not have . or .. path segments")


class ClientMetadataDocuments:
    """Resolves the clients that describe themselves; the client registry asks it last."""

    def __init__(
        self, fetcher: DocumentFetcher, policy: MetadataPolicy, clock: Clock, audit: AuditLog | None = None
    ) -> None:
        """``fetcher``: built with :func:`metadata_fetch_policy` in production (tests may serve
        documents from loopback through one with an allow-list)."""
        self._fetcher = fetcher
        self._policy = policy
        self._clock = clock
        self._audit = audit or AuditLog()
        self._refused: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def handles(self, client_id: str) -> bool:
        return looks_like_metadata_url(client_id)

    async def resolve(self, client_id: str) -> Client:
        now = self._clock.now()
        remembered = self._refused.get(client_id)
        if remembered is not None and remembered[0] > now:
            raise ClientMetadataRefused(remembered[1])
        try:
            return await self._resolve(client_id)
        except ClientMetadataRefused as exc:
            if exc.description != NOT_FETCHED:  # a fetch failure was audited with its real reason
                self._audit.record("client_metadata_document", outcome="refused", reason=exc.description)
            self._remember_refusal(client_id, now + REFUSAL_CACHE_SECONDS, exc.description)
            raise

    def _remember_refusal(self, client_id: str, until: float, description: str) -> None:
        self._refused[client_id] = (until, description)
        self._refused.move_to_end(client_id)
        while len(self._refused) > MAX_REMEMBERED_REFUSALS:
            self._refused.popitem(last=False)

    async def _resolve(self, url: str) -> Client:
        check_metadata_url(url)
        try:
            document = await self._fetcher.fetch_json(url)
        except FetchError as exc:  # the reason stays here: telling it would make a port scanner
            logger.info("client metadata document %s not fetched: %s", url, exc)
            self._audit.record("client_metadata_document", outcome="refused", reason=str(exc))
            raise ClientMetadataRefused(NOT_FETCHED) from None
        if document.get("client_id") != url:
            raise ClientMetadataRefused("the client metadata document's client_id is not exactly its URL")
        if "client_secret" in document or "client_secret_expires_at" in document:
            raise ClientMetadataRefused("a client metadata document must not carry a client secret")
        try:
            return parse_client_metadata(document, self._policy, client_id=url)
        except (InvalidClientMetadata, InvalidRedirectUri) as exc:
            raise ClientMetadataRefused(
                f"the client metadata document is not acceptable: {exc.description}"
            ) from None
