"""Configuration: the precedence of its layers, the byte-exact issuer (AS-1), and how bad
configuration is reported by the CLI (one line on stderr, exit status 2, never a traceback)."""

from __future__ import annotations

import dataclasses
import doctest
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import gateway.settings
from gateway.app import create_app
from gateway.composition import build_gateway
from gateway.config import ConfigError, load_settings, settings_from
from gateway.settings import ServerSettings, Settings, TokenSettings
from gateway.store.factory import open_store
from tests.support.cli import Cli

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# --- precedence: defaults < TOML file < MCP_GATEWAY_* environment < overrides ----------------------


def test_each_layer_overrides_the_one_below_it(tmp_path: Path) -> None:
    config = write(
        tmp_path / "gw.toml",
        'access_token_ttl = 120\nport = 9001\nlog_level = "debug"\nissuer = "https://file.example"\n',
    )
    environ = {
        "MCP_GATEWAY_PORT": "9002",
        "MCP_GATEWAY_LOG_LEVEL": "warning",
        "MCP_GATEWAY_ISSUER": "https://env.example",
    }
    settings = load_settings(config, environ=environ, overrides={"issuer": "https://override.example"})

    assert settings.tokens.clock_leeway == TokenSettings().clock_leeway == 30  # default: nobody set it
    assert settings.tokens.access_token_ttl == 120  # file over default
    assert settings.server.port == 9002  # environment over file
    assert settings.server.log_level == "warning"  # environment over file
    assert settings.server.issuer == "https://override.example"  # override over environment and file


def test_a_none_override_leaves_the_lower_layers_alone(tmp_path: Path) -> None:
    config = write(tmp_path / "gw.toml", "port = 9001\n")
    settings = load_settings(
        config, environ={"MCP_GATEWAY_STORE": "memory://"}, overrides={"port": None, "store": None}
    )
    assert settings.server.port == 9001
    assert settings.server.store == "memory://"


def test_an_override_beats_the_environment_even_for_the_store(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={"MCP_GATEWAY_STORE": "sqlite:///env.db"},
        overrides={"store": "memory://"},
    )
    assert settings.server.store == "memory://"


def test_the_environment_names_the_file_unless_a_path_is_given(tmp_path: Path) -> None:
    from_env = write(tmp_path / "env.toml", "port = 9101\n")
    explicit = write(tmp_path / "explicit.toml", "port = 9202\n")
    environ = {"MCP_GATEWAY_CONFIG": from_env}
    assert load_settings(None, environ=environ).server.port == 9101
    assert load_settings(explicit, environ=environ).server.port == 9202


def test_environment_values_are_typed(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={
            "MCP_GATEWAY_ACCEPT_TOKEN_ENDPOINT_AUDIENCE": "true",
            "MCP_GATEWAY_KEY_PUBLISH_LEAD": "45",
            "MCP_GATEWAY_RESOURCES": "https://a.example/x, https://b.example/y",
        },
    )
    assert settings.tokens.accept_token_endpoint_audience is True
    assert settings.tokens.key_publish_lead == 45
    assert settings.tokens.resources == ("https://a.example/x", "https://b.example/y")


def test_the_process_environment_is_not_read_when_an_environ_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCP_GATEWAY_PORT", "9999")
    assert load_settings(None, environ={}).server.port == ServerSettings().port
    assert load_settings(None).server.port == 9999


# --- groups: flat names everywhere outside, each value filed in its group ---------------------------

# One setting of each group: (flat name, its group, (as the file writes it, loaded),
# (as the environment writes it, loaded), an override)
IN_GROUPS = [
    ("log_level", "server", ('"debug"', "debug"), ("warning", "warning"), "error"),
    ("access_token_ttl", "tokens", ("120", 120), ("240", 240), 360),
    ("dcr_rate_limit_per_minute", "registration", ("5", 5), ("6", 6), 7),
    (
        "fetch_allowed_private_hosts",
        "registration",
        ('["a.test"]', ("a.test",)),
        ("b.test, c.test", ("b.test", "c.test")),
        ("d.test",),
    ),
    ("sign_in_session_ttl", "sign_in", ("600", 600), ("700", 700), 800),
    ("oidc_provider_name", "federation", ('"File IdP"', "File IdP"), ("Env IdP", "Env IdP"), "Our IdP"),
    ("mcp_session_ttl", "mcp", ("100", 100), ("200", 200), 300),
]


@pytest.mark.parametrize(("name", "group", "in_file", "in_env", "override"), IN_GROUPS)
def test_a_value_from_each_layer_lands_in_its_group_under_its_flat_name(
    tmp_path: Path,
    name: str,
    group: str,
    in_file: tuple[str, object],
    in_env: tuple[str, object],
    override: object,
) -> None:
    config = write(tmp_path / "gw.toml", f"{name} = {in_file[0]}\n")
    environ = {f"MCP_GATEWAY_{name.upper()}": in_env[0]}

    def loaded(settings: Settings) -> object:
        return getattr(getattr(settings, group), name)

    assert loaded(settings_from()) not in (in_file[1], in_env[1], override)  # the default is none of them
    assert loaded(load_settings(config, environ={})) == in_file[1]  # file over default
    assert loaded(load_settings(config, environ=environ)) == in_env[1]  # environment over file
    assert loaded(load_settings(config, environ=environ, overrides={name: override})) == override


