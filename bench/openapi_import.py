"""Importing GitHub's REST API description (``@octokit/openapi``, ``make openapi-fixtures``):
load + validate, then map every operation, against ``json.loads`` of the same bytes measured in the
same run.

    .venv/bin/python bench/openapi_import.py [--rounds 3] [--document PATH]

Prints the median of each step over the rounds, the operation count and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools_registry.openapi import import_api, load_document

GITHUB = (
    Path(__file__).resolve().parent.parent
    / ".node-openapi/node_modules/@octokit/openapi/generated/api.github.com.json"
)


def median_seconds(call: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--document", type=Path, default=GITHUB)
    args = parser.parse_args()
    raw = args.document.read_bytes()
    baseline, _ = median_seconds(lambda: json.loads(raw), args.rounds)
    load, document = median_seconds(lambda: load_document(raw), args.rounds)
    mapping, api = median_seconds(lambda: import_api(document), args.rounds)
    operations = len(api.tools) + len(api.skipped)
    print(f"document: {args.document.name}, {len(raw) / 1e6:.1f} MB, {operations} operations")
    print(f"baseline json.loads        {baseline * 1000:8.0f} ms")
    print(f"load_document (+validate)  {load * 1000:8.0f} ms  {load / baseline:5.1f}x baseline")
    print(f"import_api (map)           {mapping * 1000:8.0f} ms  {mapping / baseline:5.1f}x baseline")
    total = load + mapping
    print(f"import, total              {total * 1000:8.0f} ms  {total / baseline:5.1f}x baseline")
    print(
        f"tools {len(api.tools)}, skipped {len(api.skipped)}, {total / operations * 1e6:.0f} µs per operation"
    )


if __name__ == "__main__":
    main()
