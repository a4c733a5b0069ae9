"""AU-4: a tool call's event says what was called and how it ended, and never the values of its
arguments unless the tool's registration opts in (``audit_arguments``), and then with the argument
names of ``audit_redact`` redacted.

The gateway runs in the test's process in front of a scripted upstream
(:mod:`tests.support.decision_trail`): ``fake__echo`` is opted in with ``ssn`` redacted; no other
tool of that server is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditLog
from gateway.audit.catalogue import CATALOGUE
from gateway.audit.events import EventMaker
from gateway.claims import Claims
from gateway.clock import FrozenClock
from gateway.resource.call_audit import CallAudit, arguments_digest, definition_hash
from tests.support.decision_trail import BOT, DecisionWorld, decision_world
from tools_registry.audit_arguments import REDACTED
from tools_registry.servers import RegistryError, UpstreamServer, from_config
from tools_registry.tool_entries import read_tool

pytestmark = pytest.mark.anyio
ARGUMENTS = {"city": "Trondheim", "ssn": "010190-12345", "nested": [{"ssn": "020290-54321", "n": 1}]}


class RecordingAudit(AuditLog):
    """An audit log that keeps what it is handed, as it is handed."""

    def __init__(self) -> None:
        super().__init__(maker=EventMaker(FrozenClock(1_700_000_000.0)))
        self.made: list[tuple[str, str, dict[str, Any]]] = []

    def record(self, event: str, *, outcome: str, **fields: Any) -> None:
        self.made.append((event, outcome, fields))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DecisionWorld]:
    async with decision_world(tmp_path) as made:
        yield made


async def tool_call_of(world: DecisionWorld, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    mark = await world.mark()
    await world.call(tool, await world.bot_token(), **arguments)
    [event] = [e for e in await world.decisions_since(mark) if e["type"] == "tool_call"]
    return event


async def test_au4_argument_values_are_absent_by_default(world: DecisionWorld) -> None:
    event = await tool_call_of(world, "fake__oops", ARGUMENTS)
    text = json.dumps(event)
    assert "argument_values" not in event["fields"]
    assert "Trondheim" not in text and "010190" not in text and "020290" not in text
    canonical = json.dumps(ARGUMENTS, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert event["fields"]["arguments_digest"] == hashlib.sha256(canonical.encode()).hexdigest()


async def test_au4_an_opted_in_tool_records_its_argument_values_with_the_named_fields_redacted(
    world: DecisionWorld,
) -> None:
    event = await tool_call_of(world, "fake__echo", ARGUMENTS)
    assert event["fields"]["argument_values"] == {
        "city": "Trondheim",
        "ssn": REDACTED,
        "nested": [{"ssn": REDACTED, "n": 1}],
    }
    assert "010190" not in json.dumps(event) and "020290" not in json.dumps(event)


async def test_au4_a_tool_call_event_names_the_call_its_upstream_definition_and_round_trip(
    world: DecisionWorld,
) -> None:
    event = await tool_call_of(world, "fake__echo", {"city": "Oslo"})
    tool = world.gateway.catalog.lookup("fake__echo")
    assert tool is not None
    assert event["outcome"] == "forwarded" and event["actor"] == {
        "client_id": BOT,
        "subject": BOT,
        "via": "agent",
    }
    fields = event["fields"]
    assert (fields["tool"], fields["upstream"], fields["is_error"]) == ("fake__echo", "fake", False)
    assert fields["definition_hash"] == definition_hash(tool)
    assert fields["arguments_digest"] == arguments_digest({"city": "Oslo"})
    assert isinstance(fields["latency_ms"], float)
    assert fields["actor_chain"] == []
    assert "error" not in fields


def test_au4_the_definition_hash_is_of_the_tool_as_catalogued() -> None:
    """Two definitions that differ in anything the agent sees have different hashes."""
    server = UpstreamServer("fake", "https://fake.test/mcp")
    one = read_tool(
        server, {"name": "echo", "description": "says it back", "inputSchema": {"type": "object"}}
    )
    same = read_tool(
        server, {"inputSchema": {"type": "object"}, "description": "says it back", "name": "echo"}
    )
    other = read_tool(server, {"name": "echo", "description": "says it back, and more"})
    assert definition_hash(one) == definition_hash(same) != definition_hash(other)


def test_au4_the_opt_in_is_checked_where_the_server_is_registered() -> None:
    base = {"id": "crm", "url": "https://crm.example/mcp"}
    assert from_config({**base, "audit_arguments": ["*"], "audit_redact": ["ssn"]}).audit_arguments == ("*",)
    for bad in (
        {"audit_arguments": "create_ticket"},
        {"audit_arguments": ["no spaces"]},
        {"audit_redact": [""]},
    ):
        with pytest.raises(RegistryError, match="audit_"):
            from_config({**base, **bad})
    server = from_config({**base, "audit_arguments": ["create_ticket"], "audit_redact": ["ssn"]})
    assert server.audited_arguments("close_ticket", {"a": 1}) is None
    assert server.audited_arguments("create_ticket", {"ssn": "x"}) == {"ssn": REDACTED}


def test_au4_tool_calls_are_catalogued_and_no_longer_planned() -> None:
    assert not CATALOGUE["tool_call"].planned and "tools_list" in CATALOGUE


def test_au4_the_round_trip_is_measured_on_the_monotonic_clock_and_the_actor_chain_kept() -> None:
    """Latency is the monotonic clock's, from forwarding to the answer; a delegated token's actors
    are the event's chain."""
    audit = RecordingAudit()
    ticks = iter([10.0, 10.25])
    claims = Claims.from_jwt(
        {"sub": "ann", "client_id": "desk", "aud": "https://gw/mcp", "jti": "j", "iat": 1, "exp": 2,
         "act": {"sub": "desk", "act": {"sub": "planner"}}}
    )  # fmt: skip
    record = CallAudit(audit, monotonic=lambda: next(ticks)).call(claims, "fake__echo", {"a": 1})
    record.forwarding()
    record.answered({"content": [], "isError": False})
    record.answered({"content": []})  # a call is recorded once
    [(event, outcome, fields)] = audit.made
    assert (event, outcome, fields["latency_ms"]) == ("tool_call", "forwarded", 250.0)
    assert fields["actor_chain"] == ["desk", "planner"] and fields["subject"] == "ann"
