"""Registering, changing and removing upstream servers at the console (AD-9, AD-5): the form, and
the registration service deciding behind it, as for the CLI and the admin API.

One gateway under uvicorn, the notes REST API beside it on loopback
(:mod:`tests.support.registering_console`); people sign in through the console's own form with a
cookie jar (:class:`~tests.support.console.SignedIn`) and post its forms, or forge them.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import pytest

from gateway import paths
from gateway.console.pending_views import server_path
from gateway.console.server_form_views import edit_path
from tests.support.console import ConsoleUser, SignedIn, forms_of, notice_of
from tests.support.registering_console import Console, grant, registering_console

pytestmark = pytest.mark.anyio

REGISTER = paths.CONSOLE_TOOLS_REGISTER
TIMES = {"timeout": "10", "refresh_interval": "300"}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with registering_console(tmp_path_factory.mktemp("console-registration")) as running:
        for namespace in ("notes", "calendar", "mail", "forecasts"):
            grant(running.store, namespace, "author")
        grant(running.store, "payroll", "someone-else")
        yield running


def token(page: httpx2.Response) -> str:
    return forms_of(page.text)[paths.CONSOLE_SIGN_OUT]["csrf"]


async def events(person: ConsoleUser, kind: str, server: str) -> str:
    """The audit search's page of ``kind`` events about ``server``, once one is written."""
    for _ in range(50):
        page = await person.open(f"{paths.CONSOLE_AUDIT}?type={kind}")
        if f"{server}" in page.text and "No event" not in page.text:
            return page.text
        await anyio.sleep(0.1)
    raise AssertionError(f"no {kind} event about {server} was written")


async def test_ad9_a_tool_author_registers_the_notes_rest_api_and_sees_it_on_the_tools_page(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "author") as author:
        tools = await author.open(paths.CONSOLE_TOOLS)
        assert f'<a href="{REGISTER}">Register a server</a>' in tools.text
        form = await author.open(REGISTER)
        assert form.status_code == 200
        assert '<option value="notes">notes</option>' in form.text
        assert 'name="pinning"' not in form.text and 'name="foreign_audience"' not in form.text
        assert 'name="audit_arguments"' not in form.text
        document = f"{console.notes}/openapi.json"
        fields = {"kind": "openapi", "id": "notes", "openapi": document, "base_url": console.notes}
        added = await author.submit(form, REGISTER, **fields, default_scopes="notes:read", **TIMES)
        assert added.status_code == 303, notice_of(added.text)
        assert added.headers["location"] == f"{server_path('notes')}?done=registered"
        page = await author.open(added.headers["location"])
        assert "Registered. Its first discovery runs" in page.text and "first-use" in page.text
        assert f'href="{edit_path("notes")}"' in page.text and document in page.text
        assert f'href="{server_path("notes")}"' in (await author.open(paths.CONSOLE_TOOLS)).text
        for _ in range(100):
            if 'id="tool-listNotes"' in (await author.open(server_path("notes"))).text:
                break
            await anyio.sleep(0.1)
        else:
            raise AssertionError("the notes API's tools were never discovered")
    async with SignedIn(console.gateway, "sec") as sec:
        assert "author" in await events(sec, "upstream_server_added", "notes")


async def test_ad9_a_tool_author_is_offered_only_their_namespaces_and_a_forged_one_is_refused(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "author") as author:
        form = await author.open(REGISTER)
        assert 'value="payroll"' not in form.text and 'value="calendar"' in form.text
        url = "https://payroll.example/mcp"
        forged = await author.submit(form, REGISTER, kind="mcp", id="payroll", url=url, **TIMES)
        assert forged.status_code == 403
        assert "do not own the namespace" in notice_of(forged.text) and "payroll" in notice_of(forged.text)
        assert f'value="{url}"' in forged.text  # what was typed is kept
        assert (await author.open(server_path("payroll"))).status_code == 404


async def test_ad9_a_validation_error_is_shown_beside_the_form_with_the_values_kept(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "author") as author:
        form = await author.open(REGISTER)
        document = f"{console.notes}/openapi.json"
        fields = {
            "kind": "openapi",
            "id": "calendar",
            "openapi": document,
            "base_url": "ftp://calendar.example/v1",
        }
        refused = await author.submit(
            form, REGISTER, **fields, tool_scopes="listNotes = calendar:read", **TIMES
        )
        assert refused.status_code == 400
        assert "must be an absolute http(s) URL" in notice_of(refused.text)
        assert "Traceback" not in refused.text
        assert 'value="ftp://calendar.example/v1"' in refused.text
        assert "listNotes = calendar:read</textarea>" in refused.text
        assert '<option value="calendar" selected>' in refused.text
        bad_line = await author.submit(
            form,
            REGISTER,
            kind="mcp",
            id="calendar",
            url="https://c.example/mcp",
            tool_scopes="just words",
            **TIMES,
        )
        assert bad_line.status_code == 400 and "Tool_scopes, line 1" in notice_of(bad_line.text)