def groups_of(settings: Settings) -> list[Any]:
    return [value for value in vars(settings).values() if dataclasses.is_dataclass(value)]


def test_no_two_groups_share_a_name() -> None:
    """The file and the environment are flat: every name must say which group it belongs to."""
    names = [spec.name for group in groups_of(settings_from()) for spec in dataclasses.fields(group)]
    assert len(names) == len(set(names))


def test_the_mcp_resource_follows_the_public_url_and_the_mcp_path() -> None:
    settings = settings_from(public_url="https://gw.example/base", mcp_path="/tools")
    assert settings.mcp.resource == "https://gw.example/base/tools" == settings.server.endpoint("/tools")
    assert settings_from(port=9100).mcp.resource == "http://127.0.0.1:9100/mcp"


def test_the_file_stays_flat_and_an_unknown_name_is_refused_as_before(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as unknown:
        load_settings(write(tmp_path / "a.toml", "bogus = 1\n"), environ={})
    assert str(unknown.value) == f"{tmp_path / 'a.toml'}: unknown setting 'bogus'"
    with pytest.raises(ConfigError) as grouped:  # a group is not a table of the file
        load_settings(write(tmp_path / "b.toml", "[tokens]\naccess_token_ttl = 60\n"), environ={})
    assert str(grouped.value) == f"{tmp_path / 'b.toml'}: unknown setting 'tokens'"
    with pytest.raises(ConfigError) as overridden:
        load_settings(None, environ={}, overrides={"tokens.access_token_ttl": 60})
    assert str(overridden.value) == "environment: unknown setting 'tokens.access_token_ttl'"
    with pytest.raises(ConfigError) as in_code:
        settings_from(access_token_tll=60)
    assert str(in_code.value) == "settings: unknown setting 'access_token_tll'"


def test_settings_from_checks_values_as_the_file_does() -> None:
    with pytest.raises(ConfigError, match="'port' must be a int"):
        settings_from(port="eighty")
    with pytest.raises(ConfigError, match="access_token_ttl must be at most 3600 seconds"):
        settings_from(access_token_ttl=7200)


def test_the_hot_store_is_a_redis_url_read_like_the_store() -> None:
    environ = {"MCP_GATEWAY_HOT_STORE": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"}
    assert load_settings(None, environ=environ).server.hot_store == environ["MCP_GATEWAY_HOT_STORE"]
    assert settings_from().server.hot_store == ""
    for not_redis in ("sqlite:///hot.sqlite3", "postgresql://db/gateway", "hot"):
        with pytest.raises(ConfigError, match="hot_store must be a Redis URL"):
            settings_from(hot_store=not_redis)


def test_the_store_deadline_is_read_in_milliseconds_and_bounded() -> None:
    environ = {"MCP_GATEWAY_STORE_DEADLINE_MS": "1500"}
    assert load_settings(None, environ=environ).server.store_deadline == 1.5
    assert settings_from().server.store_deadline == 0.4
    for out_of_range in (0, -1, 30_001):
        with pytest.raises(ConfigError, match="store_deadline_ms must be between 1 and 30000"):
            settings_from(store_deadline_ms=out_of_range)


def test_the_audit_settings_are_their_own_group_and_checked() -> None:
    settings = load_settings(
        None,
        environ={"MCP_GATEWAY_AUDIT_WHEN_UNAVAILABLE": "buffer", "MCP_GATEWAY_AUDIT_BUFFER_EVENTS": "50"},
    )
    assert (settings.audit.audit_when_unavailable, settings.audit.audit_buffer_events) == ("buffer", 50)
    assert settings_from().audit.audit_store == ""
    with pytest.raises(ConfigError, match="audit_when_unavailable must be fail_closed or buffer"):
        settings_from(audit_when_unavailable="ignore")
    with pytest.raises(ConfigError, match="audit_checkpoint_events must be positive"):
        settings_from(audit_checkpoint_events=0)


def test_clients_stay_tables_and_a_bad_one_is_refused_at_load_in_one_line(tmp_path: Path) -> None:
    table = '[[clients]]\nclient_id = "a"\njwks_uri = "https://a.example/jwks"\n'
    settings = load_settings(write(tmp_path / "good.toml", table), environ={})
    assert settings.clients == ({"client_id": "a", "jwks_uri": "https://a.example/jwks"},)
    with pytest.raises(ConfigError) as keyless:
        load_settings(write(tmp_path / "keyless.toml", '[[clients]]\nclient_id = "a"\n'), environ={})
    assert str(keyless.value) == "a private_key_jwt client needs exactly one of jwks or jwks_uri"
    with pytest.raises(ConfigError) as twice:
        load_settings(write(tmp_path / "twice.toml", table * 2), environ={})
    assert str(twice.value) == "client 'a' is defined twice"


def test_the_examples_in_the_settings_docstrings_hold() -> None:
    assert doctest.testmod(gateway.settings, raise_on_error=True).attempted >= len(groups_of(settings_from()))


# --- the issuer is byte-exact (AS-1) -------------------------------------------------------------


@pytest.mark.parametrize("issuer", ["https://gw.example/", "https://gw.example", "https://gw.example/t/"])
def test_the_issuer_is_kept_byte_exact(tmp_path: Path, issuer: str) -> None:
    from_file = load_settings(write(tmp_path / "gw.toml", f'issuer = "{issuer}"\n'), environ={})
    from_env = load_settings(None, environ={"MCP_GATEWAY_ISSUER": issuer})
    from_override = load_settings(None, environ={}, overrides={"issuer": issuer})
    for settings in (from_file, from_env, from_override):
        assert settings.server.issuer == issuer
        assert settings.server.issuer_id == issuer


@pytest.fixture
def serve_metadata() -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def make(issuer: str) -> TestClient:
        settings = load_settings(None, environ={}, overrides={"issuer": issuer, "store": "memory://"})
        client = TestClient(create_app(build_gateway(settings, open_store(settings.server.store))))
        client.__enter__()  # runs the lifespan (the signing key is made there)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("issuer", ["https://gw.example/", "https://gw.example"])
@pytest.mark.parametrize("path", METADATA_PATHS)
def test_the_issuer_is_served_byte_exact_in_both_metadata_documents(
    serve_metadata: Callable[[str], TestClient], issuer: str, path: str
) -> None:
    client = serve_metadata(issuer)
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["issuer"] == issuer
    # Byte-exact on the wire, too: the exact JSON string, with or without its slash, and no other.
    assert f'"issuer":"{issuer}"'.encode() in response.content
    other = issuer.rstrip("/") if issuer.endswith("/") else issuer + "/"
    assert f'"issuer":"{other}"'.encode() not in response.content


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_an_issuer_with_a_path_is_served_at_the_rfc8414_path_too(
    serve_metadata: Callable[[str], TestClient], path: str
) -> None:
    issuer = "https://gw.example/tenant"
    client = serve_metadata(issuer)
    for url in (path, path + "/tenant"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.json()["issuer"] == issuer


# --- bad configuration: one line, exit 2, no traceback --------------------------------------------

BAD_CONFIGS: dict[str, tuple[str | None, dict[str, str]]] = {
    "unknown setting": ("bogus_setting = 1\n", {}),
    "wrong type": ('port = "eighty"\n', {}),
    "wrong list type": ("resources = [1, 2]\n", {}),
    "non-loopback http issuer": ('issuer = "http://gw.example"\n', {}),
    "issuer with a fragment": ('issuer = "https://gw.example/#x"\n', {}),
    "bad TOML": ('issuer = "https://gw.example\n', {}),
    "missing file": (None, {}),
    "duplicate client": (
        '[[clients]]\nclient_id = "a"\njwks_uri = "https://a.example/jwks"\n'
        '[[clients]]\nclient_id = "a"\njwks_uri = "https://a.example/jwks"\n',
        {},
    ),
    "unknown client setting": ('[[clients]]\nclient_id = "a"\ncolour = "blue"\n', {}),
    "invalid client": ('[[clients]]\nclient_id = "a"\n', {}),  # private_key_jwt without keys
    "bad env int": ("", {"MCP_GATEWAY_PORT": "eighty"}),
    "bad env bool": ("", {"MCP_GATEWAY_ACCEPT_TOKEN_ENDPOINT_AUDIENCE": "maybe"}),
    "negative ttl": ("access_token_ttl = -5\n", {}),
    "bad store url": ("", {"MCP_GATEWAY_STORE": "mysql://user:pw@db/gw"}),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configuration_is_one_line_on_stderr_and_exit_2(tmp_path: Path, case: str) -> None:
    text, extra_env = BAD_CONFIGS[case]
    config = tmp_path / "gw.toml"
    if text is not None:
        config.write_text(text)
    result = Cli.on_sqlite(tmp_path).run("--config", str(config), "clients", "list", extra_env=extra_env)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mcp-gateway: "), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # a password in the store URL is never echoed back
    assert "pw@" not in result.stderr


def test_a_good_configuration_lists_its_clients_and_exits_0(tmp_path: Path) -> None:
    config = write(
        tmp_path / "gw.toml",
        '[[clients]]\nclient_id = "cfg-agent"\njwks_uri = "https://a.example/jwks"\n',
    )
    result = Cli.on_sqlite(tmp_path).run("--config", config, "clients", "list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "cfg-agent" in result.stdout


def test_config_error_is_raised_in_process_for_the_same_cases(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'bogus'"):
        load_settings(write(tmp_path / "a.toml", "bogus = 1\n"), environ={})
    with pytest.raises(ConfigError, match="https"):
        load_settings(None, environ={"MCP_GATEWAY_ISSUER": "http://gw.example"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "missing.toml"), environ={})
    # loopback http is allowed (local development)
    assert load_settings(None, environ={"MCP_GATEWAY_ISSUER": "http://127.0.0.1:8000"}).server.issuer_id == (
        "http://127.0.0.1:8000"
    )
