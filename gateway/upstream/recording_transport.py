"""An upstream transport that also tells what went out: for ``mcp-gateway tools test`` (AU-9).

:class:`RecordingTransport` wraps the gateway's real transport and delegates every request to it.
Inside :meth:`~RecordingTransport.recording` (and only in the task that entered it: a context
variable, so nothing the gateway sends for anyone else is caught), each request is also kept as a
:class:`SentRequest`: method, URL, headers, body size and a preview, the answer's status.

What is kept is already safe to print, because it is redacted *as it is recorded*: the recorder
never holds a token. ``Authorization`` keeps its scheme and loses its credential; a bearer token is
replaced by the claims a tool author needs to check (``aud``, ``scope``, ``sub``, ``client_id``,
``act``, ``exp``: read, not verified, since the gateway itself just signed it); cookies and every
header or query parameter whose name says it holds a key, a token, a secret or a session are
redacted; anything JWT-shaped left in a value or the body preview is withheld.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.jwt_hygiene import MalformedJWT, inspect_jwt
from gateway.oauth.tokens.access_tokens import MAX_TOKEN_BYTES
from gateway.upstream.transport import EventReceiver, UpstreamReply, UpstreamTransport

REDACTED = "<redacted>"
SHOWN_CLAIMS = ("aud", "scope", "sub", "client_id", "act", "exp")
"""What a tool author checks of the token that went out; never ``jti`` or the token itself."""
PREVIEW_CHARS = 500
_SECRET_NAME = re.compile(r"cookie|key|token|secret|passw|session|credential|signature|auth", re.I)
_JWT_SHAPED = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class SentRequest:
    """One request as it went upstream, redacted; ``status`` is the answer's (None: no answer)."""

    upstream: str
    method: str
    url: str
    headers: Mapping[str, str]
    token_claims: Mapping[str, Any] | None
    body_bytes: int
    body_preview: str
    status: int | None = None
    content_type: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "token_claims": dict(self.token_claims) if self.token_claims is not None else None,
            "body_bytes": self.body_bytes,
            "body_preview": self.body_preview,
            "status": self.status,
            "content_type": self.content_type,
        }


def redacted_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The headers safe to print, and the claims of the bearer token among them (if any)."""
    shown: dict[str, str] = {}
    claims: dict[str, Any] | None = None
    for name, value in headers.items():
        if name.lower() in ("authorization", "proxy-authorization"):
            scheme, _, credential = value.partition(" ")
            shown[name] = f"{scheme} {REDACTED}" if credential else REDACTED
            if scheme.lower() == "bearer" and name.lower() == "authorization":
                claims = token_claims(credential.strip())
        elif _SECRET_NAME.search(name):
            shown[name] = REDACTED
        else:
            shown[name] = _JWT_SHAPED.sub(REDACTED, value)
    return shown, claims


def token_claims(token: str) -> dict[str, Any] | None:
    """:data:`SHOWN_CLAIMS` of ``token``, read without verifying; None when it is no JWT."""
    try:
        claims = inspect_jwt(token, MAX_TOKEN_BYTES).claims
    except MalformedJWT:
        return None
    return {name: claims[name] for name in SHOWN_CLAIMS if name in claims}


def redacted_url(url: str) -> str:
    """``url`` with the values of secret-looking query parameters (``api_key=…``) redacted."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (name, REDACTED if _SECRET_NAME.search(name) else _JWT_SHAPED.sub(REDACTED, value))
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>")))


def body_preview(body: bytes | None) -> str:
    text = (body or b"")[: PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:PREVIEW_CHARS]
    return _JWT_SHAPED.sub(REDACTED, text)


@dataclass
class Recording:
    """What went out while recording, in order."""

    sent: list[SentRequest] = field(default_factory=list)


class RecordingTransport:
    """``inner`` with a recorder: costs one context-variable read per request when not recording."""

    def __init__(self, inner: UpstreamTransport) -> None:
        self._inner = inner
        self._recording: ContextVar[Recording | None] = ContextVar(f"recording_{id(self)}", default=None)

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recording]:
        """Every request sent from within the block (this task and those it starts) is kept."""
        recording = Recording()
        token = self._recording.set(recording)
        try:
            yield recording
        finally:
            self._recording.reset(token)

    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        index = self._record(name, "POST", url, body, headers)
        reply = await self._inner.post(name, url, body, headers, time_limit, on_event)
        return self._answered(index, reply)

    async def send(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        time_limit: float,
    ) -> UpstreamReply:
        index = self._record(name, method, url, body, headers)
        reply = await self._inner.send(name, method, url, body, headers, time_limit)
        return self._answered(index, reply)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _record(
        self, name: str, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> int | None:
        recording = self._recording.get()
        if recording is None:
            return None
        shown, claims = redacted_headers(headers)
        sent = SentRequest(
            name, method, redacted_url(url), shown, claims, len(body or b""), body_preview(body)
        )
        recording.sent.append(sent)
        return len(recording.sent) - 1

    def _answered(self, index: int | None, reply: UpstreamReply) -> UpstreamReply:
        recording = self._recording.get()
        if index is not None and recording is not None:
            sent = recording.sent[index]
            recording.sent[index] = replace(sent, status=reply.status, content_type=reply.content_type)
        return reply


__all__ = ["Recording", "RecordingTransport", "SentRequest", "redacted_headers", "token_claims"]
