"""AD-11: where a tool author's server lives must be, as far as can be told at registration, an
address on the public internet.

A security admin registers internal services; a tool author (who registers only in namespaces
granted to them, AD-9) must not point the gateway's discovery requests, its calls and the tokens it
mints for them at what only the gateway's network reaches: loopback, private, link-local, shared,
reserved or multicast addresses, or an IPv6 form that embeds one. The ``fetch_allowed_private_hosts``
setting names the private hosts that are nevertheless allowed (the same list the document fetcher
honours). A name that does not resolve now is let through: there is nothing to reach yet.

This is a check made when the server is registered or changed, not at each connection: a name that
later resolves elsewhere (DNS rebinding) is not caught here.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.errors import Forbidden
from gateway.fetching.addresses import Resolver
from gateway.fetching.destinations import DestinationRefused, Destinations, Unresolvable
from tools_registry.servers import UpstreamServer


class PublicServers:
    def __init__(self, allowed_private_hosts: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self._destinations = Destinations(allowed_private_hosts, resolver=resolver)

    async def check(self, server: UpstreamServer) -> None:
        """:class:`~gateway.errors.Forbidden` when ``server`` is not on a public address."""
        field = "base_url" if server.kind == "openapi" else "url"
        reason = await self.refusal(server.url)
        if reason is not None:
            raise Forbidden(
                f"{field} {server.url!r:.200}: {reason}; a tool author registers public servers only "
                "(a security-admin registers internal ones)"
            )

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` is not a public server's URL; None when it is (or cannot be told now). The
        addresses are vetted as the document fetcher vets them (:class:`Destinations`)."""
        try:
            await self._destinations.vetted_addresses(self._destinations.check(url))
        except Unresolvable:
            return None
        except DestinationRefused as exc:
            return str(exc)
        return None
