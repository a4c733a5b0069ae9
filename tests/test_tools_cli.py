"""``python -m gateway tools …``: upstream servers on the same SQLite store a server uses.

Exit codes (gateway/cli.py): 0 done, 1 the object was not there, 2 bad configuration or arguments.
Config-file ``[[servers]]`` are listed but read-only; a bad one is one line on stderr and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.asgi_server import Served
from tests.support.cli import Cli, assert_refused
from tests.support.fake_upstream import FakeUpstream


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.on_sqlite(tmp_path)


def config(cli: Cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    cli.config = path


WEATHER_TABLE = """
[[servers]]
id = "weather"
url = "https://weather.example/mcp"
default_scopes = ["weather:read"]
timeout = 5
[servers.tool_scopes]
set_alert = ["weather:write"]
"""


def test_add_show_list_remove_a_server(cli: Cli) -> None:
    added = cli.json(
        "tools",
        "add",
        "billing",
        "--url",
        "https://Billing.example:443/mcp",
        "--tool-scope",
        "pay=billing:pay, billing:write",
        "--tool-scope",
        "refund=billing:refund",
        "--default-scope",
        "billing:read",
        "--description",
        "pay=Pay an invoice = now.",
        "--timeout",
        "7.5",
        "--refresh-interval",
        "60",
        "--input-request",
        "sampling",
        "--input-request",
        "elicitation",
        "--call-approval",
        "refund",
        "--audit-arguments",
        "pay",
        "--audit-redact",
        "card_number",
    )
    assert added == {
        "id": "billing",
        "kind": "mcp",
        "url": "https://Billing.example:443/mcp",
        "audience": "https://billing.example/mcp",
        "foreign_audience": False,
        "tool_scopes": {"pay": ["billing:pay", "billing:write"], "refund": ["billing:refund"]},
        "default_scopes": ["billing:read"],
        "descriptions": {"pay": "Pay an invoice = now."},
        "timeout": 7.5,
        "refresh_interval": 60.0,
        "input_requests": ["elicitation", "sampling"],
        "call_approval": ["refund"],
        "audit_arguments": ["pay"],
        "audit_redact": ["card_number"],
        "pinning": "first-use",
        "source": "store",
    }
    assert cli.json("tools", "show", "billing") == added  # read back from the store by a new process
    assert cli.json("tools", "list") == [added]
    text = cli.run("tools", "list")
    assert text.returncode == 0
    assert text.stdout.splitlines()[1].split() == [
        "billing",
        "https://Billing.example:443/mcp",
        "https://billing.example/mcp",
        "store",
    ]

    assert cli.json("tools", "remove", "billing") == {"removed": "billing"}
    assert_refused(cli.run("tools", "show", "billing"), 1, "no upstream server 'billing'")
    assert_refused(cli.run("tools", "remove", "billing"), 1, "no upstream server 'billing'")
    assert cli.json("tools", "list") == []


def test_the_defaults_of_a_new_server(cli: Cli) -> None:
    added = cli.json("tools", "add", "local", "--url", "http://127.0.0.1:9100/mcp", "--audience", "")
    assert added["audience"] == "http://127.0.0.1:9100/mcp"
    assert added["default_scopes"] is None  # each tool t needs local:t
    assert (added["timeout"], added["refresh_interval"]) == (10.0, 300.0)
    assert added["input_requests"] == [], "a new server may ask agents for nothing"
    result = cli.run("tools", "list")
    assert result.returncode == 0 and "local" in result.stdout


def test_an_empty_list(cli: Cli) -> None:
    assert cli.json("tools", "list") == []
    result = cli.run("tools", "list")
    assert result.returncode == 0 and "no upstream servers registered" in result.stdout


def test_config_servers_are_listed_and_read_only(cli: Cli, tmp_path: Path) -> None:
    config(cli, tmp_path, WEATHER_TABLE)
    cli.json("tools", "add", "alpha", "--url", "https://alpha.example/mcp")
    listed = cli.json("tools", "list")
    assert [(s["id"], s["source"]) for s in listed] == [("alpha", "store"), ("weather", "config")]
    shown = cli.json("tools", "show", "weather")
    assert shown["tool_scopes"] == {"set_alert": ["weather:write"]}
    assert shown["default_scopes"] == ["weather:read"] and shown["timeout"] == 5.0

    assert_refused(cli.run("tools", "remove", "weather"), 2, "config file")
    assert_refused(cli.run("tools", "add", "weather", "--url", "https://evil.example/mcp"), 2, "config file")
    assert cli.json("tools", "show", "weather")["url"] == "https://weather.example/mcp"


def test_adding_a_duplicate_is_refused(cli: Cli) -> None:
    cli.json("tools", "add", "dup", "--url", "https://first.example/mcp")
    assert_refused(cli.run("tools", "add", "dup", "--url", "https://second.example/mcp"), 2, "already exists")
    assert cli.json("tools", "show", "dup")["url"] == "https://first.example/mcp"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("bad.id", "--url", "https://x.example"), "id must be 1-32 characters"),
        (("x", "--url", "http://x.example/mcp"), "url must use https unless the host is loopback"),
        (("x", "--url", "not a url"), "url must be an absolute http(s) URL"),
        (("x", "--url", "https://x.example", "--audience", "urn:x"), "audience"),
        (("x", "--url", "https://x.example", "--tool-scope", "pay"), "--tool-scope takes TOOL=VALUE"),
        (("x", "--url", "https://x.example", "--tool-scope", "pay="), "--tool-scope takes TOOL=VALUE"),
        (("x", "--url", "https://x.example", "--tool-scope", "bad name=s"), "tool_scopes names tool"),
        (("x", "--url", "https://x.example", "--tool-scope", "pay=a b"), "not a valid OAuth scope"),
        (("x", "--url", "https://x.example", "--tool-scope", "a=s", "--tool-scope", "a=t"), "twice"),
        (("x", "--url", "https://x.example", "--description", "pay"), "--description takes TOOL=VALUE"),
        (("x", "--url", "https://x.example", "--timeout", "0"), "timeout must be"),
        (("x", "--url", "https://x.example", "--timeout", "500"), "timeout must be"),
        (("x", "--url", "https://x.example", "--refresh-interval", "-5"), "refresh_interval must be"),
        (("x", "--url", "https://x.example", "--input-request", "telepathy"), "not an input request kind"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    assert_refused(cli.run("tools", "add", *args), 2, fragment)
    assert cli.json("tools", "list") == []


def test_up4_the_cli_refuses_an_upstream_that_would_receive_the_gateways_own_tokens(cli: Cli) -> None:
    """With the configuration's defaults the gateway's /mcp is http://127.0.0.1:8000/mcp."""
    own = (
        "x",
        "--url",
        "https://evil.example/mcp",
        "--audience",
        "http://127.0.0.1:8000/mcp",
        "--foreign-audience",
    )
    assert_refused(cli.run("tools", "add", *own), 2, "the gateway's own")
    foreign = ("y", "--url", "https://evil.example/mcp", "--audience", "https://bank.example/api")
    assert_refused(cli.run("tools", "add", *foreign), 2, "not on the url's origin")
    cli.json("tools", "add", "Good1", "--url", "https://one.example/mcp")
    assert_refused(cli.run("tools", "add", "good1", "--url", "https://two.example/mcp"), 2, "ids ignore case")
    assert cli.json("tools", "list")[0]["id"] == "Good1"


