"""Who may read the admin API (rule book AD-1) and how it refuses (AD-2), over real HTTP.

One gateway under uvicorn on a loopback port, on a SQLite file, with clients configured for the
admin API's audience (one per role, one holding ``admin``, one holding no role), one allowed both
audiences with the same role scope, and one allowed only the MCP endpoint. Tokens come from the
gateway's own ``/token`` (client_credentials + private_key_jwt); a client removed with the CLI
(another process, on the same store) shows the not-before marks at work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from gateway import paths
from gateway.admin.boundary import AdminRoute
from gateway.config import ConfigError, settings_from
from gateway.settings import Settings
from tests.support.agents import AgentKey, agent_token, assertion_form, revoke
from tests.support.cli import Cli
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.mcp_requests import challenge_params, modern
from tests.support.oauth_errors import error_of
from tests.support.problems import problem_of

pytestmark = pytest.mark.anyio

ROLE_HOLDERS = {
    "auditor": "admin:auditor",
    "security": "admin:security-admin",
    "author": "admin:tool-author",
    "root": "admin",
}
ROLELESS, BOTH, MCP_ONLY = "roleless", "both", "mcp-only"


@dataclass
class Admin:
    gateway: RunningGateway
    keys: dict[str, AgentKey]
    folder: Path

    @property
    def resource(self) -> str:
        return self.gateway.endpoint(paths.ADMIN_API)

    @property
    def health(self) -> str:
        return self.gateway.endpoint(paths.ADMIN_HEALTH)

    @property
    def mcp(self) -> str:
        return self.gateway.settings.mcp.resource

    async def token(self, http: httpx2.AsyncClient, client_id: str, resource: str | None = None) -> str:
        """A token for ``client_id``, for the admin API unless another ``resource`` is named."""
        key = self.keys[client_id]
        return await agent_token(http, self.gateway, key, client_id, resource=resource or self.resource)


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    folder = tmp_path_factory.mktemp("admin")
    keys = {client_id: AgentKey() for client_id in [*ROLE_HOLDERS, ROLELESS, BOTH, MCP_ONLY]}

    def settings(port: int) -> Settings:
        admin_api = f"http://127.0.0.1:{port}{paths.ADMIN_API}"
        mcp = f"http://127.0.0.1:{port}/mcp"
        scopes = {**ROLE_HOLDERS, ROLELESS: "tools:read", BOTH: "admin:auditor", MCP_ONLY: "admin:auditor"}
        audiences = {BOTH: (admin_api, mcp), MCP_ONLY: ()}
        return settings_from(
            port=port,
            store=f"sqlite:///{folder / 'gw.sqlite3'}",
            dcr_allow_client_credentials=True,
            dcr_allowed_scopes=("admin:auditor",),
            clients=tuple(
                {
                    "client_id": client_id,
                    "scopes": (scopes[client_id],),
                    "audiences": audiences.get(client_id, (admin_api,)),
                    "jwks": key.jwks,
                }
                for client_id, key in keys.items()
            ),
        )

    with running_gateway(settings) as gateway:
        yield Admin(gateway, keys, folder)


async def test_ad1_each_role_and_the_admin_scope_may_read_the_health_report(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    for client_id in ROLE_HOLDERS:
        token = await admin.token(http, client_id)
        response = await http.get(admin.health, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, (client_id, response.text)
        assert response.headers["cache-control"] == "no-store"
        assert response.json()["store"] == {"status": "ok", "backend": "sqlite"}


async def test_ad1_without_a_token_the_answer_is_401_with_a_bearer_challenge_and_no_error(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    refused = await http.get(admin.health)
    assert problem_of(refused, 401)["error"] == "invalid_token"
    challenge = challenge_params(refused.headers["www-authenticate"])
    assert challenge == {
        "resource_metadata": admin.gateway.endpoint(paths.resource_metadata_path(admin.resource))
    }
    metadata = (await http.get(challenge["resource_metadata"])).json()
    assert metadata["resource"] == admin.resource
    assert metadata["authorization_servers"] == [admin.gateway.issuer]
    assert set(metadata["scopes_supported"]) == {"admin:security-admin", "admin:tool-author", "admin:auditor"}


async def test_ad1_a_token_minted_for_the_mcp_endpoint_is_refused_even_after_mcp_accepted_it(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    """``both`` holds ``admin:auditor`` whatever the audience: only the audience tells them apart."""
    mcp_token = await admin.token(http, BOTH, resource=admin.mcp)
    assert (await modern(http, admin.mcp, mcp_token, "tools/list")).status_code == 200  # verified, cached
    refused = await http.get(admin.health, headers={"Authorization": f"Bearer {mcp_token}"})
    assert problem_of(refused, 401)["detail"] == "token minted for another audience"
    assert challenge_params(refused.headers["www-authenticate"])["error"] == "invalid_token"


async def test_ad1_a_token_minted_for_the_admin_api_is_refused_at_the_mcp_endpoint(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    admin_token = await admin.token(http, BOTH)
    assert (
        await http.get(admin.health, headers={"Authorization": f"Bearer {admin_token}"})
    ).status_code == 200
    refused = await modern(http, admin.mcp, admin_token, "tools/list")
    assert refused.status_code == 401
    assert challenge_params(refused.headers["www-authenticate"])["error"] == "invalid_token"


async def test_ad1_a_valid_token_without_a_role_is_refused_with_insufficient_scope(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    token = await admin.token(http, ROLELESS)
    refused = await http.get(admin.health, headers={"Authorization": f"Bearer {token}"})
    assert problem_of(refused, 403)["error"] == "insufficient_scope"
    challenge = challenge_params(refused.headers["www-authenticate"])
    assert challenge["error"] == "insufficient_scope"
    assert challenge["scope"] == "admin:auditor"


async def test_ad1_garbage_revoked_and_query_string_tokens_are_refused(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    for garbage in ["x", "eyJhbGciOiJub25lIn0.e30.", "é" * 40, "a" * 9_000]:
        refused = await http.get(admin.health, headers={"Authorization": f"Bearer {garbage}".encode()})
        assert problem_of(refused, 401)["error"] == "invalid_token"
    token = await admin.token(http, "auditor")
    in_query = await http.get(admin.health, params={"access_token": token})
    assert problem_of(in_query, 400)["error"] == "invalid_request"
    await revoke(http, admin.gateway, admin.keys["auditor"], "auditor", token)
    revoked = await http.get(admin.health, headers={"Authorization": f"Bearer {token}"})
    assert problem_of(revoked, 401)["detail"] == "the token has been revoked"


async def test_ad1_a_client_removed_with_the_cli_loses_its_admin_tokens(admin: Admin) -> None:
    cli = Cli(store=f"sqlite:///{admin.folder / 'gw.sqlite3'}", cwd=admin.folder)
    key = AgentKey()
    added = cli.run(
        "clients", "add", "operator", "--scope", "admin:auditor", "--audience", admin.resource,
        "--jwks", json.dumps(key.jwks),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    async with http_client() as http:
        token = await agent_token(http, admin.gateway, key, "operator", resource=admin.resource)
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get(admin.health, headers=headers)).status_code == 200
        assert cli.run("clients", "remove", "operator").returncode == 0
        deadline = time.monotonic() + 10  # the marks are read from the store at most every second
        while (refused := await http.get(admin.health, headers=headers)).status_code == 200:
            assert time.monotonic() < deadline, "the removed client's token still works"
            await anyio.sleep(0.1)
    assert problem_of(refused, 401)["detail"] == "the token's user or client was removed"


async def test_ad1_a_client_not_allowed_the_admin_audience_gets_no_token_for_it(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    key = admin.keys[MCP_ONLY]
    form = assertion_form(key.assertion(MCP_ONLY, admin.gateway.issuer), resource=admin.resource)
    assert error_of(await http.post(admin.gateway.endpoint("/token"), data=form)) == "invalid_target"


async def test_ad1_a_self_registered_client_never_gets_a_token_for_the_admin_api(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    key = AgentKey()
    registration = await http.post(
        admin.gateway.endpoint("/register"),
        json={
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": key.jwks,
            "scope": "admin:auditor",
            "audiences": [admin.resource],  # not a registration member: ignored
        },
    )
    assert registration.status_code == 201, registration.text
    client_id = registration.json()["client_id"]
    form = assertion_form(key.assertion(client_id, admin.gateway.issuer), resource=admin.resource)
    assert error_of(await http.post(admin.gateway.endpoint("/token"), data=form)) == "invalid_target"


def test_ad1_the_mcp_endpoint_cannot_be_put_under_the_admin_api_or_the_probe() -> None:
    for taken in ["/admin/api", "/admin/api/", "/admin/api/v1/health", "/healthz"]:
        with pytest.raises(ConfigError, match="mcp_path"):
            settings_from(mcp_path=taken)
    assert settings_from(mcp_path="/administration").mcp.mcp_path == "/administration"


async def test_ad2_unknown_paths_and_methods_are_problem_details_and_only_after_authentication(
    admin: Admin, http: httpx2.AsyncClient
) -> None:
    for path in ["/admin/api", "/admin/api/v1/nothing", "/admin/api/v2/health", "/admin/api/v1/health/"]:
        assert problem_of(await http.get(admin.gateway.endpoint(path)), 401)["error"] == "invalid_token"
    headers = {"Authorization": f"Bearer {await admin.token(http, 'auditor')}"}
    for path in ["/admin/api", "/admin/api/v1/nothing", "/admin/api/v2/health", "/admin/api/v1/health/"]:
        missing = await http.get(admin.gateway.endpoint(path), headers=headers)
        assert problem_of(missing, 404)["error"] == "not_found"
    wrong_method = await http.post(admin.health, headers=headers, json={})
    assert problem_of(wrong_method, 405)["error"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET, HEAD"
    assert problem_of(
        await http.delete(admin.gateway.endpoint("/admin/api/v1/nothing"), headers=headers), 404
    )


async def test_ad2_a_fault_of_the_gateways_own_is_a_500_problem_that_says_nothing_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret detail: /var/mcp-gateway.sqlite3")

    async def elsewhere(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("only admin paths reach the admin stack")

    app = AdminRoute(elsewhere, prefix=paths.ADMIN_API, admin_app=broken)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://gw.test") as http:
        response = await http.get(paths.ADMIN_HEALTH)
    assert problem_of(response, 500) == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the gateway failed to answer; the fault is in its log",
        "error": "server_error",
    }
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text and "secret" not in response.text
