"""Which audiences tokens may be minted for, and which of them a client may ask for."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import InvalidTarget
from gateway.oauth.clients import Client
from gateway.oauth.resources import canonical_resource


class Targets:
    """The gateway's own MCP endpoint plus the resources named in the configuration.

    A client with no ``audiences`` may ask only for the gateway's MCP endpoint.
    """

    def __init__(self, gateway_resource: str, others: Iterable[str] = ()) -> None:
        self.gateway_resource = canonical_resource(gateway_resource)
        self._known = {self.gateway_resource, *(canonical_resource(r) for r in others)}

    def choose(self, client: Client, requested: tuple[str, ...]) -> str:
        """The one audience of the token: the requested resource, or the gateway by default."""
        if len(requested) > 1:
            raise InvalidTarget("ask for one resource per token")
        audience = canonical_resource(requested[0]) if requested else self.gateway_resource
        if audience not in self._known:
            raise InvalidTarget("the requested resource is not known to this authorization server")
        allowed = {canonical_resource(a) for a in client.audiences} or {self.gateway_resource}
        if audience not in allowed:
            raise InvalidTarget("this client may not obtain tokens for the requested resource")
        return audience
