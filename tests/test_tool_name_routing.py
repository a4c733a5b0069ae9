"""UP-6 through the MCP endpoint: a name an agent saw in ``tools/list`` reaches that tool.

One upstream lists a plain name, a dotted one and one too long for function calling; the gateway
runs with the default separator and with the dotted one. Whatever the name was made into, a
``tools/call`` to it is forwarded under the upstream's own name, and only that name's tool answers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.mcp_requests import modern, wait_for_tools
from tests.support.upstream_gateway import gateway_in_front_of
from tools_registry.tool_names import exposed_name

pytestmark = pytest.mark.anyio

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
UPSTREAM_TOOLS = ["get_forecast", "v2.get_forecast", "forecast_" + "x" * 100]


@pytest.mark.parametrize("separator", ["__", "."])
async def test_up6_an_exposed_name_round_trips_to_the_upstream_tool_under_its_own_name(
    tmp_path: Path, separator: str
) -> None:
    upstream = FakeUpstream(tool_names=list(UPSTREAM_TOOLS))
    exposed = {exposed_name("weather", tool, separator): tool for tool in UPSTREAM_TOOLS}
    async with (
        gateway_in_front_of(
            upstream, tmp_path / "gw.sqlite3", {"id": "weather"}, tool_namespace_separator=separator
        ) as fronted,
        fronted.client() as http,
    ):
        token = await fronted.token(http)
        listed = await wait_for_tools(http, fronted.mcp, token, exposed)
        assert sorted(listed) == sorted(exposed)
        if separator == "__":
            assert "weather__v2_get_forecast" in listed
            assert all(FUNCTION_NAME.match(name) for name in listed), listed
        else:
            assert "weather.v2.get_forecast" in listed
        for name, tool in exposed.items():
            answer = await modern(http, fronted.mcp, token, "tools/call", {"name": name, "arguments": {}})
            assert answer.json()["result"]["content"][0]["text"] == f"{tool} answered"
            forwarded = upstream.seen[-1][1]
            assert (forwarded["method"], forwarded["params"]["name"]) == ("tools/call", tool)
        other = "weather.get_forecast" if separator == "__" else "weather__get_forecast"
        refused = await modern(http, fronted.mcp, token, "tools/call", {"name": other, "arguments": {}})
        assert refused.json()["error"]["message"] == f"Unknown tool: {other}"
