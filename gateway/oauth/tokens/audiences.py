"""Which audiences tokens may be minted for, which scopes each accepts, and who may ask.

Targets are the gateway's own MCP endpoint, the ``resources`` and ``[[targets]]`` of the
configuration, and (registered at run time) the upstream servers of ``tools_registry``. A target
without a scope list accepts any scope; one with a list accepts only those (TE-4).
A client with no ``audiences`` may ask only for the gateway's MCP endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import InvalidTarget
from gateway.oauth.clients.model import Client
from tools_registry.scopes import covers
from tools_registry.urls import UrlError, canonical_url, web_url


def canonical_resource(value: str) -> str:
    """A resource indicator in the form audiences are compared in (RFC 8707 §2): an absolute
    http(s) URI without fragment or userinfo, lowercase scheme and host, no default port, no lone
    ``/`` path; anything else is ``invalid_target``.

    >>> canonical_resource("HTTPS://Gateway.Example:443/mcp")
    'https://gateway.example/mcp'
    """
    try:
        web_url(value, "resource", https_off_loopback=False)
    except UrlError as exc:
        raise InvalidTarget(str(exc)) from None
    return canonical_url(value)


class Targets:
    def __init__(
        self,
        gateway_resource: str,
        others: Iterable[str] = (),
        scoped: Iterable[tuple[str, Iterable[str]]] = (),
    ) -> None:
        self.gateway_resource = canonical_resource(gateway_resource)
        self._accepted: dict[str, frozenset[str] | None] = {self.gateway_resource: None}
        self._owners: dict[str, dict[str, frozenset[str]]] = {}
        for resource in others:
            self._accepted[canonical_resource(resource)] = None
        for resource, scopes in scoped:
            self.register(resource, scopes)

    def register(self, resource: str, scopes: Iterable[str], owner: str = "") -> str:
        """Add (or replace) what ``owner`` says the target accepts; returns its canonical form.

        Several owners (upstream servers) may share one audience: it accepts what any of them does.
        """
        audience = canonical_resource(resource)
        owned = self._owners.setdefault(audience, {})
        owned[owner] = frozenset(scopes)
        self._accepted[audience] = frozenset().union(*owned.values())
        return audience

    def unregister(self, owner: str) -> None:
        """``owner`` (an upstream server) is gone: its audience accepts nothing of it any more, and
        an audience no one else holds is forgotten, so no token is minted for it (UP-4)."""
        for audience in [a for a, owned in self._owners.items() if owner in owned]:
            owned = self._owners[audience]
            del owned[owner]
            if owned:
                self._accepted[audience] = frozenset().union(*owned.values())
            else:
                del self._owners[audience]
                del self._accepted[audience]

    def is_known(self, resource: str) -> bool:
        try:
            self.known(resource)
        except InvalidTarget:
            return False
        return True

    def known(self, requested: str) -> str:
        """The canonical audience, or ``invalid_target`` when no such target exists."""
        audience = canonical_resource(requested)
        if audience not in self._accepted:
            raise InvalidTarget("the requested resource is not known to this authorization server")
        return audience

    def accepts(self, audience: str, scope: str) -> bool:
        """Whether the target accepts ``scope``: one of its scopes is it or covers it
        (``tools_registry.scopes`` hierarchy). An unknown audience accepts nothing."""
        accepted = self._accepted.get(audience, frozenset())
        return accepted is None or covers(accepted, scope)

    def narrowed(self, audience: str, scope: str) -> tuple[str, ...]:
        """``scope`` as the target can take it: itself when accepted, else the target's own scopes
        that ``scope`` covers (a held ``weather`` becomes the ``weather:read`` a target lists)."""
        if self.accepts(audience, scope):
            return (scope,)
        accepted = self._accepted.get(audience, frozenset()) or frozenset()
        return tuple(sorted(a for a in accepted if covers((scope,), a)))

    def allowed_for(self, client: Client, audience: str) -> None:
        allowed = {canonical_resource(a) for a in client.audiences} or {self.gateway_resource}
        if audience not in allowed:
            raise InvalidTarget("this client may not obtain tokens for the requested resource")

    def choose(self, client: Client, requested: tuple[str, ...]) -> str:
        """The one audience of the token: the requested resource, or the gateway by default."""
        if len(requested) > 1:
            raise InvalidTarget("ask for one resource per token")
        audience = self.known(requested[0]) if requested else self.gateway_resource
        self.allowed_for(client, audience)
        return audience
