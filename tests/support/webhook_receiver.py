"""A webhook receiver as the security team would run one: a small Starlette app under uvicorn on a
free loopback port, which checks every delivery with the Standard Webhooks reference library.

A test scripts its answers (statuses, headers such as a redirect's ``Location``, a delay) and reads
what reached it: the path, headers and body of each request, and whether the signature verified
under the secret the test handed it (``standardwebhooks.Webhook(secret).verify(body, headers)``).
A delivery that does not verify is answered 401, as a careful receiver would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.asgi_server import Served


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds before answering (real time: for the sender's own deadline)."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any
    """The JSON payload when the signature verified, else None."""
    verification_error: str | None


@dataclass
class Receiver:
    """What the app answers and what reached it; ``secret`` is the endpoint's, set by the test."""

    secret: str | None = None
    script: list[Answer] = field(default_factory=list)
    """Answers in order; once used up, every request gets 200."""
    received: list[Received] = field(default_factory=list)
    served: Served | None = None

    def answer(self, *answers: Answer | int) -> None:
        self.script.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        assert self.served is not None
        return f"{scheme}://{host}:{self.served.port}{path}"

    def paths(self) -> list[str]:
        return [request.path for request in self.received]

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        payload, error = None, None
        if self.secret is not None:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                error = str(exc)
        self.received.append(Received(request.url.path, headers, body, payload, error))
        if error is not None:
            return Response(status_code=401)
        answer = self.script.pop(0) if self.script else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return Response(b"thanks", status_code=answer.status, headers=answer.headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._hook, methods=["GET", "POST"])])


@contextlib.contextmanager
def receiving(**uvicorn_options: Any) -> Iterator[Receiver]:
    """A :class:`Receiver` served on loopback for the block (``ssl_certfile`` … for https)."""
    receiver = Receiver()
    with Served(lifespan="off", **uvicorn_options).start(receiver.app()) as served:
        receiver.served = served
        yield receiver
