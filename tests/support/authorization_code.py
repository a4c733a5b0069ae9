"""The client's side of the authorization code grant with PKCE (RFC 7636, ``S256`` only).

A test plays a public client (``auth_method = "none"``): :class:`PublicClient` builds its
``/authorize`` URL and its code redemption form, :func:`s256` is the challenge of a verifier, and
:func:`query_of` reads the redirect that brings the answer back to the client.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.gateway_server import RunningGateway


def new_verifier() -> str:
    """A fresh PKCE code verifier: 64 unreserved characters."""
    return secrets.token_urlsafe(48)


def s256(verifier: str) -> str:
    """The ``S256`` code challenge of ``verifier`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    """The query of ``url``, the first value of each parameter (a redirect back to the client)."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@dataclass(frozen=True)
class PublicClient:
    """A public client as the tests play it: its id, its redirect URI, the scope and state it sends."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str

    def authorize_url(
        self, gateway: RunningGateway, verifier: str | None = None, **params: str | None
    ) -> str:
        """``/authorize`` with the challenge of ``verifier`` (a fresh one by default).

        ``params`` add to or override the query; a parameter given as ``None`` is left out.
        """
        query: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "code_challenge": s256(verifier or new_verifier()),
            "code_challenge_method": "S256",
            **params,
        }
        return (
            gateway.endpoint("/authorize")
            + "?"
            + urlencode({k: v for k, v in query.items() if v is not None})
        )

    def redemption_form(self, code: str, verifier: str | None, **extra: str | None) -> dict[str, str]:
        """The ``/token`` form that redeems ``code``; ``extra`` adds or overrides, ``None`` leaves out."""
        form: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            **extra,
        }
        return {name: value for name, value in form.items() if value is not None}