def test_missing_arguments_are_a_usage_error(cli: Cli) -> None:
    result = cli.run("tools", "add", "x")  # no --url
    assert result.returncode == 2 and "--url" in result.stderr
    assert cli.run("tools", "add", "x", "--url", "https://x.example", "--timeout", "soon").returncode == 2


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('[[servers]]\nid = "w"\nurl = "http://w.example/mcp"\n', "[[servers]] w: url must use https"),
        ('[[servers]]\nurl = "https://w.example/mcp"\n', "[[servers]] #1: every [[servers]] entry needs"),
        ('[[servers]]\nid = "w"\nurl = "https://w.example"\ncolour = 1\n', "unknown server setting"),
        ('[[servers]]\nid = "w"\nurl = "https://w.example"\ntimeout = 0\n', "[[servers]] w: timeout"),
        ('servers = "weather"\n', "'servers' must be a list of tables"),
        (WEATHER_TABLE + WEATHER_TABLE, "[[servers]] weather: the id is defined twice"),
    ],
)
def test_a_bad_config_server_is_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, table: str, fragment: str
) -> None:
    config(cli, tmp_path, table)
    assert_refused(cli.run("tools", "list"), 2, fragment)
    assert_refused(cli.run("clients", "list"), 2, fragment)  # bad config stops every command


def test_refresh_of_an_unknown_server_is_exit_1(cli: Cli) -> None:
    assert_refused(cli.run("tools", "refresh", "nope"), 1, "no upstream server 'nope'")


def test_up6_tools_add_refuses_an_id_that_blurs_into_the_tool_name_separator(cli: Cli) -> None:
    refused = cli.run("tools", "add", "weather_", "--url", "https://weather.example/mcp")
    assert_refused(refused, 2, "server id 'weather_' cannot be used with the tool name separator '__'")
    dotted = {"MCP_GATEWAY_TOOL_NAMESPACE_SEPARATOR": "."}
    assert (
        cli.run(
            "tools", "add", "weather_", "--url", "https://weather.example/mcp", extra_env=dotted
        ).returncode
        == 0
    )


def test_up6_tools_refresh_shows_the_tools_skipped_because_their_names_meet(cli: Cli) -> None:
    with Served(lifespan="off").start(FakeUpstream(tool_names=["get.x", "get_x", "other"])) as served:
        assert cli.run("tools", "add", "meet", "--url", f"{served.url}/mcp").returncode == 0
        result = cli.run("tools", "refresh", "meet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SERVER", "HEALTHY", "TOOLS", "SKIPPED", "REASON"]
    assert lines[1].split() == ["meet", "yes", "2", "1", "-"]
    assert lines[2] == (
        "skipped: meet: tools[1]: tool 'get_x' would be exposed as 'meet__get_x', the name of its tool "
        "'get.x'; the first is kept"
    )
