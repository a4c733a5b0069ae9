"""The rule book (``docs/security-rules.md``) and the code stay in step.

Comments, docstrings and test names cite security rules by id (``CO-3``, ``test_te5_…``); the book
is where a reader looks those ids up. These tests fail when an id is cited but not defined, when a
test is named after an undefined rule, when an id is defined twice, or when an entry has no body
or no source. They read files only: no network, no gateway.
"""

from __future__ import annotations

import ast
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "docs" / "security-rules.md"
SCANNED_DIRS = ("gateway", "tools_registry", "tests", "examples")
FAMILIES = (
    "AD",
    "AP",
    "AS",
    "AU",
    "CA",
    "CO",
    "IN",
    "KE",
    "OA",
    "PR",
    "RG",
    "RT",
    "RV",
    "SI",
    "TE",
    "TP",
    "TS",
    "UP",
    "WH",
)

_FAMILY = "|".join(FAMILIES)
CITED_ID = re.compile(rf"\b(?:{_FAMILY})-\d+\b")
ENTRY_HEADING = re.compile(rf"^### (?P<id>(?:{_FAMILY})-\d+) — (?P<title>\S.*)$")
LOOKS_LIKE_ENTRY = re.compile(rf"^#+\s*(?:{_FAMILY})-?\d+\b")
RULE_TEST_NAME = re.compile(rf"^test_(?P<family>{_FAMILY.lower()})(?P<number>\d+)_")
SOURCE_LINE = re.compile(r"^Source:\s*(?P<text>\S.*)$")
CITES_A_STANDARD = re.compile(r"RFC \d+|draft-|OAuth 2\.1|MCP|OpenID|NIST SP \d|ISO/IEC \d")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    title: str
    line: int
    body: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Book:
    rules: tuple[Rule, ...]
    malformed_headings: tuple[str, ...]
    """Headings that start with a rule id but not in the ``### ID — title`` shape (or an unclosed fence)."""

    @property
    def defined(self) -> frozenset[str]:
        return frozenset(rule.rule_id for rule in self.rules)


def parse_book(text: str) -> Book:
    """The entries of a rule book; headings inside fenced code blocks are examples, not entries."""
    rules: list[Rule] = []
    malformed: list[str] = []
    current: tuple[str, str, int] | None = None
    lines: list[str] = []
    in_fence = False

    def close() -> None:
        if current is not None:
            sources = tuple(m["text"] for m in map(SOURCE_LINE.match, lines) if m)
            body = "\n".join(line for line in lines if not SOURCE_LINE.match(line)).strip()
            rules.append(Rule(current[0], current[1], current[2], body, sources))

    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("#"):
            close()
            current, lines = None, []
            heading = ENTRY_HEADING.match(line)
            if heading:
                current = (heading["id"], heading["title"], number)
            elif LOOKS_LIKE_ENTRY.match(line):
                malformed.append(f"line {number}: {line}")
        elif current is not None:
            lines.append(line)
    close()
    if in_fence:
        malformed.append("a code fence (```) is never closed: every heading after it is hidden")
    return Book(tuple(rules), tuple(malformed))


def python_files(top: Iterable[str] = SCANNED_DIRS) -> list[Path]:
    this_file = Path(__file__).resolve()
    found = (path for name in top for path in sorted((ROOT / name).rglob("*.py")))
    return [path for path in found if path.resolve() != this_file]


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _where(path: Path, line: int) -> str:
    return f"{_shown(path)}:{line}"


def cited_ids(files: Iterable[Path]) -> dict[str, list[str]]:
    """Every rule id cited in ``files``, with where (``file:line``)."""
    cited: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for rule_id in CITED_ID.findall(line):
                cited[rule_id].append(_where(path, number))
    return dict(cited)


def rule_named_tests(files: Iterable[Path]) -> dict[str, list[str]]:
    """The rule each ``test_<family><n>_…`` function is named after, with where it is defined.

    ``ast.walk`` also reaches methods of (nested) test classes and functions nested in functions.
    """
    named: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                match = RULE_TEST_NAME.match(node.name)
                if match:
                    rule_id = f"{match['family'].upper()}-{int(match['number'])}"
                    named[rule_id].append(f"{_where(path, node.lineno)} {node.name}")
    return dict(named)


