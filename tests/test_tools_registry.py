"""``tools_registry``: upstream servers, the scope hierarchy, and the catalogue agents list.

Rules proved here: tool names exposed to agents are ``<server>__<tool>`` (SEP-986 names that are
also function names; the naming rules are in ``test_tool_names.py``); an agent sees only the tools its
token's scopes cover, in a deterministic order, with opaque cursors; an upstream that answers
garbage is hidden while the rest of the catalogue keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tools_registry
from gateway.oauth.tokens.audiences import canonical_resource
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SQLiteStore
from tools_registry.catalog import Catalog
from tools_registry.pagination import CursorError, decode_cursor, encode_cursor, page
from tools_registry.scopes import ancestors, covers, missing
from tools_registry.server_registry import COLLECTION, ServerRegistry
from tools_registry.servers import (
    RegistryError,
    UpstreamServer,
    build_server,
    configured_servers,
    from_config,
)
from tools_registry.tool_entries import read_tool
from tools_registry.tool_names import exposed_name
from tools_registry.urls import canonical_url

REPO = Path(__file__).resolve().parent.parent


def tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "inputSchema": {"type": "object"}, **extra}


def weather(**overrides: Any) -> UpstreamServer:
    return UpstreamServer("weather", "https://weather.example/mcp", **overrides)


# --- the package stands alone ----------------------------------------------------------------------


def test_the_registry_never_imports_the_gateway() -> None:
    code = "import sys, tools_registry.catalog; print([m for m in sys.modules if m.startswith('gateway')])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_public_surface_is_declared() -> None:
    assert sorted(tools_registry.__all__) == sorted(
        [
            "Catalog",
            "CatalogTool",
            "CursorError",
            "RecordStore",
            "RegistryError",
            "ServerHealth",
            "ServerRegistry",
            "UpstreamServer",
            "configured_servers",
            "covers",
            "from_config",
            "missing",
            "page",
        ]
    )
    assert all(hasattr(tools_registry, name) for name in tools_registry.__all__)


# --- UpstreamServer: model and validation -----------------------------------------------------------


def test_the_audience_defaults_to_the_canonical_url() -> None:
    server = UpstreamServer("weather", "HTTPS://Weather.Example:443/mcp")
    assert server.url == "HTTPS://Weather.Example:443/mcp"
    assert server.audience == "https://weather.example/mcp"
    explicit = weather(audience="https://API.weather.example/")
    assert explicit.audience == "https://api.weather.example"


@pytest.mark.parametrize(
    "url",
    [
        "HTTPS://Gateway.Example:443/mcp",
        "https://gateway.example/",
        "http://127.0.0.1:8080/mcp?x=1",
        "https://[::1]:443/a/b/",
        "https://h.example:8443",
    ],
)
def test_the_canonical_audience_is_the_form_the_gateway_compares(url: str) -> None:
    assert canonical_url(url) == canonical_resource(url)


def test_a_tool_needs_its_explicit_scopes_else_the_default_else_id_colon_tool() -> None:
    server = weather(tool_scopes={"set_alert": ["weather:write", "weather:read"]})
    assert server.scopes_for("set_alert") == ("weather:write", "weather:read")
    assert server.scopes_for("get_forecast") == ("weather:get_forecast",)
    with_default = weather(default_scopes=("weather:read",), tool_scopes={"set_alert": ("weather:write",)})
    assert with_default.scopes_for("get_forecast") == ("weather:read",)
    assert with_default.scopes_for("set_alert") == ("weather:write",)


def test_a_server_is_immutable_including_its_tables() -> None:
    server = weather(tool_scopes={"a": ["s"]}, descriptions={"a": "text"})
    with pytest.raises(AttributeError):
        server.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        server.tool_scopes["b"] = ("s",)  # type: ignore[index]
    with pytest.raises(TypeError):
        server.descriptions["b"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": "has.dot"}, "id"),
        ({"id": "x" * 33}, "id"),
        ({"id": "sp ace"}, "id"),
        ({"url": "ftp://weather.example/mcp"}, "url"),
        ({"url": "http://weather.example/mcp"}, "url must use https"),
        ({"url": "https://user:pw@weather.example/mcp"}, "url"),
        ({"url": "https://weather.example/mcp#frag"}, "url"),
        ({"url": "https://weather.example:notaport/"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"audience": "urn:weather"}, "audience"),
        ({"tool_scopes": {"bad name": ["s"]}}, "tool_scopes"),
        ({"tool_scopes": {"a": []}}, "tool_scopes.a"),
        ({"tool_scopes": {"a": "weather:read"}}, "tool_scopes.a"),
        ({"tool_scopes": {"a": ["has space"]}}, "tool_scopes.a"),
        ({"tool_scopes": {"a": ['q"uote']}}, "tool_scopes.a"),
        ({"default_scopes": ()}, "default_scopes"),
        ({"descriptions": {"a": ""}}, "descriptions.a"),
        ({"descriptions": {"a": 3}}, "descriptions.a"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 121}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"refresh_interval": -1}, "refresh_interval"),
        ({"input_requests": "sampling"}, "input_requests"),
        ({"input_requests": ["elicitation.form"]}, "input_requests"),
        ({"input_requests": [["sampling"]]}, "input_requests"),
        ({"call_approval": "delete_file"}, "call_approval"),
        ({"call_approval": ["bad name"]}, "call_approval"),
        ({"call_approval": ["**"]}, "call_approval"),
        ({"source": "api"}, "source"),
    ],
)
def test_a_bad_field_is_refused_with_its_name(overrides: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"id": "weather", "url": "https://weather.example/mcp", **overrides}
    with pytest.raises(RegistryError, match=field.replace(".", r"\.")):
        UpstreamServer(**values)


def test_http_is_accepted_for_loopback_upstreams_only() -> None:
    for url in ("http://127.0.0.1:9000/mcp", "http://localhost/mcp", "http://[::1]:9000/mcp"):
        assert UpstreamServer("local", url).url == url


def test_a_config_table_becomes_a_read_only_server() -> None:
    server = from_config(
        {
            "id": "weather",
            "url": "https://weather.example/mcp",
            "default_scopes": ["weather:read"],
            "tool_scopes": {"set_alert": ["weather:write"]},
            "descriptions": {"get_forecast": "Forecast by day."},
            "timeout": 5,
            "refresh_interval": 60,
            "input_requests": ["sampling", "elicitation.url"],
        }
    )
    assert server.source == "config"
    assert server.input_requests == ("elicitation.url", "sampling")
    assert server.timeout == 5.0 and server.refresh_interval == 60.0
    assert server.scopes_for("set_alert") == ("weather:write",)
    assert server.descriptions == {"get_forecast": "Forecast by day."}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"id": "w", "url": "https://w.example", "colour": "red"}, "unknown server setting 'colour'"),
        ({"url": "https://w.example"}, "needs an id and a url"),
        ({"id": "w"}, "needs an id and a url"),
        ({"id": "w", "url": "https://w.example", "default_scopes": "w:read"}, "default_scopes"),
        ({"id": "w", "url": "https://w.example", "tool_scopes": ["a"]}, "tool_scopes"),
        ({"id": "w", "url": "https://w.example", "tool_scopes": {"a": {"s": 1}}}, "tool_scopes.a"),
    ],
)
def test_a_bad_config_table_is_refused(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(RegistryError, match=fragment):
        from_config(raw)


def test_a_server_id_defined_twice_in_the_config_is_refused() -> None:
    tables = [{"id": "w", "url": "https://a.example"}, {"id": "w", "url": "https://b.example"}]
    with pytest.raises(RegistryError, match=r"\[\[servers\]\] w: the id is defined twice"):
        configured_servers(tables)
    with pytest.raises(RegistryError, match=r"\[\[servers\]\] #2: .*needs an id"):
        configured_servers([{"id": "w", "url": "https://a.example"}, {"url": "https://b.example"}])


# --- ServerRegistry: config entries first and read-only, the rest in the store -----------------------


@pytest.mark.anyio
async def test_the_registry_keeps_added_servers_in_the_store(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "gw.sqlite3"))  # one of the gateway's stores, as a RecordStore
    try:
        registry = ServerRegistry(store, configured_servers([{"id": "cfg", "url": "https://cfg.example"}]))
        added = await registry.add(weather(tool_scopes={"a": ["weather:a"]}, input_requests=["sampling"]))
        assert added.source == "store"
        again = ServerRegistry(store)  # another process on the same store
        assert await again.get("weather") == added
        assert added.input_requests == ("sampling",)
        assert [s.id for s in await registry.list_servers()] == ["cfg", "weather"]
        assert json.loads((await store.list_records(COLLECTION))["weather"])["url"] == added.url
        assert await registry.remove("weather") is True
        assert await registry.remove("weather") is False
        assert await registry.get("weather") is None
    finally:
        await store.close()


@pytest.mark.anyio
async def test_config_servers_cannot_be_added_over_or_removed() -> None:
    registry = ServerRegistry(MemoryStore(), configured_servers([{"id": "cfg", "url": "https://c.example"}]))
    with pytest.raises(RegistryError, match="config file"):
        await registry.add(UpstreamServer("cfg", "https://other.example"))
    with pytest.raises(RegistryError, match="config file"):
        await registry.remove("cfg")
    server = await registry.get("cfg")
    assert server is not None and server.source == "config" and server.url == "https://c.example"


@pytest.mark.anyio
async def test_a_duplicate_id_is_refused_and_the_first_is_kept() -> None:
    registry = ServerRegistry(MemoryStore())
    await registry.add(weather())
    with pytest.raises(RegistryError, match="already exists"):
        await registry.add(UpstreamServer("weather", "https://evil.example/mcp"))
    kept = await registry.get("weather")
    assert kept is not None and kept.url == "https://weather.example/mcp"


@pytest.mark.anyio
async def test_a_corrupt_stored_record_does_not_hide_the_others() -> None:
    store = MemoryStore()
    registry = ServerRegistry(store)
    await registry.add(weather())
    await store.put_record(COLLECTION, "broken", '{"id": "broken", "url": "ftp://x"}')
    await store.put_record(COLLECTION, "garbage", "not json")
    assert [s.id for s in await registry.list_servers()] == ["weather"]


@pytest.mark.anyio
async def test_a_server_stored_before_input_requests_existed_may_ask_for_nothing() -> None:
    store = MemoryStore()
    await store.put_record(COLLECTION, "old", '{"id": "old", "url": "https://old.example/mcp"}')
    server = await ServerRegistry(store).get("old")
    assert server is not None and server.input_requests == ()


def test_ap6_a_registration_names_the_tools_whose_calls_wait_for_approval() -> None:
    server = from_config(
        {"id": "files", "url": "https://files.example/mcp", "call_approval": ["rm", "wipe", "rm"]}
    )
    assert server.call_approval == ("rm", "wipe")
    assert server.call_needs_approval("rm") and not server.call_needs_approval("read")
    assert weather(call_approval=["*"]).call_needs_approval("anything")
    assert not weather().call_needs_approval("anything"), "by default no call waits"
    assert build_server(server.as_dict(), source="store") == replace(server, source="store")


@pytest.mark.parametrize(
    ("annotations", "destructive"),
    [
        ({"destructiveHint": True}, True),
        ({"destructiveHint": True, "readOnlyHint": True}, False),
        ({"destructiveHint": "true"}, False),
        ({"destructiveHint": False}, False),
        ({}, False),
        (None, False),
    ],
)
def test_ap6_a_tool_is_destructive_only_when_its_upstream_says_so(
    annotations: dict[str, Any] | None, destructive: bool
) -> None:
    raw: dict[str, Any] = {
        "name": "wipe",
        **({"annotations": annotations} if annotations is not None else {}),
    }
    assert read_tool(weather(), raw).destructive is destructive


@pytest.mark.anyio
async def test_a_server_stored_before_call_approval_existed_holds_no_call() -> None:
    store = MemoryStore()
    await store.put_record(COLLECTION, "old", '{"id": "old", "url": "https://old.example/mcp"}')
    server = await ServerRegistry(store).get("old")
    assert server is not None and server.call_approval == ()


# --- the scope hierarchy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "required", "expected"),
    [
        ({"weather"}, "weather", True),
        ({"weather"}, "weather:get_forecast", True),
        ({"weather:read"}, "weather:read:hourly", True),
        ({"weather"}, "weather:read:hourly", True),
        ({"weather"}, "weatherman:x", False),  # the boundary is the colon, not a string prefix
        ({"weather"}, "weatherman", False),
        ({"weather:read"}, "weather", False),  # narrower never covers broader
        ({"weather:read"}, "weather:write", False),
        ({"weather:read"}, "weather:readall", False),
        ({"Weather"}, "weather:read", False),  # case-sensitive
        ({"*"}, "weather:read", False),  # no wildcards
        ({""}, ":x", False),  # an empty prefix is not a scope
        (set(), "weather", False),
        ({"a", "weather:read"}, "weather:read:hourly", True),
    ],
)
def test_a_granted_scope_covers_itself_and_its_colon_descendants(
    granted: set[str], required: str, expected: bool
) -> None:
    assert covers(granted, required) is expected


def test_ancestors_and_missing() -> None:
    assert ancestors("a:b:c") == ("a:b:c", "a:b", "a")
    assert ancestors("a") == ("a",)
    assert missing({"weather"}, ["weather:read", "billing:read", "billing:read"]) == ("billing:read",)
    assert missing(["weather:read"], ("weather:read:x", "weather:write")) == ("weather:write",)
    assert missing(set(), ()) == ()


# --- the catalogue: namespacing, validation, visibility ----------------------------------------------


def test_tools_are_exposed_namespaced_with_overrides_and_scopes() -> None:
    catalog = Catalog()
    server = weather(
        tool_scopes={"set_alert": ["weather:write"]}, descriptions={"get_forecast": "Override wins."}
    )
    upstream_forecast = tool(
        "get_forecast",
        description="Upstream text",
        title="Forecast",
        outputSchema={"type": "object"},
        annotations={"readOnlyHint": True},
    )
    problems = catalog.replace(server, [upstream_forecast, tool("set_alert", description="Alert")])
    assert problems == []
    forecast = catalog.lookup("weather__get_forecast")
    assert forecast is not None
    assert (forecast.server_id, forecast.upstream_name) == ("weather", "get_forecast")
    assert forecast.description == "Override wins."
    assert forecast.scopes == ("weather:get_forecast",)
    assert forecast.server.audience == "https://weather.example/mcp"
    assert forecast.descriptor == {
        "name": "weather__get_forecast",
        "title": "Forecast",
        "description": "Override wins.",
        "inputSchema": {"type": "object"},
        "outputSchema": {"type": "object"},
        "annotations": {"readOnlyHint": True},
    }
    alert = catalog.lookup("weather__set_alert")
    assert alert is not None and alert.scopes == ("weather:write",) and alert.description == "Alert"
    assert catalog.lookup("set_alert") is None
    assert catalog.lookup("weather__unknown") is None


def test_invalid_upstream_entries_are_skipped_and_reported() -> None:
    catalog = Catalog()
    server = UpstreamServer("s", "https://s.example/mcp")
    raw: list[Any] = [
        tool("ok"),
        "not a tool",
        {"description": "no name"},
        {"name": 42},
        tool("has space"),
        tool("slash/name"),
        tool("ünïcode"),
        tool(""),
        tool("x" * 129),  # over SEP-986's 128
        tool("y" * 128),  # exactly 128: fine, and exposed shortened
        tool("bad_schema", inputSchema="object"),
        tool("bad_output", outputSchema=[]),
        tool("bad_description", description=["x"]),
        tool("bad_annotations", annotations="x"),
        tool("ok", description="the second 'ok'"),
        {"name": "no_schema"},  # inputSchema absent: an empty object schema
    ]
    problems = catalog.replace(server, raw)
    assert len(problems) == 13, problems
    assert all(p.startswith("s: tools[") for p in problems)
    assert any("listed twice" in p for p in problems)
    long_name = exposed_name("s", "y" * 128)
    assert sorted(t.name for t in catalog.visible_to({"s"})) == ["s__no_schema", "s__ok", long_name]
    ok = catalog.lookup("s__ok")
    assert ok is not None and ok.description is None  # the first 'ok' is kept
    no_schema = catalog.lookup("s__no_schema")
    assert no_schema is not None and no_schema.input_schema == {"type": "object"}
    assert catalog.health()["s"].skipped == tuple(problems)


def test_an_agent_sees_only_the_tools_its_scopes_cover_in_name_order() -> None:
    catalog = Catalog()
    catalog.replace(
        weather(tool_scopes={"set_alert": ["weather:write", "alerts"]}),
        [tool("get_forecast"), tool("set_alert"), tool("air")],
    )
    catalog.replace(UpstreamServer("billing", "https://billing.example"), [tool("invoice"), tool("pay")])

    def names(granted: set[str]) -> list[str]:
        return [t.name for t in catalog.visible_to(granted)]

    assert names({"weather"}) == ["weather__air", "weather__get_forecast"]  # set_alert also needs alerts
    assert names({"weather", "weather:air", "weather:get_forecast"}) == names({"weather"})  # no repeats
    assert names({"weather", "alerts"}) == ["weather__air", "weather__get_forecast", "weather__set_alert"]
    assert names({"weather:write", "alerts", "billing:pay"}) == ["billing__pay", "weather__set_alert"]
    assert names({"weatherman", "billing:pay:extra", "weather:get_forecast:x"}) == []
    assert names(set()) == []
    assert names({"billing", "weather", "alerts"}) == [
        "billing__invoice",
        "billing__pay",
        "weather__air",
        "weather__get_forecast",
        "weather__set_alert",
    ]


def test_the_order_does_not_depend_on_registration_or_upstream_order() -> None:
    servers = [UpstreamServer(sid, f"https://{sid}.example") for sid in ("b", "a", "c")]
    first, second = Catalog(), Catalog()
    for server in servers:
        first.replace(server, [tool(n) for n in ("z", "A", "m", "a")])
    for server in reversed(servers):
        second.replace(server, [tool(n) for n in ("a", "m", "A", "z")])
    granted = {"a", "b", "c"}
    listed = [t.name for t in first.visible_to(granted)]
    assert listed == [t.name for t in second.visible_to(granted)] == sorted(listed)
    assert listed[:4] == ["a__A", "a__a", "a__m", "a__z"]  # case-sensitive, code-point order


def test_a_refresh_replaces_the_servers_tools_and_the_answer_for_each_agent() -> None:
    catalog = Catalog()
    server = weather()
    catalog.replace(server, [tool("old")])
    assert [t.name for t in catalog.visible_to({"weather"})] == ["weather__old"]
    catalog.replace(server, [tool("new")])
    assert [t.name for t in catalog.visible_to({"weather"})] == ["weather__new"]
    assert catalog.lookup("weather__old") is None
    assert catalog.remove("weather") is True
    assert catalog.visible_to({"weather"}) == []
    assert catalog.remove("weather") is False


SCOPE_PARTS = st.sampled_from(["a", "b", "ab"])
SCOPES = st.lists(SCOPE_PARTS, min_size=1, max_size=3).map(":".join)


@settings(max_examples=200, deadline=None)
@given(
    tool_scopes=st.dictionaries(
        st.sampled_from([f"t{i}" for i in range(8)]), st.lists(SCOPES, min_size=1, max_size=3), max_size=8
    ),
    granted=st.sets(SCOPES, max_size=4),
)
def test_the_index_agrees_with_the_rule_for_every_tool(
    tool_scopes: dict[str, list[str]], granted: set[str]
) -> None:
    server = UpstreamServer("s", "https://s.example", tool_scopes=tool_scopes, default_scopes=("a:b",))
    catalog = Catalog()
    catalog.replace(server, [tool(f"t{i}") for i in range(8)])
    expected = [f"s__t{i}" for i in range(8) if not missing(granted, server.scopes_for(f"t{i}"))]
    assert [t.name for t in catalog.visible_to(granted)] == expected


# --- health: one bad upstream never takes the catalogue down -----------------------------------------


def test_an_upstream_answering_garbage_is_hidden_while_the_others_keep_serving() -> None:
    now = [1000.0]
    catalog = Catalog(clock=lambda: now[0])
    billing = UpstreamServer("billing", "https://billing.example")
    catalog.replace(weather(), [tool("get_forecast")])
    catalog.replace(billing, [tool("pay")])
    granted = {"weather", "billing"}
    assert len(catalog.visible_to(granted)) == 2

    now[0] = 1300.0
    problems = catalog.replace(weather(), {"tools": "not a list"})  # type: ignore[arg-type]
    assert problems == ["tools/list answered dict, not a list of tools"]
    assert [t.name for t in catalog.visible_to(granted)] == ["billing__pay"]
    assert catalog.lookup("weather__get_forecast") is None  # a call fails fast
    assert catalog.unavailable_reason("weather__get_forecast") == (
        "upstream 'weather' is unavailable: tools/list answered dict, not a list of tools"
    )
    assert catalog.unavailable_reason("billing__pay") is None
    assert catalog.unavailable_reason("weather__nope") is None
    health = catalog.health()
    assert health["weather"].healthy is False and health["weather"].tools == 1
    assert health["weather"].updated_at == 1300.0
    assert health["billing"].healthy is True

    catalog.mark_healthy("weather")  # the last good tools come back
    assert [t.name for t in catalog.visible_to(granted)] == ["billing__pay", "weather__get_forecast"]


def test_a_list_of_nothing_but_garbage_marks_the_server_unhealthy() -> None:
    catalog = Catalog()
    catalog.replace(weather(), [tool("get_forecast")])
    problems = catalog.replace(weather(), [1, None, {"name": "bad name"}])
    assert len(problems) == 3
    assert catalog.health()["weather"].healthy is False
    assert catalog.health()["weather"].reason == "tools/list answered no usable tool"
    assert catalog.visible_to({"weather"}) == []
    catalog.replace(weather(), [])  # an empty list is a healthy server with no tools
    assert catalog.health()["weather"].healthy is True
    assert catalog.health()["weather"].tools == 0


def test_mark_unhealthy_and_recovery_through_a_good_answer() -> None:
    catalog = Catalog()
    catalog.mark_unhealthy("never", "connection refused")  # never answered at all
    assert catalog.health()["never"].as_dict()["reason"] == "connection refused"
    catalog.replace(weather(), [tool("a")])
    catalog.mark_unhealthy("weather", "timeout after 10s")
    assert catalog.visible_to({"weather"}) == []
    assert len(catalog) == 0
    catalog.replace(weather(), [tool("b")])
    assert [t.name for t in catalog.visible_to({"weather"})] == ["weather__b"]
    assert catalog.health()["weather"].reason is None


# --- pagination -------------------------------------------------------------------------------------


def big_catalog(servers: int = 100, tools_each: int = 100) -> Catalog:
    catalog = Catalog()
    for s in range(servers):
        server = UpstreamServer(f"srv{s:03d}", f"https://srv{s}.example/mcp")
        catalog.replace(server, [tool(f"tool_{t:04d}") for t in range(tools_each)])
    return catalog


def test_paging_through_ten_thousand_tools_returns_each_once_in_order() -> None:
    catalog = big_catalog()
    granted = {f"srv{s:03d}" for s in range(100)}
    expected = [t.name for t in catalog.visible_to(granted)]
    assert len(expected) == 10_000
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        chunk, cursor = catalog.list_page(granted, cursor, page_size=256)
        seen.extend(t.name for t in chunk)
        pages += 1
        if cursor is None:
            break
        assert cursor.isascii() and "srv" not in cursor  # opaque
    assert seen == expected
    assert pages == 40  # ceil(10000 / 256)


def test_a_page_that_ends_exactly_at_the_end_has_no_next_cursor() -> None:
    catalog = big_catalog(servers=1, tools_each=10)
    chunk, cursor = catalog.list_page({"srv000"}, None, page_size=10)
    assert len(chunk) == 10 and cursor is None
    chunk, cursor = catalog.list_page({"srv000"}, None, page_size=5)
    assert cursor is not None
    rest, last = catalog.list_page({"srv000"}, cursor, page_size=5)
    assert rest[0].name == "srv000__tool_0005" and last is None
    assert catalog.list_page(set(), None) == ([], None)


def test_a_cursor_stays_valid_when_tools_come_and_go_between_pages() -> None:
    catalog = Catalog()
    server = weather()
    catalog.replace(server, [tool(n) for n in "abcdef"])
    first, cursor = catalog.list_page({"weather"}, None, page_size=2)
    assert [t.upstream_name for t in first] == ["a", "b"]
    catalog.replace(server, [tool(n) for n in "acdef"])  # b, the cursor's tool, is gone
    second, _ = catalog.list_page({"weather"}, cursor, page_size=2)
    assert [t.upstream_name for t in second] == ["c", "d"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "%%%",
        "AAAA",  # decodes, but not to a cursor
        encode_cursor("x").replace("Y", "Z") + "x",
        "YWZ0ZXI6",  # "after:" with no name
        "YWZ0ZXI6aGFzIHNwYWNl",  # "after:has space"
        "x" * 500,
        "_-_-",
    ],
)
def test_a_malformed_cursor_is_refused(cursor: str) -> None:
    catalog = big_catalog(servers=1, tools_each=3)
    with pytest.raises(CursorError):
        catalog.list_page({"srv000"}, cursor)


def test_cursor_round_trip_and_page_size_bounds() -> None:
    assert decode_cursor(encode_cursor("weather__get_forecast")) == "weather__get_forecast"
    with pytest.raises(ValueError, match="page_size"):
        page([], None, 0)


# -- UP-4: an audience names one upstream and nothing else -------------------------------------------

GATEWAY_MCP = "https://gateway.example/mcp"
RESERVED = (GATEWAY_MCP, "https://gateway.example", "https://tools.example/weather")


def bound_registry(*configured: UpstreamServer) -> ServerRegistry:
    return ServerRegistry(MemoryStore(), configured, reserved_audiences=RESERVED)


@pytest.mark.parametrize("audience", [*RESERVED, "HTTPS://Gateway.Example:443/mcp"])
def test_up4_no_upstream_may_hold_the_gateways_own_audience_or_a_configured_target(audience: str) -> None:
    server = UpstreamServer("evil", "https://evil.example/mcp", audience=audience, foreign_audience=True)
    with pytest.raises(RegistryError, match="the gateway's own or a configured target"):
        asyncio.run(bound_registry().add(server))
    with pytest.raises(RegistryError, match="the gateway's own or a configured target"):
        bound_registry(
            UpstreamServer("evil", "https://evil.example/mcp", audience=audience, foreign_audience=True)
        )


def test_up4_an_audience_another_server_holds_is_refused() -> None:
    registry = bound_registry(UpstreamServer("weather", "https://weather.example/mcp"))
    thief = UpstreamServer(
        "thief", "https://thief.example/mcp", audience="https://weather.example/mcp", foreign_audience=True
    )
    with pytest.raises(RegistryError, match="already held by server 'weather'"):
        asyncio.run(registry.add(thief))


def test_up4_an_audience_on_another_origin_needs_the_explicit_override() -> None:
    foreign = UpstreamServer("api", "https://gw-adapter.example/mcp", audience="https://api.example/v1")
    with pytest.raises(RegistryError, match="not on the url's origin"):
        asyncio.run(bound_registry().add(foreign))
    allowed = UpstreamServer(
        "api", "https://gw-adapter.example/mcp", audience="https://api.example/v1", foreign_audience=True
    )
    assert asyncio.run(bound_registry().add(allowed)).foreign_audience is True


def test_up4_server_ids_are_unique_whatever_their_letter_case() -> None:
    registry = bound_registry(UpstreamServer("Good1", "https://one.example/mcp"))
    with pytest.raises(RegistryError, match="ids ignore case"):
        asyncio.run(registry.add(UpstreamServer("good1", "https://two.example/mcp")))
    with pytest.raises(RegistryError, match="ids ignore case"):
        bound_registry(
            UpstreamServer("a", "https://a.example/mcp"), UpstreamServer("A", "https://b.example/mcp")
        )
