"""Speaking MCP to an upstream server: either protocol era, JSON or SSE answers.

The era is probed once per upstream (``server/discover`` first, as the SDK clients do, then the
``initialize`` handshake). A handshake-era upstream that hands out session ids gets one session
per agent principal, opened lazily, because an upstream may bind a session to the token that
opened it. Its ``initialize`` declares no client capabilities, for every agent alike (the gateway
relays no server-to-client requests in that era), so the principal is key enough; a 2026-07-28
upstream is told each request's capabilities in its ``_meta``. Every answer is checked to be one
JSON-RPC response before it is used.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

from gateway.upstream.answers import AnswerRefused, load_bounded
from gateway.upstream.transport import (
    EventReceiver,
    UpstreamFailure,
    UpstreamReply,
    UpstreamTransport,
    event_data,
)
from tools_registry.servers import UpstreamServer

MAX_UPSTREAM_SESSIONS = 10_000
CLIENT_INFO = {"name": "mcp-gateway", "version": "0.1.0"}


@dataclass
class _Upstream:
    modern: bool
    version: str
    stateful: bool


LIST_CHANGED = "notifications/tools/list_changed"


def _says_list_changed(messages: list[Any]) -> bool:
    return any(isinstance(m, dict) and m.get("method") == LIST_CHANGED for m in messages)


def parse_reply(
    name: str, reply: UpstreamReply, request_id: object, list_changed: set[str] | None = None
) -> dict[str, Any]:
    """The JSON-RPC response for ``request_id`` in a JSON or SSE answer, or UpstreamFailure.

    A ``notifications/tools/list_changed`` seen on an SSE answer adds ``name`` to
    ``list_changed``, so the catalogue refresher re-discovers that upstream soon.
    """
    if reply.status in (401, 403):
        raise UpstreamFailure(f"upstream {name} refused the gateway's credentials (HTTP {reply.status})")
    if reply.status >= 500:
        raise UpstreamFailure(f"upstream {name} failed (HTTP {reply.status})")
    try:
        if reply.content_type == "text/event-stream":
            messages = [load_bounded(data) for data in event_data(reply.body.decode("utf-8"))]
        else:
            messages = [load_bounded(reply.body)]
    except AnswerRefused as exc:
        raise UpstreamFailure(f"upstream {name} answered with invalid JSON-RPC ({exc})") from None
    except UnicodeDecodeError:
        raise UpstreamFailure(f"upstream {name} answered with invalid JSON-RPC (not UTF-8)") from None
    if list_changed is not None and _says_list_changed(messages):
        list_changed.add(name)
    for message in messages:
        if (
            isinstance(message, dict)
            and message.get("jsonrpc") == "2.0"
            and message.get("id") == request_id
            and (isinstance(message.get("result"), dict) or isinstance(message.get("error"), dict))
        ):
            return message
    raise UpstreamFailure(f"upstream {name} answered with invalid JSON-RPC (HTTP {reply.status})")


def _notifications_to(receiver: Callable[[dict[str, Any]], Awaitable[None]]) -> EventReceiver:
    async def on_event(event: bytes) -> None:
        for data in event_data(event.decode("utf-8", "replace")):
            try:
                message = load_bounded(data)
            except AnswerRefused:
                continue  # parse_reply judges the whole answer
            if isinstance(message, dict) and "id" not in message and isinstance(message.get("method"), str):
                await receiver(message)

    return on_event


class UpstreamClient:
    def __init__(self, transport: UpstreamTransport) -> None:
        self._transport = transport
        self.list_changed: set[str] = set()
        """Upstreams that announced a changed tool list; the refresher takes them from here."""
        self._upstreams: dict[str, _Upstream] = {}
        self._sessions: OrderedDict[tuple[str, str], str] = OrderedDict()  # LRU, bounded
        self._ids = itertools.count(1)

    def _headers(
        self, upstream: _Upstream | None, token: str, method: str, name: str | None
    ) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if upstream is not None:
            headers["MCP-Protocol-Version"] = upstream.version
            if upstream.modern:
                headers["Mcp-Method"] = method
                if name is not None:
                    headers["Mcp-Name"] = name
        return headers

    @staticmethod
    def _params(
        upstream: _Upstream, params: dict[str, Any], capabilities: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """2026-07-28: the envelope of every request, with the client capabilities the caller grants
        for this request (none unless said). The handshake era declared its capabilities once, in
        ``initialize``: none (the gateway does not relay server-to-client requests there)."""
        if not upstream.modern:
            return params
        meta = {
            PROTOCOL_VERSION_META_KEY: upstream.version,
            CLIENT_CAPABILITIES_META_KEY: dict(capabilities or {}),
        }
        return {**params, "_meta": {**params.get("_meta", {}), **meta}}

    async def _send(
        self,
        server: UpstreamServer,
        payload: dict[str, Any],
        headers: dict[str, str],
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        body = json.dumps(payload).encode()
        return await self._transport.post(server.id, server.url, body, headers, server.timeout, on_event)

    async def _post(
        self, server: UpstreamServer, payload: dict[str, Any], headers: dict[str, str]
    ) -> tuple[dict[str, Any], UpstreamReply]:
        reply = await self._send(server, payload, headers)
        return parse_reply(server.id, reply, payload.get("id"), self.list_changed), reply

    async def probe(self, server: UpstreamServer, token: str, principal: str) -> None:
        """Learn the upstream's era: ``server/discover`` first, then the ``initialize`` handshake."""
        modern = _Upstream(True, LATEST_MODERN_VERSION, False)
        request = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "server/discover",
            "params": self._params(modern, {}),
        }
        try:
            answer, _ = await self._post(
                server, request, self._headers(modern, token, "server/discover", None)
            )
            if "result" in answer:
                self._upstreams[server.id] = modern
                return
        except UpstreamFailure:
            pass
        version, session = await self._initialize(server, token)
        self._upstreams[server.id] = _Upstream(False, version, session is not None)
        if session is not None:  # the handshake just made is the prober's own session
            self._sessions[(server.id, principal)] = session

    async def _initialize(self, server: UpstreamServer, token: str) -> tuple[str, str | None]:
        request = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": "initialize",
            "params": {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},  # no server-to-client requests are relayed in this era (UP-5)
                "clientInfo": CLIENT_INFO,
            },
        }
        answer, reply = await self._post(server, request, self._headers(None, token, "initialize", None))
        result = answer.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("protocolVersion"), str):
            raise UpstreamFailure(f"upstream {server.id} did not complete the initialize handshake")
        version = str(result["protocolVersion"])
        headers = self._headers(_Upstream(False, version, False), token, "", None)
        if reply.session_id:
            headers["Mcp-Session-Id"] = reply.session_id
        notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self._send(server, notification, headers)
        return version, reply.session_id

    async def request(
        self,
        server: UpstreamServer,
        token: str,
        principal: str,
        method: str,
        params: dict[str, Any],
        name: str | None = None,
        retry_session: bool = True,
        on_notification: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request to the upstream; the JSON-RPC response (``result`` or ``error``).

        Notifications the upstream sends on an SSE answer before its response (progress, log
        messages) reach ``on_notification`` as they arrive. ``client_capabilities``: what a
        2026-07-28 upstream is told the client can do for this request (nothing by default).
        """
        upstream = self._upstreams.get(server.id)
        if upstream is None:
            await self.probe(server, token, principal)
            upstream = self._upstreams[server.id]
        headers = self._headers(upstream, token, method, name)
        if upstream.stateful:
            session_key = (server.id, principal)
            session = self._sessions.get(session_key)
            if session is None:
                session = (await self._initialize(server, token))[1] or ""
                self._sessions[session_key] = session
                while len(self._sessions) > MAX_UPSTREAM_SESSIONS:
                    self._sessions.popitem(last=False)
            headers["Mcp-Session-Id"] = session
        payload = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": self._params(upstream, params, client_capabilities),
        }
        on_event = _notifications_to(on_notification) if on_notification is not None else None
        reply = await self._send(server, payload, headers, on_event)
        if reply.status == 404 and upstream.stateful and retry_session:  # session ended upstream: reopen once
            self._sessions.pop((server.id, principal), None)
            return await self.request(
                server, token, principal, method, params, name, False, on_notification, client_capabilities
            )
        return parse_reply(server.id, reply, payload["id"], self.list_changed)

    def forget(self, server_id: str) -> None:
        """Probe again next time (after a failure, the upstream may have been replaced)."""
        self._upstreams.pop(server_id, None)
        for key in [k for k in self._sessions if k[0] == server_id]:
            del self._sessions[key]
