"""Receivers the audit exporters' tests run on loopback: a syslog listener (TCP, or TLS with a
throw-away CA's certificate) that reads octet-counted RFC 5424 messages and parses them, and an
OTLP/HTTP logs receiver (aiohttp) that decodes each request with ``opentelemetry-proto`` and answers
what the test scripted."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
from aiohttp import web
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

_HEADER = re.compile(r"<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_PARAM = re.compile(r' ([^= \]"]+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class SyslogMessage:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    msg: str
    """The MSG part, its BOM removed (checked present)."""


def parse_rfc5424(raw: bytes) -> SyslogMessage:
    text = raw.decode("utf-8")
    header = _HEADER.match(text)
    assert header, text[:100]
    rest = text[header.end() :]
    assert rest.startswith("["), rest[:50]
    end, escaped = 1, False
    while escaped or rest[end] != "]":
        escaped = not escaped and rest[end] == "\\"
        end += 1
    element, msg = rest[1:end], rest[end + 1 :]
    sd_id, _, params_text = element.partition(" ")
    params = {k: re.sub(r"\\(.)", r"\1", v) for k, v in _PARAM.findall(" " + params_text)}
    assert msg.startswith(" \ufeff"), msg[:10]
    pri, *fields = header.groups()
    return SyslogMessage(int(pri), *fields, sd_id, params, msg[2:])  # type: ignore[arg-type]


def unframe(data: bytes) -> list[bytes]:
    """The messages of an octet-counted stream (RFC 6587 §3.4.1), all of them complete."""
    messages = []
    while data:
        length, _, data = data.partition(b" ")
        size = int(length)
        assert len(data) >= size, "a message cut short"
        messages.append(data[:size])
        data = data[size:]
    return messages


@dataclass
class SyslogListener:
    """Reads each connection to its end, then closes it; ``messages`` in the order received."""

    port: int
    messages: list[SyslogMessage] = field(default_factory=list)
    connections: int = 0
    hold_open: bool = False
    """Read everything but never close (a receiver that never confirms)."""

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        self.connections += 1
        data = b""
        async with stream:
            try:
                while True:
                    data += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
            self.messages += [parse_rfc5424(raw) for raw in unframe(data)]  # read, before we close
            if self.hold_open:
                await anyio.sleep_forever()


@asynccontextmanager
async def syslog_listener(
    tls: ssl.SSLContext | None = None, port: int = 0, listener: SyslogListener | None = None
) -> AsyncIterator[SyslogListener]:
    """A listener on 127.0.0.1 (``port`` 0: a free one) until the block ends; hand back the same
    ``listener`` to listen again on its port, keeping what it received."""
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    bound = tcp.extra(SocketAttribute.local_port)
    state = listener or SyslogListener(bound)
    served: anyio.abc.Listener[Any] = tcp if tls is None else TLSListener(tcp, tls, standard_compatible=True)
    async with anyio.create_task_group() as group:
        group.start_soon(served.serve, state.handle)
        try:
            yield state
        finally:
            group.cancel_scope.cancel()
    await served.aclose()


@dataclass
class OtlpReceiver:
    """Answers each request with the next scripted (status, headers, body); 200 when none is left."""

    url: str = ""
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[ExportLogsServiceRequest] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        decoded = ExportLogsServiceRequest()
        decoded.ParseFromString(await request.read())
        self.requests.append(decoded)
        self.content_types.append(request.headers.get("Content-Type", ""))
        if self.script:
            status, headers, body = self.script.pop(0)
        else:
            status, headers, body = 200, {}, ExportLogsServiceResponse().SerializeToString()
        return web.Response(status=status, headers=headers, body=body, content_type="application/x-protobuf")


@asynccontextmanager
async def otlp_receiver(tls: ssl.SSLContext | None = None) -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/logs", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}"  # https when ``tls`` is given (the test names the host)
    try:
        yield receiver
    finally:
        await runner.cleanup()
