"""Tool authors register, change and remove their upstream servers at the admin API, in the
namespaces they own (rule book AD-9), over real HTTP.

One gateway under uvicorn on a SQLite file, with operator clients for each role (a client's
token names it as its ``sub``: the person a namespace is granted to), and the notes API
(:mod:`tests.support.notes_api`) under uvicorn on loopback, whose OpenAPI document the gateway
fetches when a REST API is registered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from gateway import paths
from gateway.config import settings_from
from gateway.settings import Settings
from gateway.upstream.public_servers import PublicServers
from tests.support.admin_api import Operators, operator_client
from tests.support.agents import AgentKey
from tests.support.asgi_server import Served
from tests.support.gateway_server import RunningGateway, running_gateway
from tests.support.http_clients import http_client
from tests.support.notes_api import NotesApi
from tests.support.problems import problem_of

pytestmark = pytest.mark.anyio

ROLES = {
    "security": "admin:security-admin",
    "author": "admin:tool-author",
    "other-author": "admin:tool-author",
    "auditor": "admin:auditor",
}


@dataclass
class Api:
    gateway: RunningGateway
    ops: Operators
    notes: str
    """The notes API's URL (its document is at ``/openapi.json``)."""

    async def call(
        self, http: httpx2.AsyncClient, caller: str, method: str, path: str, body: Any = None
    ) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {await self.ops.token(http, caller)}"}
        return await http.request(
            method, self.gateway.endpoint(path), headers=headers, json=body if body is not None else None
        )

    async def grant(self, http: httpx2.AsyncClient, namespace: str, person: str) -> None:
        answer = await self.call(http, "security", "POST", owners_path(namespace), {"person": person})
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("selfservice")
    keys = {client_id: AgentKey() for client_id in ROLES}
    with Served() as served:

        def settings(port: int) -> Settings:
            return settings_from(
                port=port,
                store=f"sqlite:///{folder / 'gw.sqlite3'}",
                fetch_allowed_private_hosts=("127.0.0.1",),
                clients=[operator_client(c, keys[c], scope, port) for c, scope in ROLES.items()],
            )

        with running_gateway(settings) as gateway:
            served.start(NotesApi().app(gateway.issuer, served.url))
            yield Api(gateway, Operators(gateway, keys), served.url)


async def events_of(api: Api, http: httpx2.AsyncClient, types: str, server: str, count: int) -> list[Any]:
    """The trail's events of ``types`` about ``server``, once ``count`` of them are written (the
    trail is written a moment after the answer)."""
    for _ in range(50):
        found = await api.ops.read(http, "security", paths.ADMIN_AUDIT_EVENTS, type=types)
        mine = [e for e in found["items"] if e["fields"].get("server") == server]
        if len(mine) >= count:
            return mine
        await anyio.sleep(0.1)
    raise AssertionError(f"{count} {types} events about {server} were never written")


def server_path(server_id: str) -> str:
    return f"{paths.ADMIN_SERVERS}/{server_id}"


def owners_path(namespace: str, person: str = "") -> str:
    return f"{paths.ADMIN_NAMESPACES}/{namespace}/owners" + (f"/{person}" if person else "")


async def test_ad9_a_tool_author_registers_changes_and_removes_an_mcp_server_in_a_namespace_they_own(
    api: Api,
) -> None:
    async with http_client() as http:
        await api.grant(http, "forecasts", "author")
        body = {
            "id": "forecasts",
            "url": "https://forecasts.example/mcp",
            "default_scopes": ["forecasts:read"],
        }
        added = await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body)
        assert added.status_code == 201, added.text
        assert added.json()["owners"] == ["author"] and added.json()["pinning"] == "first-use"
        changed = await api.call(http, "author", "PATCH", server_path("forecasts"), {"timeout": 20})
        assert changed.status_code == 200, changed.text
        assert changed.json()["timeout"] == 20.0 and changed.json()["url"] == "https://forecasts.example/mcp"
        listed = (await api.call(http, "auditor", "GET", paths.ADMIN_SERVERS)).json()["servers"]
        assert "forecasts" in [server["id"] for server in listed]
        gone = await api.call(http, "author", "DELETE", server_path("forecasts"))
        assert gone.status_code == 200 and gone.json()["id"] == "forecasts"
        problem_of(await api.call(http, "author", "GET", server_path("forecasts")), 404)
        mine = await events_of(api, http, "upstream_server_added,upstream_server_updated", "forecasts", 2)
        assert [e["type"] for e in mine] == ["upstream_server_added", "upstream_server_updated"]
        facts = mine[1]["fields"]
        assert facts["before"]["timeout"] == 10.0 and facts["after"]["timeout"] == 20.0
        assert facts["by"] == "author"


