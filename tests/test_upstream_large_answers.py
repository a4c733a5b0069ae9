"""An upstream answer larger than one network read is read whole (the hop reads until the end).

The network reads of the upstream hop are the point, so the upstream is served on a real socket
and the gateway calls it with its production transport; the agent's side is not, so the gateway
itself runs in the test's process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.mcp_requests import wait_for_tools
from tests.support.upstream_gateway import gateway_in_front_of
from tools_registry.tool_names import exposed_name

pytestmark = pytest.mark.anyio


async def test_a_tools_list_page_of_several_hundred_kilobytes_is_discovered_whole(tmp_path: Path) -> None:
    names = [f"tool_{i:04d}_{'x' * 90}" for i in range(2000)]
    upstream = FakeUpstream(tool_names=names, page_size=2000)  # one page, well over 500 KB
    async with (
        gateway_in_front_of(upstream, tmp_path / "gw.sqlite3", {"id": "big"}, over_a_socket=True) as fronted,
        fronted.client() as http,
    ):
        token = await fronted.token(http)
        listed = await wait_for_tools(http, fronted.mcp, token, [exposed_name("big", names[-1])])
    assert len(listed) == 2000
