"""The forwarding hop: one pooled aiohttp session for every upstream call.

aiohttp, because it keeps 0.30 to 0.50 of direct throughput at 64 concurrent clients where httpx
falls to 0.03 and httpx2 to 0.06 to 0.10 (DESIGN.md, measured here). Every call has a total
timeout; every failure becomes an :class:`UpstreamFailure` with a one-line reason that names
the upstream and never carries a token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp


def _event_end(content: bytearray, start: int) -> int:
    """Where the first complete SSE event after ``start`` ends (0: none complete yet)."""
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if (i := content.find(sep, start)) >= 0]
    return min(ends) if ends else 0


class UpstreamFailure(Exception):
    """The upstream could not be used; ``str()`` is safe to show to the agent."""


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    content_type: str
    body: bytes
    session_id: str | None


class UpstreamHop:
    def __init__(self, max_connections: int = 512, max_body_bytes: int = 8 * 1024 * 1024) -> None:
        self._max_connections = max_connections
        self._max_body_bytes = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                trust_env=False,
                skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),  # upstream cookies must never reach another agent
            )
        return self._session

    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> UpstreamReply:
        """The whole answer. For an SSE answer, ``on_event`` also gets each complete event as it
        arrives (the answer is still returned whole at the end)."""
        try:
            async with self._client().post(
                url,
                data=body,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=time_limit),
                allow_redirects=False,
            ) as response:
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                streaming = on_event is not None and content_type == "text/event-stream"
                content = bytearray()
                delivered = 0
                async for chunk in response.content.iter_any():  # read() returns what has arrived
                    content += chunk
                    if len(content) > self._max_body_bytes:
                        raise UpstreamFailure(
                            f"upstream {name} answered with more than {self._max_body_bytes} bytes"
                        )
                    while streaming and (end := _event_end(content, delivered)) > 0:
                        assert on_event is not None
                        await on_event(bytes(content[delivered:end]))
                        delivered = end
                return UpstreamReply(
                    response.status, content_type, bytes(content), response.headers.get("Mcp-Session-Id")
                )
        except TimeoutError:
            raise UpstreamFailure(f"upstream {name} did not answer within {time_limit:g} s") from None
        except aiohttp.ClientConnectorError:
            raise UpstreamFailure(f"upstream {name} is unreachable") from None
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
            raise UpstreamFailure(f"upstream {name} failed: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
