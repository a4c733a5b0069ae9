"""``mcp-gateway tools add --openapi`` through the registration service, and ``tools owners``
(rule book AD-9), as an operator runs them: a process of its own on a SQLite store.

The notes API (:mod:`tests.support.notes_api`) runs under uvicorn on loopback for ``--openapi
URL``; the configuration allows loopback fetches, as a deployment allow-lists a private host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.asgi_server import Served
from tests.support.cli import Cli, assert_refused
from tests.support.notes_api import NotesApi, openapi_document


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli.on_sqlite(tmp_path)
    config = tmp_path / "gw.toml"
    config.write_text('fetch_allowed_private_hosts = ["127.0.0.1"]\n')
    cli.config = config
    return cli


@pytest.fixture(scope="module")
def notes_api() -> Iterator[str]:
    with Served() as served:
        served.start(NotesApi().app("http://127.0.0.1:1", served.url))
        yield served.url


def test_tools_add_openapi_file_registers_a_rest_api_and_prints_it_as_json(cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "notes.json"
    document.write_text(json.dumps(openapi_document()))
    added = cli.json(
        "tools", "add", "notes", "--openapi", str(document), "--base-url", "https://notes.example/v1"
    )
    assert added["kind"] == "openapi" and added["base_url"] == "https://notes.example/v1"
    assert added["audience"] == "https://notes.example/v1" and len(added["document_sha256"]) == 64
    assert cli.json("tools", "show", "notes")["openapi"] == str(document)


def test_tools_add_openapi_url_fetches_the_document_now(cli: Cli, notes_api: str) -> None:
    url = f"{notes_api}/openapi.json"
    added = cli.json(
        "tools", "add", "notes", "--openapi", url, "--base-url", notes_api, "--operations", "listNotes"
    )
    assert added["openapi"] == url and added["operations"] == ["listNotes"]
    result = cli.run(
        "tools", "add", "gone", "--openapi", f"{notes_api}/missing.json", "--base-url", notes_api
    )
    assert_refused(result, 2, "cannot fetch the OpenAPI document")


def test_url_and_openapi_exclude_each_other_and_openapi_needs_a_base_url(cli: Cli, tmp_path: Path) -> None:
    both = cli.run(
        "tools", "add", "x", "--url", "https://x.example/mcp", "--openapi", "https://x.example/o.json"
    )
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    assert_refused(
        cli.run("tools", "add", "x", "--openapi", "https://x.example/o.json"), 2, "--openapi needs --base-url"
    )
    assert cli.json("tools", "list") == []


def test_ad9_tools_owners_grants_lists_and_revokes_and_each_change_is_audited(cli: Cli) -> None:
    granted = cli.json("tools", "owners", "grant", "notes", "alice", "--as", "sec")
    assert granted == {"namespace": "notes", "owners": ["alice"]}
    cli.json("tools", "owners", "grant", "notes", "bob")
    assert cli.json("tools", "owners") == [{"namespace": "notes", "owners": ["alice", "bob"]}]
    assert cli.json("tools", "owners", "notes") == [{"namespace": "notes", "owners": ["alice", "bob"]}]
    text = cli.run("tools", "owners", "revoke", "notes", "alice")
    assert text.returncode == 0 and "alice no longer owns namespace notes" in text.stdout
    assert_refused(cli.run("tools", "owners", "revoke", "notes", "alice"), 1, "does not own")
    assert_refused(cli.run("tools", "owners", "grant", "bad.ns", "alice"), 2, "namespace: id must be")
    assert_refused(cli.run("tools", "owners", "grant", "notes"), 2, "tools owners takes")
    events = cli.json("audit", "search", "--type", "namespace_owner_granted,namespace_owner_revoked")
    assert [e["type"] for e in events][:3] == ["namespace_owner_granted"] * 2 + ["namespace_owner_revoked"]
