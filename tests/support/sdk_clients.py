"""The official ``mcp`` SDK's OAuth clients, as the tests drive them.

* :class:`SdkBrowser` is the ``redirect_handler`` / ``callback_handler`` pair the SDK's
  ``OAuthClientProvider`` asks for, played by a headless :class:`~tests.support.browser.Person` on
  an HTTP client of its own (the provider's client is busy inside its auth flow: reusing it
  deadlocks).
* :func:`private_key_jwt_provider` is the SDK's ``client_credentials`` provider for an agent
  that signs its assertions with an :class:`~tests.support.agents.AgentKey`.

Tokens are kept in ``examples.agent.MemoryTokenStorage``, the storage the example agent ships.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mcp.client.auth import AuthorizationCodeResult, TokenStorage
from mcp.client.auth.extensions.client_credentials import PrivateKeyJWTOAuthProvider, SignedJWTParameters

from tests.support.agents import AgentKey
from tests.support.browser import Outcome, Person
from tests.support.gateway_server import RunningGateway

AssertionProvider = Callable[[str], Awaitable[str]]
"""What the SDK calls for each client assertion: the audience in, the signed assertion out."""


@dataclass
class SdkBrowser:
    """The SDK's redirect and callback handlers, driving a :class:`Person`.

    With ``redirect_prefix`` the person stops at the redirect to it (the client's redirect URI);
    ``tamper`` rewrites what reaches the SDK, as an attacker's mix-up would.
    """

    person: Person
    redirect_prefix: str = ""
    tamper: Callable[[AuthorizationCodeResult], AuthorizationCodeResult] = lambda result: result
    authorize_urls: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorize_urls.append(authorization_url)
        outcome = await self.person.authorize(authorization_url, redirect_prefix=self.redirect_prefix)
        self.outcomes.append(outcome)

    async def callback_handler(self) -> AuthorizationCodeResult:
        outcome = self.outcomes[-1]
        if self.redirect_prefix:
            location = outcome.location
            assert location is not None and location.startswith(self.redirect_prefix + "?"), outcome
        assert outcome.code, f"no code in the redirect: {outcome.location}"
        return self.tamper(
            AuthorizationCodeResult(
                code=outcome.code, state=outcome.params.get("state"), iss=outcome.params.get("iss")
            )
        )


def signed_assertions(client_id: str, key: AgentKey) -> AssertionProvider:
    """The SDK's own assertion provider, signing with ``key`` as ``client_id`` (ES256)."""
    return SignedJWTParameters(
        issuer=client_id, subject=client_id, signing_key=key.pem, signing_algorithm="ES256"
    ).create_assertion_provider()


def private_key_jwt_provider(
    gateway: RunningGateway,
    client_id: str,
    key: AgentKey,
    storage: TokenStorage,
    assertions: AssertionProvider | None = None,
) -> PrivateKeyJWTOAuthProvider:
    """The SDK's provider for the gateway's MCP endpoint (assertions by :func:`signed_assertions`)."""
    return PrivateKeyJWTOAuthProvider(
        server_url=gateway.settings.mcp.resource,
        storage=storage,
        client_id=client_id,
        assertion_provider=assertions or signed_assertions(client_id, key),
        issuer=gateway.issuer,  # a plain string: the SDK's URL type would add a slash
    )
