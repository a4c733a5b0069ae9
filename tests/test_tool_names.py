"""The names agents see (``tools_registry.tool_names``) and UP-6: one name, one tool of one server.

Agent frameworks (openai-agents, langchain-mcp-adapters) pass MCP tool names to the model's
function calling unchanged, and OpenAI and Anthropic accept only ``^[a-zA-Z0-9_-]{1,64}$``. By
default every exposed name is such a name; the dotted form stays available as a setting. Names
that meet are never shared: the tests below build each way two tools can meet.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigError, settings_from
from gateway.store.memory import MemoryStore
from tools_registry.catalog import Catalog
from tools_registry.server_registry import ServerRegistry
from tools_registry.servers import SERVER_ID, TOOL_NAME, RegistryError, UpstreamServer
from tools_registry.tool_names import check_separator, check_server_id, exposed_name

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""OpenAI's and Anthropic's pattern for function (tool) names, as their APIs document it."""
LONG = "forecast_" + "x" * 100


def server(server_id: str) -> UpstreamServer:
    return UpstreamServer(server_id, f"https://{server_id.lower().replace('_', 'u')}.example/mcp")


def tools(*names: str) -> list[dict[str, object]]:
    return [{"name": name, "inputSchema": {"type": "object"}} for name in names]


def test_exposed_tool_names_are_valid_function_names_by_default() -> None:
    catalog = Catalog()
    catalog.replace(server("weather"), tools("get_forecast", "v2.get_forecast", "a-b", LONG, "y" * 128))
    names = [tool.name for tool in catalog.visible_to({"weather"})]
    assert "weather__get_forecast" in names and "weather__v2_get_forecast" in names
    assert len(names) == 5 and all(FUNCTION_NAME.match(name) for name in names), names
    assert settings_from().mcp.tool_namespace_separator == "__"


@settings(max_examples=300, deadline=None)
@given(
    server_id=st.from_regex(SERVER_ID, fullmatch=True).filter(lambda s: "__" not in s and s[-1] != "_"),
    tool=st.from_regex(TOOL_NAME, fullmatch=True),
    separator=st.sampled_from(["__", "_", "-", "--", "_-"]),
)
def test_every_valid_server_and_tool_gives_a_function_name_with_a_function_safe_separator(
    server_id: str, tool: str, separator: str
) -> None:
    assert FUNCTION_NAME.match(exposed_name(server_id, tool, separator))
    assert exposed_name(server_id, tool, separator) == exposed_name(server_id, tool, separator)


def test_characters_outside_function_names_are_replaced_by_an_underscore() -> None:
    assert exposed_name("weather", "v2.get.forecast") == "weather__v2_get_forecast"
    assert exposed_name("weather", "get-forecast_v2") == "weather__get-forecast_v2"  # kept as it is
    assert exposed_name("weather", "v2.get", "-") == "weather-v2_get"


def test_a_long_name_is_shortened_deterministically_with_a_digest_of_the_whole_name() -> None:
    name = exposed_name("weather", LONG)
    digest = hashlib.sha256(f"weather__{LONG}".encode()).hexdigest()[:10]
    assert name == f"weather__{LONG}"[:53] + "_" + digest
    assert len(name) == 64 and name == exposed_name("weather", LONG)
    assert exposed_name("weather", LONG + "y") != name  # same 53-character prefix, other digest
    assert exposed_name("weather", "x" * 55) == "weather__" + "x" * 55  # exactly 64: kept whole
    assert len(exposed_name("w" * 32, "x" * 128)) == 64
    assert exposed_name("w" * 32, "x" * 128).startswith("w" * 32 + "__")  # the server id survives


def test_the_dotted_form_is_kept_when_the_separator_is_a_dot() -> None:
    catalog = Catalog(separator=".")
    catalog.replace(server("weather"), tools("get_forecast", "v2.get_forecast", "x" * 128))
    forecast = catalog.lookup("weather.get_forecast")
    assert forecast is not None and forecast.descriptor["name"] == "weather.get_forecast"
    assert catalog.lookup("weather.v2.get_forecast") is not None
    assert catalog.lookup("weather__get_forecast") is None
    long_name = exposed_name("weather", "x" * 128, ".")
    assert len(long_name) == 128 and catalog.lookup(long_name) is not None  # SEP-986's limit
    dotted = settings_from(tool_namespace_separator=".")
    assert dotted.mcp.tool_namespace_separator == "."


@pytest.mark.parametrize("separator", ["", "/", "::", "_____", "a", " ", 3])
def test_a_separator_that_cannot_join_names_is_refused(separator: object) -> None:
    with pytest.raises(ValueError, match="1-4 of the characters"):
        check_separator(separator)
    with pytest.raises(ConfigError, match="tool_namespace_separator"):
        settings_from(tool_namespace_separator=separator)


def test_scopes_and_the_forwarded_name_stay_the_upstream_tools_own() -> None:
    catalog = Catalog()
    catalog.replace(server("weather"), tools("v2.get_forecast"))
    tool = catalog.lookup("weather__v2_get_forecast")
    assert tool is not None
    assert (tool.server_id, tool.upstream_name) == ("weather", "v2.get_forecast")
    assert tool.scopes == ("weather:v2.get_forecast",)  # built on the original names
    assert [t.name for t in catalog.visible_to({"weather:v2.get_forecast"})] == ["weather__v2_get_forecast"]


# -- UP-6: an exposed name belongs to one tool of one server -----------------------------------------


