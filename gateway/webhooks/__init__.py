"""Signed webhooks that tell the security team what happened (Standard Webhooks; WH-1..3).

The parts that notice an event (an access request, a grant that expires …) hold an
:class:`Announcer` and call ``announce(event, data)``; they never learn who listens.
:class:`gateway.webhooks.dispatcher.Webhooks` is the one implementation: with no subscription it
does nothing, otherwise it queues one delivery per subscribed endpoint in the store and returns,
and its background loop sends them.

The package, one concern per module:

* ``endpoints``: the subscriptions (URL, events, a ``whsec_`` secret sealed at rest);
* ``signing``: the secret's form, the JSON payload and the Standard Webhooks headers;
* ``deliveries``: the durable queue, the retry schedule and the bounded delivery log;
* ``sender``: one POST to a vetted address (shares :mod:`gateway.fetching.destinations`);
* ``dispatcher``: ``Webhooks``, which announces and delivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

EVENTS = (
    "access.requested",
    "access.approved",
    "access.denied",
    "grant.expired",
    "grant.revoked",
    "review.due",
    "call.pending",
    "tool.pending",
    "tool.changed",
    "tool.approved",
    "tool.quarantined",
)
"""Every event an endpoint can subscribe to."""


class Announcer(Protocol):
    async def announce(self, event: str, data: Mapping[str, Any]) -> None:
        """Tell every endpoint subscribed to ``event``; never waits on the network."""
        ...
