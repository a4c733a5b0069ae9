"""``python -m gateway tools test TOOL --arguments JSON [--as CLIENT]``: a tool author's call through
the gateway's real path, showing the request that went upstream and the result (AU-9).

The MCP upstream is :class:`~tests.support.fake_upstream.FakeUpstream` (it records what it got);
the REST API is :mod:`tests.support.notes_api`, which verifies every token with the JWKS of a
gateway running on the same store as the command line. Both run under uvicorn on loopback.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import jwt
import pytest

from gateway.config import settings_from
from gateway.settings import Settings
from gateway.upstream.recording_transport import RecordingTransport
from gateway.upstream.transport import EventReceiver, UpstreamReply
from tests.support.asgi_server import Served
from tests.support.cli import Cli, assert_refused
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_server import running_gateway
from tests.support.notes_api import NotesApi

JWT_LOOKING = re.compile(r"eyJ[A-Za-z0-9_-]+\.")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.on_sqlite(tmp_path)


@pytest.fixture
def fake(cli: Cli) -> Iterator[tuple[FakeUpstream, str]]:
    """The fake MCP upstream registered as ``fake``: its tool ``ping_tool`` needs ``fake:ping_tool``."""
    upstream = FakeUpstream(tool_names=["ping_tool"])
    with Served(lifespan="off").start(upstream) as served:
        assert cli.run("tools", "add", "fake", "--url", f"{served.url}/mcp").returncode == 0
        yield upstream, f"{served.url}/mcp"


def _no_token_in(result: subprocess.CompletedProcess[str]) -> None:
    assert JWT_LOOKING.search(result.stdout + result.stderr) is None, result.stdout


def _sent_token(upstream: FakeUpstream) -> dict[str, Any]:
    """The claims of the token the upstream received with its last ``tools/call``."""
    authorization = next(auth for auth, body in reversed(upstream.seen) if body.get("method") == "tools/call")
    return jwt.decode(authorization.removeprefix("Bearer "), options={"verify_signature": False})


def _calls(upstream: FakeUpstream) -> int:
    return sum(body.get("method") == "tools/call" for _, body in upstream.seen)


def test_au9_the_request_shown_carries_the_exchanged_tokens_claims_and_never_a_token(
    cli: Cli, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, url = fake
    result = cli.run("tools", "test", "fake__ping_tool", "--arguments", '{"city": "Paris"}')
    assert result.returncode == 0, result.stderr
    _no_token_in(result)
    sent = _sent_token(upstream)
    assert (sent["aud"], sent["scope"], sent["act"]) == (
        url,
        "fake:ping_tool",
        {"sub": "mcp-gateway-tools-test"},
    )
    out = result.stdout
    assert f"request 1 to upstream fake: POST {url} -> 200 application/json" in out
    assert "  Authorization: Bearer <redacted>" in out
    assert f"      aud: {url}" in out and "      scope: fake:ping_tool" in out
    assert '      act: {"sub": "mcp-gateway-tools-test"}' in out
    assert f"      exp: {sent['exp']} (" in out
    assert '"arguments": {"city": "Paris"}' in out
    assert "result (isError: false):" in out and "ping_tool answered" in out


def test_au9_json_output_is_the_redacted_request_and_the_result(
    cli: Cli, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, url = fake
    result = cli.run("tools", "test", "fake__ping_tool", "--json")
    assert result.returncode == 0, result.stderr
    _no_token_in(result)
    shown = json.loads(result.stdout)
    assert set(shown) == {"tool", "request", "preceding", "result"}
    request = shown["request"]
    assert (request["method"], request["url"], request["status"]) == ("POST", url, 200)
    assert request["headers"]["Authorization"] == "Bearer <redacted>"
    claims = {k: v for k, v in _sent_token(upstream).items() if k in request["token_claims"]}
    assert request["token_claims"] == claims
    assert set(claims) == {"aud", "scope", "sub", "client_id", "act", "exp"}
    assert shown["result"]["isError"] is False


def test_au9_a_test_call_is_audited_as_the_operators_test(cli: Cli, fake: tuple[FakeUpstream, str]) -> None:
    assert cli.run("tools", "test", "fake__ping_tool", extra_env={"USER": "alice"}).returncode == 0
    [event] = cli.json("audit", "search", "--type", "tool_call")
    assert event["outcome"] == "forwarded"
    assert event["actor"] == {"subject": "cli:alice", "via": "cli"}
    assert event["fields"]["by"] == "cli:alice" and event["fields"]["test"] is True
    assert event["fields"]["client_id"] == "mcp-gateway-tools-test"


def test_as_a_client_without_the_scope_is_refused_as_that_agent_would_be(
    cli: Cli, fake: tuple[FakeUpstream, str]
) -> None:
    upstream, _ = fake
    added = cli.run(
        "clients", "add", "reader", "--auth-method", "client_secret_basic", "--scope", "fake:other"
    )
    assert added.returncode == 0, added.stderr
    refused = cli.run("tools", "test", "fake__ping_tool", "--as", "reader")
    assert_refused(refused, 1, "fake__ping_tool: refused, insufficient scope: the tool needs fake:ping_tool")
    assert _calls(upstream) == 0


def test_as_a_client_with_the_scope_calls_with_its_identity(cli: Cli, fake: tuple[FakeUpstream, str]) -> None:
    upstream, _ = fake
    added = cli.run(
        "clients", "add", "pinger", "--auth-method", "client_secret_basic", "--scope", "fake:ping_tool"
    )
    assert added.returncode == 0, added.stderr
    shown = json.loads(cli.run("tools", "test", "fake__ping_tool", "--as", "pinger", "--json").stdout)
    assert shown["request"]["token_claims"]["client_id"] == "pinger"
    assert _sent_token(upstream)["act"] == {"sub": "pinger"}


def test_as_an_unknown_client_is_one_line_and_exit_1(cli: Cli, fake: tuple[FakeUpstream, str]) -> None:
    assert_refused(cli.run("tools", "test", "fake__ping_tool", "--as", "nobody"), 1, "no client 'nobody'")


@pytest.mark.parametrize("tool", ["fake__nope", "elsewhere__ping_tool"])
def test_an_unknown_tool_is_one_line_and_exit_1(cli: Cli, fake: tuple[FakeUpstream, str], tool: str) -> None:
    assert_refused(cli.run("tools", "test", tool), 1, f"{tool}: Unknown tool: {tool}")


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [("{not json", "--arguments is not JSON"), ("[1, 2]", "--arguments must be a JSON object, not list")],
)
def test_bad_arguments_are_one_line_and_exit_2(cli: Cli, arguments: str, fragment: str) -> None:
    assert_refused(cli.run("tools", "test", "fake__ping_tool", "--arguments", arguments), 2, fragment)


def test_a_held_tool_is_one_line_and_exit_1(cli: Cli) -> None:
    upstream = FakeUpstream(tool_names=["fresh"])
    with Served(lifespan="off").start(upstream) as served:
        added = cli.run("tools", "add", "live", "--url", f"{served.url}/mcp", "--pinning", "review")
        assert added.returncode == 0, added.stderr
        refused = cli.run("tools", "test", "live__fresh")
    assert_refused(refused, 1, "live__fresh: held:")
    assert "see mcp-gateway tools review" in refused.stderr
    assert _calls(upstream) == 0


def test_an_unhealthy_upstream_is_one_line_and_exit_1(cli: Cli) -> None:
    with Served(lifespan="off") as gone:
        url = f"{gone.url}/mcp"  # bound, never served: the port refuses connections once closed
    assert cli.run("tools", "add", "down", "--url", url).returncode == 0
    assert_refused(cli.run("tools", "test", "down__anything"), 1, "upstream down is unhealthy")


def _config(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(f'port = {settings.server.port}\nfetch_allowed_private_hosts = ["127.0.0.1"]\n')
    return path


def test_au9_a_rest_call_shows_its_request_with_the_exchanged_tokens_claims(tmp_path: Path) -> None:
    """The notes API verifies the token with the JWKS of a gateway serving the same store."""
    api, store = NotesApi(), tmp_path / "gw.sqlite3"

    def settings(port: int) -> Settings:
        return settings_from(
            port=port, store=f"sqlite:///{store}", fetch_allowed_private_hosts=("127.0.0.1",)
        )

    with Served() as served, running_gateway(settings) as gateway:
        served.start(api.app(gateway.issuer, served.url))
        cli = Cli(store=f"sqlite:///{store}", cwd=tmp_path, config=_config(tmp_path, gateway.settings))
        document = f"{served.url}/openapi.json"
        added = cli.run("tools", "add", "notes", "--openapi", document, "--base-url", served.url)
        assert added.returncode == 0, added.stderr
        result = cli.run(
            "tools", "test", "notes__createNote", "--arguments", '{"body": {"text": "hi"}}', "--json"
        )
    assert result.returncode == 0, result.stdout
    _no_token_in(result)
    shown = json.loads(result.stdout)
    request = shown["request"]
    assert (request["upstream"], request["method"], request["url"]) == (
        "notes",
        "POST",
        f"{served.url}/notes",
    )
    assert request["status"] == 201 and request["headers"]["Authorization"] == "Bearer <redacted>"
    claims = request["token_claims"]
    assert (claims["aud"], claims["scope"]) == (served.url, "notes:write")
    [(_, received, method, path)] = api.received
    assert (method, path) == ("POST", "/notes")
    assert {k: received[k] for k in claims} == claims
    assert shown["result"]["isError"] is False


class _Answering:
    """An upstream transport that answers 200 to everything, sending nothing anywhere."""

    async def post(
        self,
        name: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        time_limit: float,
        on_event: EventReceiver | None = None,
    ) -> UpstreamReply:
        return UpstreamReply(200, "application/json", b"{}", None)

    async def send(
        self,
        name: str,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        time_limit: float,
    ) -> UpstreamReply:
        return UpstreamReply(204, "", b"", None)

    async def aclose(self) -> None:
        pass


def test_au9_the_recorder_keeps_no_secret_and_records_only_when_asked() -> None:
    token = jwt.encode({"aud": "https://api.example", "scope": "a", "jti": "j"}, "k" * 32, algorithm="HS256")
    headers = {
        "Authorization": f"Bearer {token}",
        "Cookie": "session=abc",
        "X-Api-Key": "s3cret",
        "X-Trace": f"carried {token}",
        "Accept": "application/json",
    }
    recorder = RecordingTransport(_Answering())

    async def calls() -> list[Any]:
        await recorder.send("api", "GET", "https://api.example/x", None, headers, 5)  # not recording
        with recorder.recording() as recording:
            await recorder.send("api", "GET", "https://api.example/x?api_key=s3cret&q=1", None, headers, 5)
            await recorder.post("api", "https://api.example/mcp", f'{{"t": "{token}"}}'.encode(), headers, 5)
        return [sent.as_dict() for sent in recording.sent]

    got = anyio.run(calls)
    assert len(got) == 2
    printed = json.dumps(got)
    assert token not in printed and "s3cret" not in printed and "session=abc" not in printed
    for sent in got:
        assert sent["token_claims"] == {"aud": "https://api.example", "scope": "a"}
        assert sent["headers"] == {
            "Authorization": "Bearer <redacted>",
            "Cookie": "<redacted>",
            "X-Api-Key": "<redacted>",
            "X-Trace": "carried <redacted>",
            "Accept": "application/json",
        }
    assert got[0]["url"] == "https://api.example/x?api_key=<redacted>&q=1" and got[0]["status"] == 204
    assert got[1]["body_preview"] == '{"t": "<redacted>"}' and got[1]["status"] == 200