async def test_ad9_a_security_admins_fields_are_absent_for_an_author_and_a_forged_one_is_refused(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "author") as author:
        form = await author.open(REGISTER)
        fields = {"kind": "mcp", "id": "mail", "url": "https://mail.example/mcp", **TIMES}
        forged = await author.submit(form, REGISTER, **fields, pinning="trusted")
        assert forged.status_code == 403
        assert "Pinning is a security-admin&#x27;s decision" in notice_of(forged.text)
        foreign = await author.submit(form, REGISTER, **fields, foreign_audience="on")
        assert foreign.status_code == 403
    async with SignedIn(console.gateway, "sec") as sec:
        page = await sec.open(REGISTER)
        assert 'name="pinning"' in page.text and '<input type="text" id="f-id" name="id"' in page.text
        assert "refused" in await events(sec, "upstream_server_added", "mail")


async def test_ad9_a_tool_author_changes_and_removes_their_server_after_a_confirmation(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "author") as author:
        form = await author.open(REGISTER)
        fields = {"kind": "mcp", "id": "forecasts", "url": "https://forecasts.example/mcp", **TIMES}
        assert (await author.submit(form, REGISTER, **fields)).status_code == 303
        edit = await author.open(edit_path("forecasts"))
        assert edit.status_code == 200 and 'value="https://forecasts.example/mcp"' in edit.text
        changed = await author.submit(
            edit,
            edit_path("forecasts"),
            url="https://forecasts.example/mcp",
            kind="mcp",
            timeout="20",
            refresh_interval="300",
        )
        assert changed.status_code == 303, notice_of(changed.text)
        assert changed.headers["location"] == f"{server_path('forecasts')}?done=changed"
        assert 'value="20"' in (await author.open(edit_path("forecasts"))).text
        confirm = await author.open(edit_path("forecasts", "remove"))
        assert confirm.status_code == 200 and "Remove server" in confirm.text
        removed = await author.submit(confirm, edit_path("forecasts", "remove"))
        assert (
            removed.status_code == 303
            and removed.headers["location"] == f"{paths.CONSOLE_TOOLS}?done=removed"
        )
        assert "Removed: its tools have left" in (await author.open(removed.headers["location"])).text
        assert (await author.open(edit_path("forecasts"))).status_code == 404


async def test_ad5_a_registration_without_the_sessions_form_token_is_refused(console: Console) -> None:
    async with SignedIn(console.gateway, "author") as author:
        fields = {"kind": "mcp", "id": "mail", "url": "https://mail.example/mcp", **TIMES}
        assert (await author.post(REGISTER, **fields)).status_code == 403
        assert (await author.post(REGISTER, csrf="not-this-sessions", **fields)).status_code == 403
        assert (await author.open(server_path("mail"))).status_code == 404


async def test_ad9_an_auditor_is_offered_nothing_and_a_forged_post_is_refused_and_recorded(
    console: Console,
) -> None:
    async with SignedIn(console.gateway, "sec") as sec, SignedIn(console.gateway, "audrey") as audrey:
        form = await sec.open(REGISTER)
        fields = {"kind": "mcp", "id": "ledger", "url": "https://ledger.example/mcp", **TIMES}
        assert (await sec.submit(form, REGISTER, **fields)).status_code == 303
        tools = await audrey.open(paths.CONSOLE_TOOLS)
        assert REGISTER not in tools.text
        page = await audrey.open(server_path("ledger"))
        assert edit_path("ledger") not in page.text and REGISTER not in page.text
        assert (await audrey.open(REGISTER)).status_code == 403
        assert (await audrey.open(edit_path("ledger"))).status_code == 403
        csrf = token(tools)
        assert (await audrey.post(REGISTER, csrf=csrf, **{**fields, "id": "audits"})).status_code == 403
        forged = await audrey.post(edit_path("ledger"), csrf=csrf, kind="mcp", timeout="1")
        assert forged.status_code == 403
        assert (await audrey.post(edit_path("ledger", "remove"), csrf=csrf)).status_code == 403
        assert (await sec.open(server_path("ledger"))).status_code == 200
        removed = await events(sec, "upstream_server_removed", "ledger")
        assert "refused" in removed and "audrey" in removed
