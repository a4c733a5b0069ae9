"""The SSRF-safe JSON document fetcher (RG-2, CA-6), named after the rule each test proves.

Documents are served by a plain ``http.server`` on a free loopback port (allowed via the allow-list) or,
for the TLS rules, by the same server wrapped in TLS with a certificate from a throw-away CA. Refusals
are proven to open no connection: a loopback listener counts accepted connections, and every
outgoing TCP connect is recorded at the network layer (``anyio.connect_tcp``, which httpcore uses).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

import anyio
import pytest

from gateway.clock import FrozenClock
from gateway.fetching import addresses as address_module
from gateway.fetching import fetcher as fetch_module
from gateway.fetching.fetcher import DocumentFetcher, FetchError, FetchPolicy
from tests.support.fetch_probes import Listener, TableResolver
from tests.support.http_server import LoopbackServer
from tests.support.http_server import serving as serving_http
from tests.support.tls import ThrowAwayCA

pytestmark = pytest.mark.anyio

JWKS = {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k1"}]}


# --- the document server -------------------------------------------------------------------------


@dataclass
class Served:
    """What the server saw: the paths requested (with query), Host headers, TLS server names."""

    paths: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    stream_ended: threading.Event = field(default_factory=threading.Event)

    def hits(self, path: str) -> int:
        return self.paths.count(path)


class Handler(BaseHTTPRequestHandler):
    served: Served

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        served: Served = self.server.state  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        served.paths.append(self.path)
        served.hosts.append(self.headers.get("Host", ""))
        document = json.dumps(JWKS).encode()
        if path == "/jwks":
            self._json(document)
        elif path == "/host":
            self._json(json.dumps({"host": self.headers.get("Host")}).encode())
        elif path == "/max-age-60":
            self._json(document, Cache_Control="public, max-age=60")
        elif path == "/max-age-huge":
            self._json(document, Cache_Control="max-age=999999999")
        elif path == "/no-store":
            self._json(document, Cache_Control="no-store")
        elif path == "/max-age-0":
            self._json(document, Cache_Control="max-age=0")
        elif path == "/jwk-set":
            self._json(document, content_type="application/jwk-set+json; charset=utf-8")
        elif path == "/html":
            self._json(document, content_type="text/html")
        elif path == "/no-type":
            self.send_response(200)
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)
        elif path == "/array":
            self._json(b"[1, 2, 3]")
        elif path == "/not-json":
            self._json(b"{this is not json")
        elif path == "/gzip":
            self._json(document, Content_Encoding="gzip")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/jwks")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/not-found":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/big-declared":
            self._json(b'{"pad": "' + b"a" * 6000 + b'"}')
        elif path == "/big-streamed":
            self._stream_forever(path)
        elif path == "/drip":
            self._drip()

    def _stream_forever(self, path: str) -> None:
        """No Content-Length, an endless body: the client must stop reading, not buffer it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b" " * 4096
        sent = 0
        try:
            self.wfile.write(b'{"pad": "')
            while sent < 64 * 1024 * 1024:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            self.server.state.bytes_sent[path] = sent  # type: ignore[attr-defined]
            self.server.state.stream_ended.set()  # type: ignore[attr-defined]

    def _drip(self) -> None:
        """A well-formed but slow answer: one byte every 100 ms (no single read ever times out)."""
        body = json.dumps(JWKS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


Server = LoopbackServer[Served]


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    served = Served()
    if tls is not None:

        def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            served.sni.append(name)

        tls.sni_callback = record_sni
    with serving_http(LoopbackServer(Handler, served, tls)) as httpd:
        yield httpd


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


# --- proof that no connection was opened ---------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connect the fetcher attempts, recorded where httpcore opens it.

    Loopback connects go through; anything else is refused here, so no test ever leaves the machine.
    """
    attempts: list[tuple[str, int]] = []
    real_connect = anyio.connect_tcp

    async def recording_connect(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
        attempts.append((str(remote_host), int(remote_port)))
        if not ipaddress.ip_address(str(remote_host)).is_loopback:
            raise ConnectionRefusedError(f"test network: {remote_host} is unreachable")
        return await real_connect(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(anyio, "connect_tcp", recording_connect)
    return attempts


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


Fetch = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def clock() -> FrozenClock:
    """The fetchers' cache clock: a cached document goes stale only when a test advances it."""
    return FrozenClock(1000.0)


@pytest.fixture
async def fetcher_factory(clock: FrozenClock) -> Any:
    made: list[DocumentFetcher] = []

    def make(resolver: Any = None, **policy: Any) -> DocumentFetcher:
        if "allowed_private_hosts" in policy:
            policy["allowed_private_hosts"] = frozenset(policy["allowed_private_hosts"])
        fetcher = DocumentFetcher(FetchPolicy(**policy), resolver=resolver, clock=clock)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


# --- certificates for the TLS rules --------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> ThrowAwayCA:
    return ThrowAwayCA(tmp_path_factory.mktemp("tls"))


# --- fetching and caching ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_document_from_an_allow_listed_loopback_host_is_fetched_and_cached(
    server: Server, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    fetcher = fetcher_factory(allowed_private_hosts={"127.0.0.1"})
    assert await fetcher.fetch_json(server.url("/jwks")) == JWKS
    assert await fetcher.fetch_json(server.url("/jwks")) == JWKS
    assert server.state.hits("/jwks") == 1
    assert connects == [("127.0.0.1", server.port)]


@pytest.mark.anyio
async def test_the_connection_goes_to_the_resolved_address_with_the_original_host_header(
    server: Server, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({"jwks.test": ["127.0.0.1"]})
    fetcher = fetcher_factory(resolver, allowed_private_hosts={"jwks.test"})
    document = await fetcher.fetch_json(server.url("/host", host="jwks.test"))
    assert document == {"host": f"jwks.test:{server.port}"}
    assert resolver.calls == [("jwks.test", server.port)]
    assert connects == [("127.0.0.1", server.port)]


@pytest.mark.anyio
async def test_a_dns_rebind_between_check_and_connect_cannot_move_the_connection(
    server: Server, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    # First answer public (passes the check), any later answer loopback: the rebinding attack.
    resolver = TableResolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    fetcher = fetcher_factory(resolver)
    with pytest.raises(FetchError, match="could not connect"):
        await fetcher.fetch_json(server.url("/jwks", host="rebind.example", scheme="https"))
    assert len(resolver.calls) == 1
    assert connects == [("93.184.216.34", server.port)]
    assert server.state.paths == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    ],
)
async def test_a_jwks_uri_resolving_to_a_private_address_is_refused_without_connecting(
    address: str, listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({"jwks.attacker.example": [address]})
    fetcher = fetcher_factory(resolver)
    url = f"https://jwks.attacker.example:{listener.port}/jwks"
    with pytest.raises(FetchError, match="not allowed"):
        await fetcher.fetch_json(url)
    assert connects == []
    assert listener.accepted() == 0


@pytest.mark.anyio
async def test_one_private_address_among_public_ones_is_enough_to_refuse(
    listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({"mixed.example": ["93.184.216.34", "2606:4700::1111", "10.0.0.1"]})
    fetcher = fetcher_factory(resolver)
    with pytest.raises(FetchError, match=r"10\.0\.0\.1"):
        await fetcher.fetch_json(f"https://mixed.example:{listener.port}/jwks")
    assert connects == []
    assert listener.accepted() == 0


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["169.254.169.254", "127.0.0.1", "[::1]", "[::ffff:7f00:1]", "10.1.2.3"])
async def test_a_private_ip_literal_in_the_url_is_refused_without_resolving_or_connecting(
    host: str, listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({})
    fetcher = fetcher_factory(resolver)
    with pytest.raises(FetchError, match="not allowed"):
        await fetcher.fetch_json(f"https://{host}:{listener.port}/latest/meta-data")
    assert resolver.calls == []
    assert connects == []
    assert listener.accepted() == 0


@pytest.mark.anyio
async def test_localhost_through_the_system_resolver_is_refused_without_connecting(
    listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    fetcher = fetcher_factory()
    with pytest.raises(FetchError, match="not allowed"):
        await fetcher.fetch_json(f"https://localhost:{listener.port}/jwks")
    assert connects == []
    assert listener.accepted() == 0


@pytest.mark.anyio
async def test_the_system_resolver_returns_ip_strings() -> None:
    addresses = await address_module.SystemResolver().resolve("localhost", 443)
    assert addresses
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]
)
def test_public_addresses_pass_the_address_check_even_in_mapped_or_nat64_form(address: str) -> None:
    assert address_module.non_public_reason(ipaddress.ip_address(address)) is None


@pytest.mark.anyio
async def test_a_name_that_does_not_resolve_is_refused(fetcher_factory: Any) -> None:
    fetcher = fetcher_factory(TableResolver({}))
    with pytest.raises(FetchError, match="could not resolve"):
        await fetcher.fetch_json("https://nowhere.example/jwks")


# --- URL rules -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_plain_http_to_a_host_not_on_the_allow_list_is_refused(
    connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({"public.example": ["93.184.216.34"]})
    fetcher = fetcher_factory(resolver)
    with pytest.raises(FetchError, match="https"):
        await fetcher.fetch_json("http://public.example/jwks")
    assert resolver.calls == []
    assert connects == []


@pytest.mark.anyio
async def test_plain_http_to_an_allow_listed_host_is_refused_when_the_policy_forbids_it(
    server: Server, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    fetcher = fetcher_factory(allowed_private_hosts={"127.0.0.1"}, allow_http_for_allowed_hosts=False)
    with pytest.raises(FetchError, match="https"):
        await fetcher.fetch_json(server.url("/jwks"))
    assert connects == []


@pytest.mark.anyio
async def test_an_allow_list_entry_with_a_port_allows_only_that_port(
    server: Server, listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    fetcher = fetcher_factory(allowed_private_hosts={f"127.0.0.1:{server.port}"})
    assert await fetcher.fetch_json(server.url("/jwks")) == JWKS
    with pytest.raises(FetchError):
        await fetcher.fetch_json(f"http://127.0.0.1:{listener.port}/jwks")
    assert connects == [("127.0.0.1", server.port)]
    assert listener.accepted() == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:secret@jwks.example/jwks", "userinfo"),
        ("https://user@jwks.example/jwks", "userinfo"),
        ("https://jwks.example/jwks#frag", "fragment"),
        ("https://jwks.example/jwks#", "fragment"),
        ("file:///etc/passwd", "https"),
        ("ftp://jwks.example/jwks", "https"),
        ("gopher://jwks.example:70/_", "https"),
        ("https:///jwks", "no host"),
        ("not a url", "https"),
    ],
)
async def test_urls_with_userinfo_a_fragment_or_another_scheme_are_refused(
    url: str, reason: str, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    resolver = TableResolver({"jwks.example": ["93.184.216.34"]})
    fetcher = fetcher_factory(resolver)
    with pytest.raises(FetchError, match=reason):
        await fetcher.fetch_json(url)
    assert resolver.calls == []
    assert connects == []


def test_a_malformed_allow_list_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="host:port"):
        DocumentFetcher(FetchPolicy(allowed_private_hosts=frozenset({"localhost:http"})))


# --- response rules ------------------------------------------------------------------------------


@pytest.fixture
def loopback_fetcher(fetcher_factory: Any) -> DocumentFetcher:
    return cast(DocumentFetcher, fetcher_factory(allowed_private_hosts={"127.0.0.1"}))


@pytest.mark.anyio
async def test_redirects_are_refused_not_followed(server: Server, loopback_fetcher: DocumentFetcher) -> None:
    with pytest.raises(FetchError, match="redirect"):
        await loopback_fetcher.fetch_json(server.url("/redirect"))
    assert server.state.paths == ["/redirect"]


@pytest.mark.anyio
async def test_a_non_200_status_is_refused(server: Server, loopback_fetcher: DocumentFetcher) -> None:
    with pytest.raises(FetchError, match="404"):
        await loopback_fetcher.fetch_json(server.url("/not-found"))


@pytest.mark.anyio
async def test_an_oversized_body_with_a_declared_length_is_refused(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    with pytest.raises(FetchError, match="larger than 5120 bytes"):
        await loopback_fetcher.fetch_json(server.url("/big-declared"))


@pytest.mark.anyio
async def test_an_oversized_streamed_body_is_cut_off_without_reading_it_all(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="larger than 5120 bytes"):
        await loopback_fetcher.fetch_json(server.url("/big-streamed"))
    assert time.monotonic() - started < 1.0
    assert await anyio.to_thread.run_sync(server.state.stream_ended.wait, 5.0)
    # The server gave up when the client hung up, long before its 64 MiB were out.
    assert server.state.bytes_sent["/big-streamed"] < 16 * 1024 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/html", "/no-type"])
async def test_a_wrong_content_type_is_refused(
    path: str, server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    with pytest.raises(FetchError, match="content type"):
        await loopback_fetcher.fetch_json(server.url(path))


@pytest.mark.anyio
async def test_a_structured_json_media_type_is_accepted(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    assert await loopback_fetcher.fetch_json(server.url("/jwk-set")) == JWKS


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "reason"), [("/array", "not a JSON object"), ("/not-json", "not valid JSON")]
)
async def test_a_body_that_is_not_a_json_object_is_refused_without_echoing_it(
    path: str, reason: str, server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    with pytest.raises(FetchError, match=reason) as caught:
        await loopback_fetcher.fetch_json(server.url(path))
    message = str(caught.value)
    assert "this is not json" not in message and "[1, 2, 3]" not in message
    assert "\n" not in message


@pytest.mark.anyio
async def test_a_content_encoded_body_is_refused(server: Server, loopback_fetcher: DocumentFetcher) -> None:
    with pytest.raises(FetchError, match="content-encoded"):
        await loopback_fetcher.fetch_json(server.url("/gzip"))


@pytest.mark.anyio
async def test_a_slow_server_is_cut_off_by_the_total_timeout(server: Server, fetcher_factory: Any) -> None:
    fetcher = fetcher_factory(allowed_private_hosts={"127.0.0.1"}, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"within 0\.5 s"):
        await fetcher.fetch_json(server.url("/drip"))
    assert time.monotonic() - started < 1.5


# --- cache rules ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cache_control_max_age_sets_the_cache_lifetime(
    server: Server, loopback_fetcher: DocumentFetcher, clock: FrozenClock
) -> None:
    url = server.url("/max-age-60")
    await loopback_fetcher.fetch_json(url)
    clock.advance(59)
    await loopback_fetcher.fetch_json(url)
    assert server.state.hits("/max-age-60") == 1
    clock.advance(2)
    await loopback_fetcher.fetch_json(url)
    assert server.state.hits("/max-age-60") == 2


@pytest.mark.anyio
async def test_max_age_is_clamped_to_max_cache_seconds(
    server: Server, fetcher_factory: Any, clock: FrozenClock
) -> None:
    fetcher = fetcher_factory(allowed_private_hosts={"127.0.0.1"}, max_cache_seconds=100)
    url = server.url("/max-age-huge")
    await fetcher.fetch_json(url)
    clock.advance(101)
    await fetcher.fetch_json(url)
    assert server.state.hits("/max-age-huge") == 2


@pytest.mark.anyio
async def test_without_cache_control_the_default_lifetime_applies(
    server: Server, loopback_fetcher: DocumentFetcher, clock: FrozenClock
) -> None:
    url = server.url("/jwks")
    await loopback_fetcher.fetch_json(url)
    clock.advance(299)
    await loopback_fetcher.fetch_json(url)
    assert server.state.hits("/jwks") == 1
    clock.advance(2)
    await loopback_fetcher.fetch_json(url)
    assert server.state.hits("/jwks") == 2


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/no-store", "/max-age-0"])
async def test_no_store_and_max_age_zero_are_not_cached(
    path: str, server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    await loopback_fetcher.fetch_json(server.url(path))
    await loopback_fetcher.fetch_json(server.url(path))
    assert server.state.hits(path) == 2


@pytest.mark.anyio
async def test_failures_are_not_cached(server: Server, loopback_fetcher: DocumentFetcher) -> None:
    for _ in range(2):
        with pytest.raises(FetchError):
            await loopback_fetcher.fetch_json(server.url("/html"))
    assert server.state.hits("/html") == 2


@pytest.mark.anyio
async def test_a_body_that_does_not_decode_is_not_cached(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    """``/not-json`` has the default cache lifetime: a body that is not JSON must not keep failing
    from the cache until it expires, it is fetched again (the document may be fixed by then)."""
    for _ in range(2):
        with pytest.raises(FetchError, match="not valid JSON"):
            await loopback_fetcher.fetch_json(server.url("/not-json"))
    assert server.state.hits("/not-json") == 2


@pytest.mark.anyio
async def test_fetch_bytes_returns_the_body_as_it_came_and_caches_it(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    url = server.url("/not-json")
    assert await loopback_fetcher.fetch_bytes(url) == b"{this is not json"
    assert await loopback_fetcher.fetch_bytes(url) == b"{this is not json"
    assert server.state.hits("/not-json") == 1
    with pytest.raises(FetchError, match="not valid JSON"):  # not taken from the cache as JSON
        await loopback_fetcher.fetch_json(url)
    assert server.state.hits("/not-json") == 2


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1"])
async def test_fetch_bytes_refuses_a_private_address_without_connecting(
    address: str, listener: Listener, connects: list[tuple[str, int]], fetcher_factory: Any
) -> None:
    fetcher = fetcher_factory(TableResolver({"docs.attacker.example": [address]}))
    with pytest.raises(FetchError, match="not allowed"):
        await fetcher.fetch_bytes(f"https://docs.attacker.example:{listener.port}/openapi.json")
    assert connects == []
    assert listener.accepted() == 0


@pytest.mark.anyio
async def test_fetch_bytes_follows_no_redirect_and_refuses_what_is_not_json(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    with pytest.raises(FetchError, match="redirects are not followed"):
        await loopback_fetcher.fetch_bytes(server.url("/redirect"))
    with pytest.raises(FetchError, match="is not JSON"):
        await loopback_fetcher.fetch_bytes(server.url("/html"))
    assert server.state.hits("/jwks") == 0


@pytest.mark.anyio
async def test_the_cache_is_bounded_and_evicts_the_least_recently_used(
    server: Server, loopback_fetcher: DocumentFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "MAX_CACHE_ENTRIES", 2)
    for query in ("a", "b", "a", "c", "a", "b"):
        await loopback_fetcher.fetch_json(server.url(f"/jwks?{query}"))
    # a stays (recently used), b is evicted by c and fetched again.
    assert [server.state.hits(f"/jwks?{q}") for q in "abc"] == [1, 2, 1]


@pytest.mark.anyio
async def test_a_caller_cannot_alter_the_cached_document(
    server: Server, loopback_fetcher: DocumentFetcher
) -> None:
    first = await loopback_fetcher.fetch_json(server.url("/jwks"))
    first["keys"].append({"kty": "oct", "k": "attacker"})
    assert await loopback_fetcher.fetch_json(server.url("/jwks")) == JWKS


@pytest.mark.anyio
async def test_a_closed_fetcher_refuses_to_fetch(server: Server, loopback_fetcher: DocumentFetcher) -> None:
    await loopback_fetcher.aclose()
    with pytest.raises(FetchError, match="closed"):
        await loopback_fetcher.fetch_json(server.url("/jwks"))
    assert server.state.paths == []


# --- TLS: pinned IP, original hostname for SNI and certificate verification -------------------


@pytest.mark.anyio
async def test_tls_verifies_the_original_hostname_while_connecting_to_the_pinned_address(
    certificates: ThrowAwayCA,
    connects: list[tuple[str, int]],
    fetcher_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetch_module, "_default_ssl_context", lambda: certificates.client)
    resolver = TableResolver({"jwks.test": ["127.0.0.1"]})
    fetcher = fetcher_factory(resolver, allowed_private_hosts={"jwks.test"})
    with serving(certificates.server_for("jwks.test")) as tls_server:
        document = await fetcher.fetch_json(tls_server.url("/host", host="jwks.test", scheme="https"))
        assert document == {"host": f"jwks.test:{tls_server.port}"}
        assert tls_server.state.sni == ["jwks.test"]
    assert connects == [("127.0.0.1", tls_server.port)]


@pytest.mark.anyio
async def test_a_certificate_for_another_hostname_is_refused(
    certificates: ThrowAwayCA, fetcher_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "_default_ssl_context", lambda: certificates.client)
    resolver = TableResolver({"jwks.test": ["127.0.0.1"]})
    fetcher = fetcher_factory(resolver, allowed_private_hosts={"jwks.test"})
    with serving(certificates.server_for("other.test")) as tls_server:
        with pytest.raises(FetchError, match="could not connect"):
            await fetcher.fetch_json(tls_server.url("/jwks", host="jwks.test", scheme="https"))
        assert tls_server.state.paths == []


@pytest.mark.anyio
async def test_a_certificate_from_an_untrusted_issuer_is_refused(
    certificates: ThrowAwayCA, fetcher_factory: Any
) -> None:
    resolver = TableResolver({"jwks.test": ["127.0.0.1"]})
    fetcher = fetcher_factory(resolver, allowed_private_hosts={"jwks.test"})  # the system trust store
    with serving(certificates.server_for("jwks.test")) as tls_server:
        with pytest.raises(FetchError, match="could not connect"):
            await fetcher.fetch_json(tls_server.url("/jwks", host="jwks.test", scheme="https"))
        assert tls_server.state.paths == []
