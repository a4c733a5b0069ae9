"""What a delivery carries: its JSON payload and the three Standard Webhooks headers (WH-1).

The signature is the reference library's (``standardwebhooks``): HMAC-SHA256 over
``<webhook-id>.<webhook-timestamp>.<body>`` under the endpoint's secret, sent as ``v1,<base64>``.
While a rotated-out secret is still honoured the header carries one signature per secret,
space-separated, so a receiver holding either one verifies the delivery.

A secret is ``whsec_`` and the base64 of :data:`SECRET_BYTES` random bytes, the form every
Standard Webhooks library takes as is.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret, ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def is_secret(text: str) -> bool:
    """True for ``whsec_`` followed by the base64 of 24 to 64 bytes (what the specification allows)."""
    if not text.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(raw) <= 64


def new_message_id() -> str:
    """A ``webhook-id``: unique per delivery, the same on each of its retries."""
    return "msg_" + secrets.token_urlsafe(18)


def iso_instant(epoch_seconds: float) -> str:
    """``2026-12-07T18:20:05.123Z``: the payload's ``timestamp``."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload(event: str, at: float, data: Mapping[str, Any]) -> str:
    """The body of every delivery of one announcement: ``{"type", "timestamp", "data"}``.

    ``data`` must be JSON as it stands (:class:`TypeError` or :class:`ValueError` otherwise): the
    caller's mistake is found when it announces, not when a delivery is sent.
    """
    document = {"type": event, "timestamp": iso_instant(at), "data": dict(data)}
    return json.dumps(document, separators=(",", ":"), allow_nan=False)


def signed_headers(
    message_id: str, sent_at: float, body: bytes, secrets_in_use: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` (whole seconds) and ``webhook-signature`` for one attempt."""
    moment = datetime.fromtimestamp(int(sent_at), UTC)
    signatures = (Webhook(secret).sign(message_id, moment, body) for secret in secrets_in_use)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at)),
        "webhook-signature": " ".join(signatures),
    }
