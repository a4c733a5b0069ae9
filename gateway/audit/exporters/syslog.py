"""Syslog over TCP (RFC 6587) or TLS (RFC 5425): each event an RFC 5424 message, octet-counted.

Syslog has no acknowledgement: a sender that wrote its bytes into a connection cannot tell whether
the receiver read them, and a receiver that went down takes with it what the network still held.
So by default (``confirm = "close"``) a batch travels on a connection of its own, and counts as
delivered only when the receiver, having read everything, closed its side in answer to ours: over
TCP our FIN, then its FIN (it read to the end of our stream); over TLS our ``close_notify``, then
its own. A receiver that keeps the connection open after the sender closed it (none of the common
ones does) never confirms; for it, ``confirm = "written"`` counts a batch once the bytes are
handed to the kernel, and says so in the docs: a batch in flight when the receiver dies is lost.

TLS verifies the receiver's certificate and name, always: against the system's trust store, or
against ``ca_file`` alone when one is given (a SIEM with a private CA), TLS 1.2 or later. The
address is the operator's, from the configuration file: it does not go through the gate that
keeps URLs chosen by others off private addresses (:mod:`gateway.fetching.destinations`), since a
SIEM usually sits on a private network (docs/audit.md, "Export").
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Literal

import anyio
import anyio.abc
import anyio.streams.tls

from gateway.audit.chain import StoredEvent
from gateway.audit.exporters.core import ExportFailed
from gateway.audit.exporters.records import exported
from gateway.audit.exporters.rfc5424 import SyslogFormat, framed

Confirm = Literal["close", "written"]
_MAX_ANSWER = 64 * 1024
"""Bytes a receiver may send back before it closes (syslog receivers send none)."""


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificate and name verification on, TLS 1.2 or later; ``ca_file`` alone when given."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SyslogSender:
    """A :class:`~gateway.audit.exporters.core.Sink` to one syslog receiver."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        message_format: SyslogFormat,
        tls: ssl.SSLContext | None,
        confirm: Confirm = "close",
        timeout: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._format = message_format
        self._tls = tls
        self._confirm = confirm
        self._timeout = timeout

    @property
    def where(self) -> str:
        return f"syslog{'+tls' if self._tls else ''}://{self._host}:{self._port}"

    async def deliver(self, batch: Sequence[StoredEvent]) -> None:
        data = b"".join(framed(self._format.message(exported(stored))) for stored in batch)
        try:
            with anyio.fail_after(self._timeout):
                await self._send(data)
        except TimeoutError:
            raise ExportFailed(f"{self.where} did not confirm within {self._timeout:g} s") from None
        except (OSError, ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise ExportFailed(f"{self.where}: {type(exc).__name__} {exc}".strip()) from None

    async def _send(self, data: bytes) -> None:
        if self._tls is None:
            stream: anyio.abc.ByteStream = await anyio.connect_tcp(self._host, self._port)
        else:
            stream = await anyio.connect_tcp(
                self._host, self._port, ssl_context=self._tls, tls_standard_compatible=True
            )
        try:
            await stream.send(data)
            if self._confirm == "close":
                await self._closed_by_receiver(stream)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(stream)

    async def _closed_by_receiver(self, stream: anyio.abc.ByteStream) -> None:
        """Close our side and return once the receiver closed its own (it read all we sent)."""
        if isinstance(stream, anyio.streams.tls.TLSStream):
            raw, _ = await stream.unwrap()  # our close_notify, then the receiver's
            await raw.aclose()
            return
        await stream.send_eof()
        answered = 0
        while True:
            try:
                answered += len(await stream.receive())
            except anyio.EndOfStream:
                return
            if answered > _MAX_ANSWER:
                raise ExportFailed(f"{self.where} answers instead of reading")

    async def close(self) -> None:
        return None