@pytest.mark.parametrize("server_id", ["a__b", "weather_", "_", "a___b"])
def test_up6_a_server_id_that_blurs_into_the_separator_is_refused_at_registration(server_id: str) -> None:
    with pytest.raises(RegistryError, match="tool name separator '__'"):
        asyncio.run(ServerRegistry(MemoryStore()).add(server(server_id)))
    with pytest.raises(RegistryError, match="tool name separator"):
        ServerRegistry(MemoryStore(), [server(server_id)])
    with pytest.raises(ConfigError, match=f"server id '{server_id}'"):
        settings_from(servers=[{"id": server_id, "url": "https://x.example/mcp"}])
    dotted = ServerRegistry(MemoryStore(), separator=".")  # no id can hold a dot
    assert asyncio.run(dotted.add(server(server_id))).id == server_id


def test_up6_ids_that_keep_to_the_rule_are_accepted_whatever_the_separator() -> None:
    check_server_id("weather_eu-2", "__")
    check_server_id("_weather", "__")  # a leading underscore is fine: the id ends before "__"
    with pytest.raises(ValueError):
        check_server_id("weather_eu", "_")
    with pytest.raises(ValueError):
        check_server_id("weather-eu", "-")


def test_up6_two_tools_of_one_server_whose_names_meet_the_first_listed_keeps_it() -> None:
    catalog = Catalog()
    problems = catalog.replace(server("weather"), tools("get.x", "get_x", "other"))
    assert problems == [
        "weather: tools[1]: tool 'get_x' would be exposed as 'weather__get_x', the name of its tool "
        "'get.x'; the first is kept"
    ]
    kept = catalog.lookup("weather__get_x")
    assert kept is not None and kept.upstream_name == "get.x"
    assert catalog.health()["weather"].skipped == tuple(problems)
    assert catalog.health()["weather"].tools == 2


def test_up6_a_shortened_name_that_meets_a_plain_one_is_not_shared() -> None:
    shortened = exposed_name("weather", LONG)
    lookalike = shortened.removeprefix("weather__")  # exposed as exactly `shortened`, unshortened
    catalog = Catalog()
    problems = catalog.replace(server("weather"), tools(LONG, lookalike))
    assert len(problems) == 1 and f"would be exposed as {shortened!r}" in problems[0]
    kept = catalog.lookup(shortened)
    assert kept is not None and kept.upstream_name == LONG


@pytest.mark.parametrize("order", ["a first", "a__b first"])
def test_up6_a_name_two_servers_claim_is_withheld_from_both_whatever_the_order(order: str) -> None:
    # `a` + "__" + `b__c` and `a__b` + "__" + `c`: ids from before the registration check
    claims = [(server("a"), tools("b__c", "own")), (server("a__b"), tools("c", "mine"))]
    catalog = Catalog()
    for upstream, listed in claims if order == "a first" else reversed(claims):
        catalog.replace(upstream, listed)
    assert catalog.lookup("a__b__c") is None and catalog.unavailable("a__b__c") is None
    assert [t.name for t in catalog.visible_to({"a", "a__b"})] == ["a__b__mine", "a__own"]
    health = catalog.health()
    assert (health["a"].tools, health["a__b"].tools) == (1, 1)
    assert health["a"].skipped == (
        "a: tool 'b__c': exposed name 'a__b__c' is also claimed by server 'a__b'; withheld from all of them",
    )
    assert "tool 'c': exposed name 'a__b__c' is also claimed by server 'a'" in health["a__b"].skipped[0]


def test_up6_a_server_discovered_later_never_takes_a_name_an_agent_already_saw() -> None:
    catalog = Catalog()
    catalog.replace(server("a"), tools("b__c"))
    seen = catalog.lookup("a__b__c")
    assert seen is not None and seen.server_id == "a"
    problems = catalog.replace(server("a__b"), tools("c"))
    assert problems and "withheld" in problems[0]  # what `tools refresh` reports for the newcomer
    assert catalog.lookup("a__b__c") is None  # not a's any more, and never a__b's
    catalog.mark_unhealthy("a", "timeout")  # a server that goes down keeps its names meanwhile
    assert catalog.lookup("a__b__c") is None and catalog.unavailable("a__b__c") is None
    catalog.remove("a__b")
    catalog.mark_healthy("a")
    back = catalog.lookup("a__b__c")
    assert back is not None and back.server_id == "a"


LEGACY_IDS = ["a", "a_", "a__b", "b"]
MEETING_TOOLS = ["c", "_c", "b__c", "x", "b_c", "b.c"]


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(LEGACY_IDS), st.none() | st.lists(st.sampled_from(MEETING_TOOLS), unique=True)
        ),
        max_size=12,
    )
)
def test_up6_what_is_exposed_depends_only_on_what_each_server_lists_never_on_the_order(
    steps: list[tuple[str, list[str] | None]],
) -> None:
    """Replicas discover in different orders: replaces and removals in any order end where a fresh
    catalogue fed the final lists (in another order) starts, so each name reaches the same tool."""
    live = Catalog()
    final: dict[str, list[str]] = {}
    for server_id, listed in steps:
        if listed is None:
            live.remove(server_id)
            final.pop(server_id, None)
        else:
            live.replace(server(server_id), tools(*listed))
            final[server_id] = listed
    fresh = Catalog()
    for server_id in sorted(final, reverse=True):
        fresh.replace(server(server_id), tools(*final[server_id]))

    def exposed(catalog: Catalog) -> list[tuple[str, str, str]]:
        return [(t.name, t.server_id, t.upstream_name) for t in catalog.visible_to(set(LEGACY_IDS))]

    assert exposed(live) == exposed(fresh)
    assert len({name for name, _, _ in exposed(live)}) == len(exposed(live))  # one tool per name
    withheld = {sid: [line for line in h.skipped if "withheld" in line] for sid, h in live.health().items()}
    assert withheld == {
        sid: [line for line in h.skipped if "withheld" in line] for sid, h in fresh.health().items()
    }
