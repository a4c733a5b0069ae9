"""Who is calling the token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 7523).

Exactly one method per request (AS-2): HTTP Basic, ``client_secret`` in the body, or a
``client_assertion``; a public client (``none``) sends only its ``client_id``. Two methods at
once is ``invalid_request``; any failure is ``invalid_client``.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from gateway.errors import InvalidClient, InvalidRequest
from gateway.oauth.clients.model import Client
from gateway.oauth.clients.registry import ClientRegistry
from gateway.oauth.forms import Form
from gateway.oauth.token_endpoint.assertions import JWT_BEARER, AssertionVerifier


class ClientAuthenticator:
    def __init__(self, clients: ClientRegistry, assertions: AssertionVerifier) -> None:
        self._clients = clients
        self._assertions = assertions

    async def authenticate(self, authorization: str | None, form: Form) -> Client:
        basic = authorization is not None and authorization[:6].lower() == "basic "
        post = form.get("client_secret") is not None
        assertion = form.get("client_assertion") is not None or form.get("client_assertion_type") is not None
        if basic + post + assertion > 1:
            raise InvalidRequest("use exactly one client authentication method")
        if basic:
            assert authorization is not None
            return await self._basic(authorization[6:].strip(), form.get("client_id"))
        if post:
            return await self._secret(
                form.require("client_id"), form.require("client_secret"), "client_secret_post"
            )
        if assertion:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}")
            return await self._assertions.authenticate(
                form.require("client_assertion"), form.get("client_id")
            )
        return await self._public(form.get("client_id"))

    async def _public(self, client_id: str | None) -> Client:
        """A public client (``none``) names itself; PKCE is what binds its codes."""
        client = await self._clients.get(client_id) if client_id else None
        if client is None or client.auth_method != "none":
            raise InvalidClient("client authentication is required")
        return client

    async def _basic(self, credentials: str, body_client_id: str | None) -> Client:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            raw_id, raw_secret = decoded.split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidClient("malformed Basic credentials", basic_auth_used=True) from None
        client_id, secret = unquote(raw_id), unquote(raw_secret)
        if body_client_id is not None and body_client_id != client_id:
            raise InvalidClient("client_id does not match the Basic credentials", basic_auth_used=True)
        return await self._secret(client_id, secret, "client_secret_basic")

    async def _secret(self, client_id: str, secret: str, method: str) -> Client:
        try:
            client = await self._clients.get(client_id)
        except InvalidClient as exc:  # e.g. an unusable client metadata document (RG-2)
            raise InvalidClient(exc.description, basic_auth_used=method == "client_secret_basic") from None
        if client is None or client.auth_method != method or not client.verify_secret(secret):
            raise InvalidClient(
                "unknown client, wrong secret or wrong authentication method",
                basic_auth_used=method == "client_secret_basic",
            )
        return client
