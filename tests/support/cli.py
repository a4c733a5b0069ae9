"""``python -m gateway …`` as an operator runs it: a process of its own, on a store the test chooses.

The process inherits the test's environment minus every ``MCP_GATEWAY_*`` variable, so only what
the test sets reaches it; ``PYTHONPATH`` points at this checkout, so it runs the code under test.
Exit codes (``gateway/cli``): 0 done, 1 the object was not there, 2 bad configuration or arguments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cli:
    """The command line on ``store``, run from ``cwd``, with ``config`` as its config file if set."""

    store: str
    cwd: Path
    config: Path | None = None

    @classmethod
    def on_sqlite(cls, folder: Path) -> Cli:
        """The command line on ``folder/gw.sqlite3``, run from ``folder``."""
        return cls(store=f"sqlite:///{folder / 'gw.sqlite3'}", cwd=folder)

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``stdin``: what the process reads on its standard input (a password)."""
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=self.cwd,
            env=self._environment(extra_env),
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )

    def start(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """The command left running (``serve``); its output is kept for the test to read."""
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", *args],
            cwd=self.cwd,
            env=self._environment(extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _environment(self, extra_env: dict[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_GATEWAY_")}
        env["MCP_GATEWAY_STORE"] = self.store
        env["PYTHONPATH"] = str(REPO)
        if self.config is not None:
            env["MCP_GATEWAY_CONFIG"] = str(self.config)
        env.update(extra_env or {})
        return env

    def json(self, *args: str, extra_env: dict[str, str] | None = None) -> Any:
        result = self.run(*args, "--json", extra_env=extra_env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def assert_refused(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    """Refused as the CLI refuses: exit ``code``, one line on stderr that says why, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr, result.stderr
