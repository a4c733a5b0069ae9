"""The shape of the code, as rules a change cannot break unnoticed (see docs/architecture.md).

The gateway plays three roles (authorization server, protected resource, client of the upstream
tools) over a catalogue package that knows nothing of it. Each arrow of a tool call goes one way;
these tests read every module's imports (with ``ast``, nothing is executed) and fail when an
import runs back up the chain or closes a cycle. Imports made only for type checking
(``if TYPE_CHECKING:``) and imports inside functions (deliberate late imports) are not edges.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "tools_registry")
MAX_MODULE_LINES = 300
LONG_MODULES: dict[str, str] = {}
"""Modules allowed over the limit, each with the reason."""
SETTINGS_MODULES = ("gateway.config", "gateway.settings", "gateway.composition")
"""Where the settings are loaded, what they look like, and the wired gateway that carries them."""
COMPOSITION_ROOT = (
    "gateway.config",
    "gateway.config_tables",
    "gateway.builders",
    "gateway.settings",
    "gateway.composition",
    "gateway.app",
    "gateway.server",
    "gateway.cli",
    "gateway.oauth.routes",
    "gateway.resource.routes",
    "gateway.admin.routes",
    "gateway.console.routes",
)
"""The modules (and packages) that may read the settings: the composition root and the HTTP faces
it assembles. Every other part is handed the values it needs."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _is_type_checking_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _module_level_imports(tree: ast.Module) -> Iterator[str]:
    for node in tree.body:
        if _is_type_checking_block(node):
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _every_import(tree: ast.Module) -> Iterator[str]:
    """Every module named by an import anywhere in the module: type-only and late imports too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports when it is loaded."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[name] = {target for target in _module_level_imports(tree) if target in known} - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def imports_from(graph: dict[str, set[str]], importer: str, imported: str) -> list[str]:
    """``module -> target`` lines where a module under ``importer`` imports one under ``imported``."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _under(module, importer)
        for target in targets
        if _under(target, imported)
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_import_graph_has_no_cycle(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_the_tools_registry_never_imports_the_gateway(graph: dict[str, set[str]]) -> None:
    assert imports_from(graph, "tools_registry", "gateway") == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("gateway.upstream", "gateway.resource"),
        ("gateway.oauth", "gateway.resource"),
        ("gateway.oauth", "gateway.upstream"),
        ("gateway.store", "gateway.oauth"),
        ("gateway.fetching", "gateway.oauth"),
        ("gateway.resource", "gateway.admin"),
        ("gateway.upstream", "gateway.admin"),
        ("gateway.oauth", "gateway.admin"),
        ("gateway.webhooks", "gateway.oauth"),
        ("gateway.webhooks", "gateway.resource"),
        ("gateway.webhooks", "gateway.upstream"),
        ("gateway.webhooks", "gateway.admin"),
        ("gateway.fetching", "gateway.webhooks"),
        ("gateway.oauth", "gateway.console"),
        ("gateway.resource", "gateway.console"),
        ("gateway.upstream", "gateway.console"),
        ("gateway.approvals", "gateway.console"),
        ("gateway.admin", "gateway.console"),
        ("gateway.audit", "gateway.oauth"),
        ("gateway.audit", "gateway.resource"),
        ("gateway.audit", "gateway.upstream"),
        ("gateway.audit", "gateway.admin"),
        ("gateway.audit", "gateway.approvals"),
        ("gateway.audit", "gateway.webhooks"),
    ],
)
def test_no_role_reaches_back_up_the_chain(graph: dict[str, set[str]], importer: str, imported: str) -> None:
    """A tool call runs resource -> upstream -> authorization server (exchange) -> store; nothing
    below imports what sits above it. The operators' face (``gateway.admin``) reads all three
    roles, and none of them reads it. The webhooks (``gateway.webhooks``) read no role: a role that
    has news holds an ``Announcer``; the fetching gate they share knows nothing of them. The
    console (``gateway.console``) reads the approval desks and the sign-in, and nothing reads it.
    The audit trail (``gateway.audit``) is what every part records through: it reads none of them."""
    assert imports_from(graph, importer, imported) == []


def settings_readers(sources: Mapping[str, str]) -> list[str]:
    """``module -> settings module`` lines for every module (name -> source) outside the composition
    root that imports the settings, their loader or the wired gateway (whose ``settings`` it could
    read)."""
    found = []
    for name, source in sources.items():
        if any(_under(name, allowed) for allowed in COMPOSITION_ROOT):
            continue
        imported = set(_every_import(ast.parse(source)))
        found += [f"{name} -> {target}" for target in SETTINGS_MODULES if target in imported]
    return sorted(found)


def test_only_the_composition_root_reads_the_settings() -> None:
    """Parts under ``gateway/oauth``, ``gateway/resource``, ``gateway/upstream``, ``gateway/store`` and
    ``gateway/fetching`` (and the shared modules) receive values, never the settings."""
    assert settings_readers({name: path.read_text() for name, path in modules().items()}) == []


def test_the_settings_rule_sees_type_only_and_late_imports() -> None:
    """The rule above could not fail if the finder missed an import."""
    sources = {
        "gateway.oauth.clients.registration": "from gateway.settings import RegistrationSettings",
        "gateway.keys": "if TYPE_CHECKING:\n    from gateway.composition import Gateway",
        "gateway.upstream.refresher": "def f():\n    import gateway.config",
        "gateway.oauth.routes": "from gateway.settings import Settings",
        "gateway.cli.main": "from gateway.config import load_settings",
    }
    assert settings_readers(sources) == [
        "gateway.keys -> gateway.composition",
        "gateway.oauth.clients.registration -> gateway.settings",
        "gateway.upstream.refresher -> gateway.config",
    ]


def test_no_module_is_longer_than_the_limit_without_a_reason() -> None:
    long = {
        str(path.relative_to(REPO)): length
        for path in modules().values()
        if (length := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert {name: n for name, n in long.items() if name not in LONG_MODULES} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The rule above could not fail if this helper never found anything."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