async def test_ad9_a_tool_author_registers_a_rest_api_by_its_openapi_document_in_their_namespace(
    api: Api,
) -> None:
    async with http_client() as http:
        await api.grant(http, "notes", "author")
        body = {"id": "notes", "openapi": f"{api.notes}/openapi.json", "base_url": api.notes}
        added = await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body)
        assert added.status_code == 201, added.text
        assert added.json()["kind"] == "openapi" and len(added.json()["document_sha256"]) == 64
        narrowed = await api.call(
            http, "author", "PATCH", server_path("notes"), {"operations": ["listNotes"]}
        )
        assert narrowed.status_code == 200 and narrowed.json()["operations"] == ["listNotes"], narrowed.text
        unknown = await api.call(http, "author", "PATCH", server_path("notes"), {"operations": ["nothing"]})
        assert "nothing" in problem_of(unknown, 400)["detail"]
        assert (await api.call(http, "author", "DELETE", server_path("notes"))).status_code == 200


async def test_ad9_a_tool_author_is_refused_outside_their_namespaces_with_a_403_problem(api: Api) -> None:
    async with http_client() as http:
        await api.grant(http, "payroll", "other-author")
        body = {"id": "payroll", "url": "https://payroll.example/mcp"}
        refused = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body), 403)
        assert "do not own the namespace 'payroll'" in refused["detail"]
        unowned = {"id": "fresh", "url": "https://fresh.example/mcp"}
        problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, unowned), 403)
        added = await api.call(http, "other-author", "POST", paths.ADMIN_SERVERS, body)
        assert added.status_code == 201, added.text
        problem_of(await api.call(http, "author", "PATCH", server_path("payroll"), {"timeout": 1}), 403)
        problem_of(await api.call(http, "author", "DELETE", server_path("payroll")), 403)
        refusals = await events_of(api, http, "upstream_server_removed", "payroll", 1)
        assert [e["outcome"] for e in refusals] == ["refused"]


async def test_ad9_a_tool_author_never_decides_pinning_nor_takes_a_tool_out_of_call_approval(
    api: Api,
) -> None:
    async with http_client() as http:
        await api.grant(http, "mail", "author")
        trusted = {"id": "mail", "url": "https://mail.example/mcp", "pinning": "trusted"}
        refused = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, trusted), 403)
        assert "pinning is a security-admin's decision" in refused["detail"]
        foreign = {"id": "mail", "url": "https://mail.example/mcp", "audience": "https://bank.example/api"}
        foreign["foreign_audience"] = True
        problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, foreign), 403)
        outside = {"id": "mail", "url": "https://mail.example/mcp", "default_scopes": ["payroll:read"]}
        assert (
            "outside the namespace"
            in problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, outside), 403)["detail"]
        )
        held = {"id": "mail", "url": "https://mail.example/mcp", "call_approval": ["send"]}
        assert (await api.call(http, "author", "POST", paths.ADMIN_SERVERS, held)).status_code == 201
        for change in ({"pinning": "review"}, {"call_approval": []}, {"audit_arguments": ["send"]}):
            problem_of(await api.call(http, "author", "PATCH", server_path("mail"), change), 403)
        more = await api.call(
            http, "author", "PATCH", server_path("mail"), {"call_approval": ["send", "purge"]}
        )
        assert more.status_code == 200 and more.json()["call_approval"] == ["send", "purge"], more.text
        review = await api.call(http, "security", "PATCH", server_path("mail"), {"pinning": "review"})
        assert review.status_code == 200 and review.json()["pinning"] == "review"
        same = await api.call(
            http, "author", "PATCH", server_path("mail"), {"pinning": "review", "timeout": 3}
        )
        assert same.status_code == 200, same.text  # the pinning as it is: nothing decided


async def test_ad9_a_security_admin_registers_anywhere_and_an_auditor_never(api: Api) -> None:
    async with http_client() as http:
        body = {"id": "anywhere", "url": "https://anywhere.example/mcp", "pinning": "review"}
        auditor = problem_of(await api.call(http, "auditor", "POST", paths.ADMIN_SERVERS, body), 403)
        assert auditor["error"] == "insufficient_scope"
        added = await api.call(http, "security", "POST", paths.ADMIN_SERVERS, body)
        assert added.status_code == 201 and added.json()["owners"] == [], added.text
        problem_of(await api.call(http, "auditor", "DELETE", server_path("anywhere")), 403)
        assert (await api.call(http, "security", "DELETE", server_path("anywhere"))).status_code == 200


async def test_ad9_validation_says_what_to_fix_and_a_taken_id_is_409(api: Api) -> None:
    async with http_client() as http:
        await api.grant(http, "calendar", "author")
        cases = [
            ({"id": "calendar"}, "give url"),
            (
                {"id": "calendar", "url": "https://a.example/mcp", "openapi": "https://a.example/o"},
                "not both",
            ),
            ({"id": "calendar", "openapi": f"{api.notes}/openapi.json"}, "openapi needs base_url"),
            ({"id": "calendar", "url": "http://calendar.example/mcp"}, "url must use https"),
            ({"id": "calendar", "url": "https://c.example/mcp", "timeout": 500}, "timeout must be"),
            ({"id": "calendar", "openapi": "notes.yaml", "base_url": api.notes}, "https URL of the REST API"),
            ({"id": "calendar", "url": "https://c.example/mcp", "colour": "red"}, "unknown member 'colour'"),
        ]
        for body, fragment in cases:
            refused = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body), 400)
            assert fragment in refused["detail"], (body, refused)
        first = {"id": "calendar", "url": "https://calendar.example/mcp"}
        assert (await api.call(http, "author", "POST", paths.ADMIN_SERVERS, first)).status_code == 201
        taken = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, first), 409)
        assert "already exists" in taken["detail"]


