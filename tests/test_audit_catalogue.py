"""AU-1: every event type the code records is in the catalogue, and the catalogue records nothing the
code does not (but what it marks planned); ``docs/audit.md`` shows the catalogue as it is; no call
hands the audit log a field that names a secret.

The code is read, not run (``ast``): every ``record``/``durable`` call on an audit log, every
``new_event`` call on an event maker, and every announcement of the approval loop's ``Events``
(``of_request("access.approved", …)`` is recorded as ``access_approved``). A call whose type is not
a literal is allowed only in :data:`FORWARDERS`, the places that pass a type on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.catalogue import CATALOGUE, OCSF_CLASSES, markdown_table
from gateway.audit.events import SECRET_FIELDS

ROOT = Path(__file__).resolve().parent.parent
RECORDING = {"record", "durable", "new_event"}
ANNOUNCING = {"of_request", "of_grant", "of_call"}
FORWARDERS = {
    ("gateway/approvals/events.py", "of_request"),
    ("gateway/approvals/events.py", "of_grant"),
    ("gateway/approvals/events.py", "of_call"),
    ("gateway/audit/log.py", "_made"),
}
"""(module, function) that pass on a type their caller named; their callers are read instead."""


@dataclass(frozen=True)
class Use:
    where: str
    event_type: str | None
    """None: not a literal."""
    fields: tuple[str, ...]


def _receiver(call: ast.Call) -> str:
    assert isinstance(call.func, ast.Attribute)
    return ast.unparse(call.func.value).lower()


def uses(path: Path) -> Iterator[tuple[str, Use]]:
    """(enclosing function, use) for every audit call of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    shown = path.relative_to(ROOT).as_posix()
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            if not isinstance(call.func, ast.Attribute) or not call.args:
                continue
            method, receiver, first = call.func.attr, _receiver(call), call.args[0]
            literal = (
                first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            )
            if method in RECORDING and ("audit" in receiver or "maker" in receiver):
                named = tuple(k.arg for k in call.keywords if k.arg is not None)
                yield function.name, Use(f"{shown}:{call.lineno}", literal, named)
            elif method in ANNOUNCING and receiver.endswith("events"):
                mapped = literal.replace(".", "_") if literal is not None else None
                yield function.name, Use(f"{shown}:{call.lineno}", mapped, ())


def every_use() -> list[Use]:
    found, forwarded = [], set()
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        for function, use in uses(path):
            if use.event_type is None and (path.relative_to(ROOT).as_posix(), function) in FORWARDERS:
                forwarded.add(function)
                continue
            found.append(use)
    assert forwarded == {name for _, name in FORWARDERS}, "a forwarder the scan no longer sees"
    return found


def test_au1_every_call_names_its_event_type_literally() -> None:
    assert [use.where for use in every_use() if use.event_type is None] == []


def test_au1_every_event_type_in_use_is_catalogued_and_every_catalogued_type_is_used() -> None:
    used = {use.event_type for use in every_use()}
    assert used - set(CATALOGUE) == set(), "types recorded but not in gateway/audit/catalogue.py"
    unused = {name for name, entry in CATALOGUE.items() if not entry.planned} - used
    assert unused == set(), "types in the catalogue nobody records (mark them planned, or remove them)"
    assert {name for name, entry in CATALOGUE.items() if entry.planned} & used == set()


def test_au1_no_call_hands_the_audit_log_a_field_named_for_a_secret() -> None:
    offending = [(use.where, name) for use in every_use() for name in use.fields if name in SECRET_FIELDS]
    assert offending == []


def test_au1_the_scan_sees_calls_of_every_shape() -> None:
    """The rules above could not fail if the scan missed a call."""
    used = {use.event_type for use in every_use()}
    assert {"token_issued", "access_approved", "call_passed", "grant_reviewed", "audit_signing_key"} <= used


def test_au1_every_type_has_a_meaning_and_a_known_ocsf_class() -> None:
    for entry in CATALOGUE.values():
        assert entry.meaning and entry.ocsf_class in OCSF_CLASSES, entry.name


def test_au1_the_documented_catalogue_is_the_catalogue() -> None:
    document = (ROOT / "docs" / "audit.md").read_text(encoding="utf-8")
    assert markdown_table() in document, "docs/audit.md: paste `python -m gateway.audit.catalogue`"
