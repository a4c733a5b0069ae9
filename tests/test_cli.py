"""``python -m gateway clients …``: client management on the same SQLite store a server uses.

Exit codes (gateway/cli): 0 done, 1 the object was not there, 2 bad configuration or arguments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from gateway.config import settings_from
from gateway.oauth.clients.model import hash_secret
from gateway.settings import Settings
from tests.support.agents import AgentKey, assertion_form
from tests.support.cli import Cli, assert_refused
from tests.support.gateway_server import running_gateway
from tests.support.http_clients import blocking_http_client


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "gw.sqlite3"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli.on_sqlite(tmp_path)


# --- clients add / list / show / remove ----------------------------------------------------------


def test_add_a_private_key_jwt_client_with_an_inline_jwks(cli: Cli) -> None:
    key = AgentKey()
    added = cli.json(
        "clients", "add", "agent-a", "--jwks", json.dumps(key.jwks), "--scope", "tools:read", "--name", "A"
    )
    assert added["client_id"] == "agent-a"
    assert added["auth_method"] == "private_key_jwt"
    assert added["client_secret"] is None
    assert added["jwks"] == key.jwks

    shown = cli.json("clients", "show", "agent-a")
    assert shown["jwks"] == key.jwks
    assert shown["scopes"] == ["tools:read"]
    assert shown["name"] == "A"
    assert shown["has_secret"] is False
    assert shown["source"] == "store"


def test_add_a_private_key_jwt_client_with_a_jwks_file(cli: Cli, tmp_path: Path) -> None:
    key = AgentKey()
    jwks_file = tmp_path / "agent.jwks.json"
    jwks_file.write_text(json.dumps(key.jwks))
    result = cli.run("clients", "add", "agent-f", "--jwks", f"@{jwks_file}")
    assert result.returncode == 0, result.stderr
    assert "agent-f" in result.stdout
    assert cli.json("clients", "show", "agent-f")["jwks"] == key.jwks


def test_a_client_secret_is_printed_once_and_never_shown_again(cli: Cli, db: Path) -> None:
    result = cli.run("clients", "add", "secret-agent", "--auth-method", "client_secret_basic")
    assert result.returncode == 0, result.stderr
    secret_lines = [line for line in result.stdout.splitlines() if line.startswith("client_secret: ")]
    assert len(secret_lines) == 1, result.stdout
    secret = secret_lines[0].removeprefix("client_secret: ")
    assert len(secret) >= 43  # 256 bits, base64url
    digest = hash_secret(secret)
    hex_digest = digest.removeprefix("sha256:")

    for args in (("clients", "show", "secret-agent"), ("clients", "list")):
        for output in (cli.run(*args).stdout, cli.run(*args, "--json").stdout):
            assert secret not in output
            assert hex_digest not in output
            assert "secret_hash" not in output
    shown = cli.json("clients", "show", "secret-agent")
    assert shown["has_secret"] is True
    assert "client_secret" not in shown

    # Only the digest is kept in the store, never the secret itself.
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert secret.encode() not in stored
    assert hex_digest.encode() in stored


def test_two_clients_get_two_different_secrets(cli: Cli) -> None:
    one = cli.json("clients", "add", "s1", "--auth-method", "client_secret_post")["client_secret"]
    two = cli.json("clients", "add", "s2", "--auth-method", "client_secret_post")["client_secret"]
    assert one and two and one != two


def test_list_json_shows_store_and_config_clients_sorted(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('[[clients]]\nclient_id = "b-config"\njwks_uri = "https://b.example/jwks.json"\n')
    cli.config = config
    cli.json("clients", "add", "c-store", "--jwks", json.dumps(AgentKey().jwks))
    cli.json("clients", "add", "a-store", "--jwks", json.dumps(AgentKey().jwks))
    listed = cli.json("clients", "list")
    assert [(c["client_id"], c["source"]) for c in listed] == [
        ("a-store", "store"),
        ("b-config", "config"),
        ("c-store", "store"),
    ]
    assert all("secret_hash" not in c for c in listed)


def test_text_listings_are_aligned_tables_with_headers_and_dates_as_dates(cli: Cli) -> None:
    """People read tables (as from ``kubectl get``); ``--json`` keeps its records and epoch times."""
    cli.json("clients", "add", "an-agent", "--jwks", json.dumps(AgentKey().jwks), "--scope", "tools:read")
    header, row = cli.run("clients", "list").stdout.splitlines()
    assert header.split() == ["CLIENT", "ID", "AUTHENTICATION", "SCOPES", "SOURCE"]
    assert row.split() == ["an-agent", "private_key_jwt", "tools:read", "store"]
    assert row.index("private_key_jwt") == header.index("AUTHENTICATION"), "columns are aligned"

    key, _downstream = cli.json("keys", "list")
    header, row, _ = cli.run("keys", "list").stdout.splitlines()
    assert header.split()[:3] == ["PURPOSE", "KID", "STATE"] and "SIGNS FROM" in header
    assert time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(key["activates_at"])) in row
    assert str(key["activates_at"]) not in row, "never an epoch number for people"
    assert isinstance(key["activates_at"], int), "--json is unchanged"


def test_list_of_an_empty_store(cli: Cli) -> None:
    assert cli.json("clients", "list") == []
    result = cli.run("clients", "list")
    assert result.returncode == 0 and "no clients registered" in result.stdout


def test_remove_a_client(cli: Cli) -> None:
    cli.json("clients", "add", "gone", "--jwks", json.dumps(AgentKey().jwks))
    assert cli.json("clients", "remove", "gone") == {"removed": "gone"}
    assert_refused(cli.run("clients", "show", "gone"), 1, "no client 'gone'")
    assert_refused(cli.run("clients", "remove", "gone"), 1, "no client 'gone'")
    assert cli.json("clients", "list") == []


def test_removing_a_config_file_client_is_refused(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text('[[clients]]\nclient_id = "cfg"\njwks_uri = "https://cfg.example/jwks.json"\n')
    cli.config = config
    assert_refused(cli.run("clients", "remove", "cfg"), 2, "config file")
    assert cli.json("clients", "show", "cfg")["source"] == "config"


def test_adding_a_duplicate_is_refused(cli: Cli, tmp_path: Path) -> None:
    first = AgentKey()
    cli.json("clients", "add", "dup", "--jwks", json.dumps(first.jwks))
    assert_refused(
        cli.run("clients", "add", "dup", "--jwks", json.dumps(AgentKey().jwks)), 2, "already exists"
    )
    assert cli.json("clients", "show", "dup")["jwks"] == first.jwks  # the first one is untouched

    config = tmp_path / "gw.toml"
    config.write_text('[[clients]]\nclient_id = "cfg"\njwks_uri = "https://cfg.example/jwks.json"\n')
    cli.config = config
    assert_refused(cli.run("clients", "add", "cfg", "--jwks", json.dumps(first.jwks)), 2, "already exists")


def test_adding_a_client_with_a_private_jwk_is_refused(cli: Cli) -> None:
    key = AgentKey()
    private = dict(key.public_jwk)
    private["d"] = "ZmFrZS1wcml2YXRlLXNjYWxhci1mb3ItdGVzdHMtb25seQ"
    result = cli.run("clients", "add", "leaky", "--jwks", json.dumps({"keys": [private]}))
    assert_refused(result, 2, "public keys only")
    assert private["d"] not in result.stderr
    assert_refused(cli.run("clients", "show", "leaky"), 1, "no client")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("clients", "add", "x"), "exactly one of jwks or jwks_uri"),
        (("clients", "add", "x", "--jwks", "{not json"), "not valid JSON"),
        (("clients", "add", "x", "--jwks", "[1]"), "JSON object"),
        (("clients", "add", "x", "--jwks", '{"keys": []}'), "at least one key"),
        (("clients", "add", "x", "--jwks-uri", "ftp://x.example/jwks"), "https"),
        (("clients", "add", "x", "--jwks", "{}", "--jwks-uri", "https://x.example/j"), "exactly one"),
        (("clients", "add", "x", "--jwks-uri", "https://x.example/j", "--audience", "not-a-url"), "audience"),
    ],
)
def test_invalid_client_definitions_exit_2(cli: Cli, args: tuple[str, ...], fragment: str) -> None:
    assert_refused(cli.run(*args), 2, fragment)
    assert cli.json("clients", "list") == []


def test_a_missing_jwks_file_exits_2_in_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("clients", "add", "x", "--jwks", f"@{tmp_path / 'nope.json'}")
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_arguments_exit_2(cli: Cli) -> None:
    assert cli.run("clients", "frobnicate").returncode == 2
    assert cli.run("clients", "add", "x", "--auth-method", "magic").returncode == 2


# --- the key point: a client added while a gateway runs on the same file gets a token at once -------


def test_a_client_added_while_the_gateway_runs_gets_a_token_at_once(cli: Cli) -> None:
    key = AgentKey()

    def settings(port: int) -> Settings:
        return settings_from(port=port, store=cli.store)

    with running_gateway(settings) as gateway, blocking_http_client(gateway.url) as http:
        before = http.post("/token", data=assertion_form(key.assertion("live-agent", gateway.issuer)))
        assert before.status_code == 401, before.text
        assert before.json()["error"] == "invalid_client"

        added = cli.run(
            "clients", "add", "live-agent", "--jwks", json.dumps(key.jwks), "--scope", "tools:read"
        )
        assert added.returncode == 0, added.stderr

        response = http.post(
            "/token",
            data=assertion_form(key.assertion("live-agent", gateway.issuer), scope="tools:read"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["scope"] == "tools:read"
        jwks = jwt.PyJWKSet.from_dict(http.get("/jwks.json").json())
        header = jwt.get_unverified_header(body["access_token"])
        signing_key = next(k for k in jwks.keys if k.key_id == header["kid"])
        claims = jwt.decode(
            body["access_token"], signing_key, algorithms=["ES256"], audience=f"{gateway.url}/mcp"
        )
        assert claims["sub"] == claims["client_id"] == "live-agent"
        assert claims["iss"] == gateway.issuer

        # ...and a client removed while it runs is refused at once.
        assert cli.run("clients", "remove", "live-agent").returncode == 0
        after = http.post("/token", data=assertion_form(key.assertion("live-agent", gateway.issuer)))
        assert after.status_code == 401, after.text
        assert after.json()["error"] == "invalid_client"
