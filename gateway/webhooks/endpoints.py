"""The subscriptions: which URL hears which events, and the secret its deliveries are signed with.

Endpoints are store records (collection ``webhook_endpoints``), so the CLI and every replica see
the same list. Each has a secret of its own, made here and shown once, when the endpoint is added
or its secret rotated. The secret signs with HMAC, so it cannot be kept as a digest: it is sealed
with the :class:`~gateway.key_encryption.KeyProtector` under the record's name
(``webhook_endpoints/<id>``), as signing keys are (KE-1), and opened only to sign (WH-1).

Rotating keeps the previous secret for a grace period (a day by default), during which deliveries
carry a signature under each, so receivers can switch without missing one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from gateway.audit import AuditLog
from gateway.clock import Clock
from gateway.fetching.destinations import DestinationRefused, Destinations
from gateway.key_encryption import KeyProtector
from gateway.store import Store
from gateway.webhooks import EVENTS
from gateway.webhooks.signing import is_secret, new_secret

COLLECTION = "webhook_endpoints"
ROTATION_GRACE = 24 * 3600.0
"""Seconds a rotated-out secret still signs deliveries, by default."""
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200


class WebhookError(ValueError):
    """An endpoint that cannot be added as asked; the message says why in one line."""


@dataclass(frozen=True)
class Endpoint:
    """One subscription as stored. The sealed secrets never leave this module's callers' memory:
    :meth:`as_dict` (what the CLI shows) omits them."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str
    created_at: float
    enabled: bool
    sealed_secret: str
    previous_sealed_secret: str | None = None
    previous_secret_until: float | None = None

    def wants(self, event: str) -> bool:
        return self.enabled and event in self.events

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "created_at": self.created_at,
            "enabled": self.enabled,
            "previous_secret_until": self.previous_secret_until,
        }

    def to_record(self) -> str:
        fields = asdict(self)
        del fields["id"]
        fields["events"] = list(self.events)
        return json.dumps(fields)

    @classmethod
    def from_record(cls, endpoint_id: str, value: str) -> Endpoint:
        fields = json.loads(value)
        fields["events"] = tuple(fields["events"])
        return cls(id=endpoint_id, **fields)


def checked_events(events: Iterable[str]) -> tuple[str, ...]:
    """``events`` in the order given, each once; every one must be in :data:`EVENTS`."""
    chosen = tuple(dict.fromkeys(events))
    if not chosen:
        raise WebhookError(f"an endpoint needs at least one event: {', '.join(EVENTS)}")
    unknown = [event for event in chosen if event not in EVENTS]
    if unknown:
        raise WebhookError(f"unknown event {unknown[0]!r}; the events are {', '.join(EVENTS)}")
    return chosen


def _checked_description(description: str) -> str:
    text = description.strip()
    if len(text) > MAX_DESCRIPTION_LENGTH or not text.isprintable():
        raise WebhookError(f"the description must be one printable line of at most {MAX_DESCRIPTION_LENGTH}")
    return text


