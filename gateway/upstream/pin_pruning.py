"""Forgetting the pins of servers registered nowhere any more (TP-10): one dropped from the config
file leaves no removal through the registry (TP-8) to forget them.

Replicas share the store but not always the config: during a rolling deploy one replica may run a
config without server ``x`` while another still serves ``x`` from the old one. Forgetting ``x``'s
pins at once would make the old replica's next discovery a *first* discovery, which ``first-use``
pins unreviewed: a rug-pull window. So it takes two sightings, :data:`ORPHAN_GRACE` apart:

1. at startup (the registry's first listing), a server with pin records that is neither configured
   nor stored is marked, with the time, and logged; nothing is forgotten yet;
2. any replica that still discovers it removes the mark (:class:`~gateway.upstream.pin_keeper.
   PinKeeper`), so a server some replica serves is never forgotten;
3. a later startup that finds it still unregistered and marked for at least the grace forgets its
   pins, pending definitions and first-use mark, as a removal would (TP-8), and logs it.

The grace is a week: longer than any rollout, and than the longest ``refresh_interval`` (a day),
so a replica that still serves the server has discovered it, and removed the mark, in between.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from gateway.upstream.pin_records import PinBook

ORPHAN_GRACE = 7 * 86400.0
"""Seconds a server must stay registered nowhere, and discovered by no replica, before its pins go."""

logger = logging.getLogger("mcp_gateway.pins")


@dataclass(frozen=True)
class Pruned:
    marked: tuple[str, ...] = ()
    """Servers first found registered nowhere: their pins go at a startup after the grace."""
    forgotten: tuple[str, ...] = ()


async def prune_orphaned_pins(
    book: PinBook, registered: Collection[str], now: float, grace: float = ORPHAN_GRACE
) -> Pruned:
    """Mark the servers with pin records that are not ``registered``, forget those marked at least
    ``grace`` seconds ago."""
    marked: list[str] = []
    forgotten: list[str] = []
    for server_id in sorted(await book.servers() - set(registered)):
        since = await book.orphaned_since(server_id)
        if since is None:
            await book.mark_orphaned(server_id, now)
            marked.append(server_id)
            logger.warning(
                "server %r has tool pins but is registered nowhere: they are forgotten at a startup "
                "%g days from now unless a replica discovers it meanwhile",
                server_id,
                grace / 86400,
            )
        elif now - since >= grace:
            await book.forget_server(server_id)
            forgotten.append(server_id)
            logger.warning(
                "server %r is registered nowhere since %g: its tool pins are forgotten", server_id, since
            )
    return Pruned(tuple(marked), tuple(forgotten))


__all__ = ["ORPHAN_GRACE", "Pruned", "prune_orphaned_pins"]
