"""OpenTelemetry logs over OTLP/HTTP: each batch one ``ExportLogsServiceRequest`` (protobuf, the
official ``opentelemetry-proto`` messages) POSTed to ``<endpoint>/v1/logs``.

Each event is one ``LogRecord``: ``time_unix_nano`` the event's time, ``event_name``
``mcp_gateway.audit.<type>``, severity INFO (WARN for a refusal, a denial or a failure), the body
the exported event's JSON (:mod:`gateway.audit.exporters.records`), and attributes a collector can
route and filter on without parsing it: ``ocsf.class_uid``, ``audit.type``, ``audit.outcome``,
``audit.client_id``, ``audit.subject``, ``audit.tool`` (when the event has them),
``audit.event_id``, ``audit.seq`` and ``audit.hash``. The resource says ``service.name`` =
``mcp-gateway``.

What the answer means (OTLP/HTTP, "Failures" and "Partial success"): a 2xx is delivery, and a
``partial_success`` with rejected records is logged (the collector refused them for good: sending
them again would be refused again) and still moves the position; 429, 502, 503 and 504 are a
receiver asking for time, with ``Retry-After`` honoured (seconds or an HTTP date, at most five
minutes); any other answer is a failure too, logged, and the batch is tried again with backoff:
an audit event is never dropped because a collector was misconfigured. Redirects are not followed,
at most ``max_response_bytes`` of the answer are read, no proxy or certificate setting of the
environment applies, and certificates are verified (``ca_file`` alone when given).
"""

from __future__ import annotations

import email.utils
import logging
import ssl
from collections.abc import Mapping, Sequence

import anyio
import httpx2
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import (
    SEVERITY_NUMBER_INFO,
    SEVERITY_NUMBER_WARN,
    LogRecord,
    ResourceLogs,
    ScopeLogs,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from gateway.audit.chain import StoredEvent
from gateway.audit.exporters.core import ExportFailed
from gateway.audit.exporters.records import Exported, exported
from gateway.clock import Clock

RETRYABLE = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
PATH = "/v1/logs"
logger = logging.getLogger("mcp_gateway")


def _text(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _number(key: str, value: int) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(int_value=value))


def log_record(event: Exported, observed_ns: int) -> LogRecord:
    attributes = [
        _number("ocsf.class_uid", event.ocsf_class),
        _text("audit.type", event.type),
        _text("audit.outcome", event.outcome),
        _text("audit.event_id", event.event_id),
        _number("audit.seq", event.seq),
        _text("audit.hash", event.hash),
    ]
    for key, value in (("client_id", event.client_id), ("subject", event.subject), ("tool", event.tool)):
        if value is not None:
            attributes.append(_text(f"audit.{key}", value))
    return LogRecord(
        time_unix_nano=round(event.at * 1_000_000) * 1000,
        observed_time_unix_nano=observed_ns,
        severity_number=SEVERITY_NUMBER_WARN if event.refused else SEVERITY_NUMBER_INFO,
        severity_text="WARN" if event.refused else "INFO",
        event_name=f"mcp_gateway.audit.{event.type}",
        body=AnyValue(string_value=event.line),
        attributes=attributes,
    )


def export_request(batch: Sequence[StoredEvent], observed_ns: int) -> ExportLogsServiceRequest:
    records = [log_record(exported(stored), observed_ns) for stored in batch]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=[_text("service.name", "mcp-gateway")]),
                scope_logs=[
                    ScopeLogs(scope=InstrumentationScope(name="mcp_gateway.audit"), log_records=records)
                ],
            )
        ]
    )


def retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` in seconds (delay-seconds or an HTTP date), at most five minutes."""
    if not value:
        return None
    if value.strip().isdigit():
        return min(float(value.strip()), MAX_RETRY_AFTER)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(moment.timestamp() - now, 0.0), MAX_RETRY_AFTER)


class OtlpLogs:
    """A :class:`~gateway.audit.exporters.core.Sink` to one OTLP/HTTP logs endpoint."""

    def __init__(
        self,
        endpoint: str,
        *,
        clock: Clock,
        headers: Mapping[str, str] | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        max_response_bytes: int = 64 * 1024,
    ) -> None:
        self.url = endpoint.rstrip("/") + PATH
        self._clock = clock
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._max_response = max_response_bytes
        self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        self._client: httpx2.AsyncClient | None = None

    def _connections(self) -> httpx2.AsyncClient:
        """One client, kept between batches (its connection too); made again after :meth:`close`."""
        if self._client is None or self._client.is_closed:
            self._client = httpx2.AsyncClient(verify=self._tls, trust_env=False, follow_redirects=False)
        return self._client

    async def deliver(self, batch: Sequence[StoredEvent]) -> None:
        body = export_request(batch, int(self._clock.now() * 1e9)).SerializeToString()
        headers = {**self._headers, "Content-Type": "application/x-protobuf"}
        try:
            with anyio.fail_after(self._timeout):
                client = self._connections()
                async with client.stream("POST", self.url, content=body, headers=headers) as response:
                    answer = await self._read(response)
        except TimeoutError:
            raise ExportFailed(f"{self.url} did not answer within {self._timeout:g} s") from None
        except httpx2.HTTPError as exc:
            raise ExportFailed(f"{self.url}: {type(exc).__name__}") from None
        status = response.status_code
        if not 200 <= status < 300:
            wait = retry_after(response.headers.get("Retry-After"), self._clock.now())
            raise ExportFailed(f"{self.url} answered {status}", wait if status in RETRYABLE else None)
        self._partial(answer, len(batch))

    async def _read(self, response: httpx2.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > self._max_response:
                break
        return b"".join(chunks)

    def _partial(self, answer: bytes, sent: int) -> None:
        if not answer:
            return
        result = ExportLogsServiceResponse()
        try:
            result.ParseFromString(answer)
        except DecodeError:
            return  # delivered; an answer that is not protobuf says nothing more
        rejected = result.partial_success.rejected_log_records
        if rejected or result.partial_success.error_message:
            logger.warning(
                "%s rejected %d of %d audit events: %s",
                self.url,
                rejected,
                sent,
                result.partial_success.error_message[:200] or "(no reason given)",
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