class Endpoints:
    """The subscriptions in the store. ``destinations`` checks a URL when it is added (WH-2), with
    the allow-list the sender uses; what it resolves to is vetted at every delivery."""

    def __init__(
        self, store: Store, clock: Clock, protector: KeyProtector, destinations: Destinations, audit: AuditLog
    ) -> None:
        self._store = store
        self._clock = clock
        self._protector = protector
        self._destinations = destinations
        self._audit = audit

    @staticmethod
    def _context(endpoint_id: str) -> str:
        return f"{COLLECTION}/{endpoint_id}"

    async def add(
        self, url: str, events: Iterable[str], description: str = "", *, by: str | None = None
    ) -> tuple[Endpoint, str]:
        """The new endpoint and its secret, which is not shown again. ``by``: the operator (AU-7)."""
        if len(url) > MAX_URL_LENGTH:
            raise WebhookError(f"the URL is longer than {MAX_URL_LENGTH} characters")
        try:
            self._destinations.check(url)
        except DestinationRefused as exc:
            raise WebhookError(str(exc)) from None
        endpoint_id = "ep_" + secrets.token_urlsafe(12)
        secret = new_secret()
        endpoint = Endpoint(
            id=endpoint_id,
            url=url,
            events=checked_events(events),
            description=_checked_description(description),
            created_at=self._clock.now(),
            enabled=True,
            sealed_secret=await self._protector.seal(secret.encode(), self._context(endpoint_id)),
        )
        await self._store.put_record(COLLECTION, endpoint_id, endpoint.to_record())
        self._audit.record(
            "webhook_endpoint",
            outcome="added",
            endpoint=endpoint_id,
            events=endpoint.events,
            by=by,
            before=None,
            after=endpoint.as_dict(),
        )
        return endpoint, secret

    async def get(self, endpoint_id: str) -> Endpoint | None:
        value = await self._store.get_record(COLLECTION, endpoint_id)
        return None if value is None else Endpoint.from_record(endpoint_id, value)

    async def list_endpoints(self) -> list[Endpoint]:
        records = await self._store.list_records(COLLECTION)
        endpoints = (Endpoint.from_record(endpoint_id, value) for endpoint_id, value in records.items())
        return sorted(endpoints, key=lambda e: (e.created_at, e.id))

    async def remove(self, endpoint_id: str, *, by: str | None = None) -> bool:
        before = await self.get(endpoint_id)
        removed = await self._store.delete_record(COLLECTION, endpoint_id)
        if removed:
            self._audit.record(
                "webhook_endpoint",
                outcome="removed",
                endpoint=endpoint_id,
                by=by,
                before=before.as_dict() if before is not None else None,
                after=None,
            )
        return removed

    async def set_enabled(self, endpoint_id: str, enabled: bool, *, by: str | None = None) -> Endpoint | None:
        """Paused endpoints get no new deliveries; those already queued wait until it is enabled."""
        endpoint = await self.get(endpoint_id)
        if endpoint is None:
            return None
        changed = replace(endpoint, enabled=enabled)
        await self._store.put_record(COLLECTION, endpoint_id, changed.to_record())
        self._audit.record(
            "webhook_endpoint",
            outcome="enabled" if enabled else "disabled",
            endpoint=endpoint_id,
            by=by,
            before={"enabled": endpoint.enabled},
            after={"enabled": enabled},
        )
        return changed

    async def rotate_secret(
        self, endpoint_id: str, grace: float = ROTATION_GRACE, *, by: str | None = None
    ) -> tuple[Endpoint, str] | None:
        """A new secret; the one it replaces still signs for ``grace`` seconds (0: not at all)."""
        endpoint = await self.get(endpoint_id)
        if endpoint is None:
            return None
        secret = new_secret()
        rotated = replace(
            endpoint,
            sealed_secret=await self._protector.seal(secret.encode(), self._context(endpoint_id)),
            previous_sealed_secret=endpoint.sealed_secret if grace > 0 else None,
            previous_secret_until=self._clock.now() + grace if grace > 0 else None,
        )
        await self._store.put_record(COLLECTION, endpoint_id, rotated.to_record())
        self._audit.record(
            "webhook_endpoint",
            outcome="secret_rotated",
            endpoint=endpoint_id,
            by=by,
            before={"previous_secret_until": endpoint.previous_secret_until},
            after={"previous_secret_until": rotated.previous_secret_until},
        )
        return rotated, secret

    async def secrets_in_use(self, endpoint: Endpoint) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous one while
        its grace lasts. Raises :class:`~gateway.key_encryption.KeyEncryptionError` when one does
        not open (another KEK, or a sealed value moved from another record)."""
        sealed = [endpoint.sealed_secret]
        until = endpoint.previous_secret_until
        if endpoint.previous_sealed_secret and until is not None and self._clock.now() < until:
            sealed.append(endpoint.previous_sealed_secret)
        opened = [(await self._protector.unseal(s, self._context(endpoint.id))).decode() for s in sealed]
        if not all(is_secret(secret) for secret in opened):
            raise WebhookError(f"the secret of webhook endpoint {endpoint.id} is not a whsec_ secret")
        return opened
