"""Roles for people (AD-6): where a person's roles come from, and where they never come from.

A built-in user's roles are on their record, set with ``mcp-gateway users add --role`` and
``users roles`` (run here as an operator runs them, in a process of their own on the running
gateway's SQLite store), and the console reads them on every page. The mapping of an ID-token
claim to roles is checked when the configuration is loaded and applied by :class:`RoleMapping`;
the federated journey against a real provider is in ``test_console_federation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import paths
from gateway.config import ConfigError, load_settings, settings_from
from gateway.oauth.authorize.roles import RoleMapping
from gateway.oauth.authorize.users import COLLECTION, UserDirectory, UserError
from gateway.store.memory import MemoryStore
from tests.support.approval_desk import PASSWORD, desk_gateway
from tests.support.cli import Cli, assert_refused
from tests.support.console import ConsoleUser
from tests.support.gateway_server import RunningGateway

NEW_PASSWORD = "a password for the new one"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, Cli]]:
    folder = tmp_path_factory.mktemp("roles")
    cli = Cli.on_sqlite(folder)
    with desk_gateway(cli.store) as gateway:
        yield gateway, cli


async def queue_status(gateway: RunningGateway, username: str, password: str = PASSWORD, **extra: Any) -> int:
    """Sign ``username`` in at the console (``extra``: more form fields, cookies, headers) and open
    the queue; its status."""
    async with ConsoleUser(gateway.url) as person:
        person.http.cookies.update(extra.pop("cookies", {}))
        person.http.headers.update(extra.pop("headers", {}))
        signed = await person.sign_in(username, password, **extra)
        assert signed.status_code == 303, signed.text[:300]
        return (await person.open(paths.CONSOLE)).status_code


@pytest.mark.anyio
async def test_ad6_a_user_holds_no_role_until_given_one_and_a_change_applies_at_the_next_page(
    deployment: tuple[RunningGateway, Cli],
) -> None:
    gateway, cli = deployment
    added = cli.run("users", "add", "newcomer", "--password-stdin", "--json", stdin=NEW_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["roles"] == []
    async with ConsoleUser(gateway.url) as person:
        assert (await person.sign_in("newcomer", NEW_PASSWORD)).status_code == 303
        assert (await person.open(paths.CONSOLE)).status_code == 403
        assert cli.run("users", "roles", "newcomer", "--set", "auditor").returncode == 0
        assert (await person.open(paths.CONSOLE)).status_code == 200, "the same session, the new role"
        assert cli.run("users", "roles", "newcomer", "--set").returncode == 0
        assert (await person.open(paths.CONSOLE)).status_code == 403


@pytest.mark.anyio
async def test_ad6_nothing_the_browser_sends_gives_a_role(deployment: tuple[RunningGateway, Cli]) -> None:
    gateway, _ = deployment
    status = await queue_status(
        gateway,
        "nobody",
        role="security-admin",
        roles="security-admin auditor",
        cookies={"roles": "security-admin", "mcpgw-roles": "auditor"},
        headers={"X-Roles": "security-admin", "X-Forwarded-Groups": "sec-team"},
    )
    assert status == 403
    async with ConsoleUser(gateway.url) as auditor:
        await auditor.sign_in("audrey", PASSWORD, roles="security-admin")
        page = await auditor.open(paths.CONSOLE_GRANTS)
        assert "Signed in as <strong>audrey</strong> · auditor<" in page.text
        assert "Revoke grant" not in page.text


@pytest.mark.anyio
async def test_ad6_a_user_stored_before_roles_existed_holds_none() -> None:
    store = MemoryStore()
    old_record = {"username": "veteran", "password_hash": "scrypt$1$1$1$AA==$AA==", "display_name": "V"}
    await store.put_record(COLLECTION, "veteran", json.dumps(old_record))
    users = UserDirectory(store)
    veteran = await users.get("veteran")
    assert veteran is not None and veteran.roles == ()
    assert (await users.list_users())[0].public_view()["roles"] == []
    changed = await users.set_roles("veteran", ("auditor", "security-admin"))
    assert changed.roles == ("security-admin", "auditor")
    assert (
        json.loads(await store.get_record(COLLECTION, "veteran") or "{}")["password_hash"]
        == old_record["password_hash"]
    )
    with pytest.raises(UserError, match="unknown role 'root'"):
        await users.set_roles("veteran", ("root",))
    with pytest.raises(UserError, match="no user"):
        await users.set_roles("stranger", ("auditor",))


def test_ad6_roles_are_given_and_changed_only_from_the_command_line(tmp_path: Path) -> None:
    cli = Cli.on_sqlite(tmp_path)
    added = cli.run(
        "users", "add", "dana", "--role", "security-admin", "--role", "auditor", "--password-stdin",
        stdin=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0 and "(security-admin, auditor)" in added.stdout, added.stderr
    listed = cli.json("users", "list")
    assert listed == [{"username": "dana", "display_name": "dana", "roles": ["security-admin", "auditor"]}]
    assert "security-admin auditor" in cli.run("users", "list").stdout
    changed = cli.json("users", "roles", "dana", "--add", "tool-author", "--remove", "security-admin")
    assert changed["roles"] == ["tool-author", "auditor"]
    assert cli.json("users", "roles", "dana", "--set", "security-admin")["roles"] == ["security-admin"]
    assert cli.json("users", "roles", "dana", "--set")["roles"] == []

    assert cli.run("users", "roles", "dana", "--set", "root").returncode == 2
    assert (
        cli.run("users", "add", "erin", "--role", "admin", "--password-stdin", stdin="x" * 12).returncode == 2
    )
    assert_refused(cli.run("users", "roles", "dana"), 2, "give either --set, or --add and --remove")
    assert_refused(
        cli.run("users", "roles", "dana", "--set", "auditor", "--add", "auditor"), 2, "give either --set"
    )
    assert_refused(cli.run("users", "roles", "ghost", "--set", "auditor"), 1, "no user 'ghost'")


def test_ad6_the_role_mapping_is_checked_when_the_configuration_is_loaded(tmp_path: Path) -> None:
    federation = {"oidc_issuer": "https://idp.example", "oidc_client_id": "gw"}
    settings = settings_from(
        **federation,
        oidc_role_claim="groups",
        oidc_role_mapping={"sec-team": "security-admin", "ops": ["auditor", "tool-author"]},
    )
    assert settings.federation.oidc_role_mapping == {
        "sec-team": ("security-admin",),
        "ops": ("tool-author", "auditor"),
    }
    for mapping, claim, message in (
        ({"sec-team": "root"}, "groups", "unknown role 'root'"),
        ({"sec-team": []}, "groups", "must name a role or a list of roles"),
        ({"sec-team": 1}, "groups", "must name a role or a list of roles"),
        ({"sec-team": "auditor"}, "", "oidc_role_claim must name the claim"),
    ):
        with pytest.raises(ConfigError, match=message):
            settings_from(**federation, oidc_role_claim=claim, oidc_role_mapping=mapping)
    config = tmp_path / "gateway.toml"
    config.write_text(
        'oidc_issuer = "https://idp.example"\noidc_client_id = "gw"\noidc_role_claim = "groups"\n'
        '[oidc_role_mapping]\n"sec-team" = "security-admin"\n'
    )
    loaded = load_settings(str(config), environ={"MCP_GATEWAY_OIDC_ROLE_CLAIM": "roles"})
    assert loaded.federation.oidc_role_claim == "roles"
    assert loaded.federation.oidc_role_mapping == {"sec-team": ("security-admin",)}


@pytest.mark.parametrize(
    ("claims", "roles"),
    [
        ({"groups": ["staff", "sec-team"]}, ("security-admin",)),
        ({"groups": ["ops", "sec-team", "ops"]}, ("security-admin", "tool-author", "auditor")),
        ({"groups": "sec-team"}, ("security-admin",)),
        ({"groups": "sec-team staff"}, ()),
        ({"groups": ["staff"]}, ()),
        ({"groups": [{"name": "sec-team"}, 7, None]}, ()),
        ({"groups": {"sec-team": True}}, ()),
        ({"roles": ["sec-team"]}, ()),
        ({}, ()),
    ],
)
def test_ad6_roles_come_only_from_mapped_values_of_the_configured_claim(
    claims: dict[str, Any], roles: tuple[str, ...]
) -> None:
    mapping = RoleMapping("groups", {"sec-team": ("security-admin",), "ops": ("tool-author", "auditor")})
    assert mapping.roles_from({"sub": "someone", **claims}) == roles
    assert RoleMapping().roles_from({"sub": "someone", **claims}) == ()


def test_ad6_no_built_in_user_can_take_the_name_of_a_person_of_the_provider(tmp_path: Path) -> None:
    """Federated people are ``oidc:<subject>``: a built-in ``oidc:carol`` could otherwise decide what
    only the federated carol may (her agent's held calls)."""
    cli = Cli.on_sqlite(tmp_path)
    refused = cli.run("users", "add", "oidc:carol", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert_refused(refused, 2, "belong to people of the OpenID provider")