async def test_ad9_only_a_security_admin_grants_or_withdraws_a_namespace(api: Api) -> None:
    async with http_client() as http:
        asked = await api.call(http, "author", "POST", owners_path("search"), {"person": "author"})
        assert problem_of(asked, 403)["error"] == "insufficient_scope"
        await api.grant(http, "search", "author")
        await api.grant(http, "search", "other-author")
        listed = (await api.call(http, "auditor", "GET", paths.ADMIN_NAMESPACES)).json()["namespaces"]
        assert {"namespace": "search", "owners": ["author", "other-author"]} in listed
        withdrawn = await api.call(http, "security", "DELETE", owners_path("search", "author"))
        assert withdrawn.json() == {"namespace": "search", "owners": ["other-author"]}
        problem_of(await api.call(http, "security", "DELETE", owners_path("search", "author")), 404)
        body = {"id": "search", "url": "https://search.example/mcp"}
        problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body), 403)


async def test_ad10_a_tool_authors_rest_document_requiring_another_namespaces_scopes_is_refused(
    api: Api,
) -> None:
    """The notes document requires ``notes:read`` and ``notes:write``: under the namespace ``memo``
    they are another namespace's scopes, refused until ``tool_scopes`` overrides them within it."""
    async with http_client() as http:
        await api.grant(http, "memo", "author")
        body: dict[str, Any] = {"id": "memo", "openapi": f"{api.notes}/openapi.json", "base_url": api.notes}
        refused = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body), 400)
        assert "operation 'createNote' requires scope 'notes:write'" in refused["detail"]
        assert "outside the namespace 'memo'" in refused["detail"]
        body["operations"], body["tool_scopes"] = ["listNotes"], {"listNotes": ["memo:read"]}
        added = await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body)
        assert added.status_code == 201 and added.json()["tool_scopes"] == {"listNotes": ["memo:read"]}
        widened = await api.call(http, "author", "PATCH", server_path("memo"), {"operations": []})
        assert "operation 'createNote' requires scope 'notes:write'" in problem_of(widened, 400)["detail"]
        assert (await api.call(http, "author", "DELETE", server_path("memo"))).status_code == 200
        as_is = {"id": "jotter", "openapi": f"{api.notes}/openapi.json", "base_url": api.notes}
        kept = await api.call(http, "security", "POST", paths.ADMIN_SERVERS, as_is)
        assert kept.status_code == 201, kept.text  # a security admin's decision
        assert (await api.call(http, "security", "DELETE", server_path("jotter"))).status_code == 200


async def test_ad11_a_tool_author_registers_only_public_servers_and_a_security_admin_internal_ones(
    api: Api,
) -> None:
    async with http_client() as http:
        await api.grant(http, "inside", "author")
        for where in ("https://10.0.0.7/mcp", "https://169.254.169.254/latest", "https://localhost/mcp"):
            body = {"id": "inside", "url": where}
            refused = problem_of(await api.call(http, "author", "POST", paths.ADMIN_SERVERS, body), 403)
            assert "registers public servers only" in refused["detail"], refused
        elsewhere = {"id": "inside", "url": "https://inside.example/mcp"}  # no private address: none at all
        public = await api.call(http, "author", "POST", paths.ADMIN_SERVERS, elsewhere)
        assert public.status_code == 201, public.text
        moved = {"url": "https://192.168.1.20/mcp", "audience": "https://192.168.1.20/mcp"}
        problem_of(await api.call(http, "author", "PATCH", server_path("inside"), moved), 403)
        internal = await api.call(http, "security", "PATCH", server_path("inside"), moved)
        assert internal.status_code == 200 and internal.json()["url"] == moved["url"], internal.text


class Answers:
    """A resolver answering from a table: what each name resolves to, or no answer."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return self.table[host]


async def test_ad11_a_name_is_judged_by_every_address_it_resolves_to_now() -> None:
    names = {"api.example": ["93.184.215.14"], "sly.example": ["93.184.215.14", "10.1.2.3"]}
    public = PublicServers(("tools.internal",), resolver=Answers(names | {"tools.internal": ["10.9.9.9"]}))
    assert await public.refusal("https://api.example/mcp") is None
    assert "10.1.2.3" in str(await public.refusal("https://sly.example/mcp"))
    assert await public.refusal("https://tools.internal/mcp") is None  # named by the allow-list
    assert await public.refusal("https://[::ffff:127.0.0.1]/mcp") is not None  # an IPv4 inside IPv6
    assert await public.refusal("https://not-yet.example/mcp") is None  # nothing to reach now
