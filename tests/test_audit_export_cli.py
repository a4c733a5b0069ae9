"""``mcp-gateway audit exporters`` and ``audit export --after`` as an operator runs them: how far each
configured exporter delivered, where the trail starts, and the lines the ``jsonl`` exporter writes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Cli

PASSWORD = "correct horse battery staple"


def test_audit_exporters_shows_each_exporters_position_and_export_resumes_after_one(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        "audit_retention_days = 30\n"
        f'[audit_export.archive]\nkind = "jsonl"\npath = "{tmp_path / "audit.jsonl"}"\n'
        '[audit_export.siem]\nkind = "syslog"\nhost = "siem.internal"\n'
    )
    cli = Cli(store=f"sqlite:///{tmp_path / 'gw.sqlite3'}", cwd=tmp_path, config=config)
    for name in ("ann", "bob"):
        added = cli.run("users", "add", name, "--role", "auditor", "--password-stdin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
    status = cli.json("audit", "exporters")
    head = status["head"]
    assert head >= 2 and status["pruned_through"] == 0 and status["retention_days"] == 30
    assert status["exporters"] == [
        {"name": "archive", "kind": "jsonl", "delivered_through": 0, "behind": head},
        {"name": "siem", "kind": "syslog", "delivered_through": 0, "behind": head},
    ]
    shown = cli.run("audit", "exporters")
    assert shown.stdout.splitlines()[0].split() == ["EXPORTER", "KIND", "DELIVERED", "THROUGH", "BEHIND"]
    assert f"the trail holds events 1 to {head}; events are kept 30 days" in shown.stdout
    lines = [
        json.loads(line)
        for line in cli.run("audit", "export", "--format", "jsonl", "--after", "1").stdout.splitlines()
    ]
    assert [line["seq"] for line in lines] == list(range(2, head + 1))
