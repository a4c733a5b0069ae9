"""tools/list over 10,000 registered tools: p50/p99 of one page, against a naive scan baseline.

    .venv/bin/python bench/tools_list.py [--servers 100] [--tools 100] [--page-size 100]

Cases, each for agents holding every server's scope (sees all tools), one server's scope, and
per-tool scopes:
* ``page (cached)``: ``Catalog.list_page`` + ``json.dumps`` of the page, same scope set again;
* ``page (uncached)``: the same with the per-scope-set cache emptied before each call;
* ``baseline``: a linear scan of every tool with ``scopes.covers`` + sort + slice + dumps, measured
  in the same run.
Also the one-off cost of rebuilding the index after a server's tools change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Collection

from tools_registry.catalog import Catalog
from tools_registry.pagination import page
from tools_registry.scopes import covers
from tools_registry.servers import UpstreamServer
from tools_registry.tool_entries import CatalogTool


def schema(i: int) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city"],
        "description": f"arguments of tool {i}",
    }


def build(servers: int, tools: int) -> tuple[Catalog, list[UpstreamServer]]:
    catalog = Catalog()
    registered = [UpstreamServer(f"srv{s:03d}", f"https://srv{s}.example/mcp") for s in range(servers)]
    for s, server in enumerate(registered):
        raw = [
            {"name": f"tool_{t:04d}", "description": f"Tool {t} of {s}", "inputSchema": schema(t)}
            for t in range(tools)
        ]
        catalog.replace(server, raw)
    return catalog, registered


def measure(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def naive(all_tools: list[CatalogTool], granted: Collection[str], size: int) -> str:
    visible = sorted(
        (t for t in all_tools if all(covers(granted, r) for r in t.scopes)), key=lambda t: t.name
    )
    chunk, cursor = page(visible, None, size)
    return json.dumps({"tools": [t.descriptor for t in chunk], "nextCursor": cursor})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--tools", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    catalog, servers = build(args.servers, args.tools)
    catalog.visible_to(())  # builds the index
    print(f"{len(catalog)} tools registered and indexed in {(time.perf_counter() - start):.2f} s")
    all_tools = catalog.visible_to({s.id for s in servers})
    size = args.page_size

    agents = {
        "every server scope": frozenset(s.id for s in servers),
        "one server scope": frozenset({servers[0].id}),
        "50 per-tool scopes": frozenset(f"{servers[1].id}:tool_{t:04d}" for t in range(50)),
    }
    print(f"page size {size}; times in ms, p50 / p99 over {args.rounds} calls")
    for label, granted in agents.items():

        def listing(granted: frozenset[str] = granted) -> str:
            chunk, cursor = catalog.list_page(granted, None, size)
            return json.dumps({"tools": [t.descriptor for t in chunk], "nextCursor": cursor})

        def uncached(granted: frozenset[str] = granted) -> str:
            catalog._cache.clear()
            return listing(granted)

        cached = measure(listing, args.rounds)
        cold = measure(uncached, args.rounds)
        base = measure(lambda granted=granted: naive(all_tools, granted, size), max(20, args.rounds // 10))
        print(
            f"  {label:<20} page (cached) {cached[0]:6.3f} / {cached[1]:6.3f}"
            f"   page (uncached) {cold[0]:6.3f} / {cold[1]:6.3f}"
            f"   baseline {base[0]:6.2f} / {base[1]:6.2f}   speed-up p50 x{base[0] / cached[0]:.0f}"
            f" (uncached x{base[0] / cold[0]:.1f})"
        )

    def rebuild() -> None:
        catalog.replace(servers[0], [{"name": f"tool_{t:04d}"} for t in range(args.tools)])
        catalog.visible_to(())

    p50, p99 = measure(rebuild, 20)
    print(f"  index rebuild after one server's refresh: p50 {p50:.2f} / p99 {p99:.2f}")


if __name__ == "__main__":
    main()