def undefined(used: Mapping[str, list[str]], book: Book) -> dict[str, list[str]]:
    return {rule_id: where for rule_id, where in sorted(used.items()) if rule_id not in book.defined}


def duplicated(book: Book) -> list[str]:
    counts = Counter(rule.rule_id for rule in book.rules)
    return sorted(rule_id for rule_id, count in counts.items() if count > 1)


def without_body(book: Book) -> list[str]:
    return [rule.rule_id for rule in book.rules if not rule.body]


def without_source(book: Book) -> list[str]:
    return [
        rule.rule_id
        for rule in book.rules
        if not rule.sources or not all(CITES_A_STANDARD.search(source) for source in rule.sources)
    ]


def _report(problems: Mapping[str, list[str]]) -> str:
    return "\n".join(f"  {rule_id}: {', '.join(where)}" for rule_id, where in problems.items())


def _book() -> Book:
    return parse_book(BOOK.read_text(encoding="utf-8"))


# -- the real book ---------------------------------------------------------------------------------


def test_the_rule_book_has_entries_in_the_machine_readable_shape() -> None:
    book = _book()
    assert book.rules, f"no '### <ID> — <title>' entries found in {_shown(BOOK)}"
    assert not book.malformed_headings, "headings that should read '### <ID> — <title>':\n" + "\n".join(
        book.malformed_headings
    )


def test_every_rule_has_a_body() -> None:
    assert without_body(_book()) == [], "entries without a description"


def test_every_rule_has_a_source() -> None:
    assert without_source(_book()) == [], "entries without a 'Source:' line citing an RFC, draft or MCP page"


def test_rule_ids_are_defined_once() -> None:
    assert duplicated(_book()) == [], "ids defined by more than one entry"


def test_every_rule_id_cited_in_code_and_tests_is_defined_in_the_rule_book() -> None:
    missing = undefined(cited_ids(python_files()), _book())
    assert not missing, f"rule ids cited in the code but not defined in {_shown(BOOK)}:\n{_report(missing)}"


def test_every_test_named_after_a_rule_names_a_defined_rule() -> None:
    missing = undefined(rule_named_tests(python_files(["tests"])), _book())
    assert not missing, f"tests named after rules not defined in {_shown(BOOK)}:\n{_report(missing)}"


# -- the checks themselves, on a book written here -------------------------------------------------

SAMPLE = """\
# Sample

```
### CO-3 — an example inside a code block, not an entry
```

### CO-3 — Codes are single-use
A second valid redemption revokes what the first one issued.

Source: RFC 6749 §10.5.

### CO-4 — Exact redirect URIs
Exact matching.

### CO-4 — Defined again
Twice.

Source: RFC 9700 §4.1.3.

### RT-1 — No body

Source: RFC 9700 §4.14.2.

### TE-5: wrong separator

```
### TE-6 — hidden by a fence that is never closed
"""


CODE = '''"""Cites CO-3 and TE-5."""


def test_te5_named_after_an_undefined_rule() -> None: ...


class TestOuter:
    class TestInner:
        def test_rt1_in_a_nested_class(self) -> None: ...

    async def test_co7_async_method(self) -> None: ...
'''


def test_the_checks_notice_missing_duplicated_and_incomplete_entries(tmp_path: Path) -> None:
    book = parse_book(SAMPLE)
    assert [rule.rule_id for rule in book.rules] == ["CO-3", "CO-4", "CO-4", "RT-1"]
    assert book.malformed_headings[0] == "line 24: ### TE-5: wrong separator"
    assert "never closed" in book.malformed_headings[1]
    assert duplicated(book) == ["CO-4"]
    assert without_body(book) == ["RT-1"]
    assert without_source(book) == ["CO-4"]

    module = tmp_path / "test_module.py"
    module.write_text(CODE, encoding="utf-8")
    assert undefined(cited_ids([module]), book) == {"TE-5": [f"{module}:1"]}
    named = rule_named_tests([module])
    assert sorted(named) == ["CO-7", "RT-1", "TE-5"]
    assert sorted(undefined(named, book)) == ["CO-7", "TE-5"]
