"""The package's import structure: no cycles, and every import runs down the layer order.

The graph is read from the source with :mod:`ast` (every ``import`` and ``from ... import``,
function-level ones included, relative ones resolved), over ``audit_function/``, ``rules/`` and
``reports/``. A module belongs to a stage: ``audit_function.<stage>.*`` for a stage subpackage,
``rules`` and ``reports`` for the top-level packages, and ``base`` for the flat modules of
``audit_function/`` (vocabulary, errors, quoting, depth, permissions, ...) that every stage may use.
docs/architecture.md draws the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit_function", "rules", "reports")

#: lowest first: a module may import its own stage and the stages before it, never a later one
LAYERS = (
    "base",        # audit_function/*.py: vocabulary, errors, quoting, depth, permissions, yaml_loader, observability
    "estate",      # the estate model (parsed rows)
    "snapshot",    # snapshot directory -> estate model
    "collect",     # Azure -> snapshot tables (writes the snapshot format, applies the loader's scope tests)
    "access",      # effective access per vault (bitmasks)
    "rules",       # rules/: pure functions -> findings
    "migration",   # access-policy -> RBAC migration plans (uses rule helpers)
    "engine",      # runs the rules (and the planner) per vault; the findings store
    "report",      # the report document
    "history",     # suppressions, the previous report, week over week
    "reports",     # reports/: writers (document -> bytes)
    "sinks",       # bytes -> local folder, Blob Storage, Log Analytics
    "tickets",     # findings -> tracker tickets (GitHub, Azure DevOps)
    "pipeline",    # one audit run end to end
    "explain",     # kv-audit explain: one principal's access to one vault, explained
    "function",    # the Azure Function's side (app settings)
    "cli",         # the kv-audit command line
)
#: folders of audit_function/ that hold data, not a stage (they count as base)
DATA = ("data",)


# ------------------------------------------------------------------------------------------------
# The graph


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def imports_of(name: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The known modules ``source`` (module ``name``) imports, wherever the import statement stands."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known]
            targets = subs if subs and len(subs) == len(node.names) else [module, *subs]
        for target in targets:
            while target and target not in known:   # `import a.b.c` where only a.b is a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {name: imports_of(name, path.read_text(encoding="utf-8"), known, path.name == "__init__.py")
            for name, path in mods.items()}


def stage_of(module: str, root: Path = ROOT) -> str:
    parts = module.split(".")
    if parts[0] in ("rules", "reports"):
        return parts[0]
    if len(parts) >= 2 and (root / "audit_function" / parts[1]).is_dir():
        return "base" if parts[1] in DATA else parts[1]
    return "base"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (or a node importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:   # Tarjan's algorithm, iterative over the successors
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[current] = min(low[current], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == index[current]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == current:
                        break
                if len(component) > 1 or current in graph.get(current, ()):
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def stage_graph(graph: dict[str, set[str]], stage=stage_of) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        out.setdefault(stage(source), set())
        for target in targets:
            if stage(target) != stage(source):
                out[stage(source)].add(stage(target))
    return out


def against_layers(graph: dict[str, set[str]], layers=LAYERS, stage=stage_of) -> list[str]:
    rank = {name: i for i, name in enumerate(layers)}
    wrong = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = stage(source), stage(target)
            if a in rank and b in rank and rank[b] > rank[a]:
                wrong.append(f"{source} ({a}) imports {target} ({b}), a later stage")
    return wrong


# ------------------------------------------------------------------------------------------------
# The package as it is


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_is_read(graph):
    # a parser that read nothing would pass every check below
    assert len(graph) > 100
    assert "audit_function.vocabulary" in graph["rules.base"]
    assert "audit_function.engine.parallel" in graph["audit_function.engine.evaluate"]   # a function-level import


def test_every_stage_is_declared(graph):
    undeclared = sorted({stage_of(m) for m in graph} - set(LAYERS))
    assert not undeclared, f"stage package(s) {undeclared}: add them to LAYERS (and docs/architecture.md)"


def test_no_file_cycle(graph):
    assert cycles(graph) == []


def test_no_package_cycle(graph):
    assert cycles(stage_graph(graph)) == []


def test_imports_follow_the_layer_order(graph):
    assert against_layers(graph) == []


def test_the_shared_vocabulary_imports_no_stage(graph):
    assert {stage_of(m) for m in graph["audit_function.vocabulary"]} <= {"base"}


# ------------------------------------------------------------------------------------------------
# The checks can fail


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_package_cycle_is_found_through_different_files():
    graph = {"audit_function.engine.run": {"rules.one"}, "rules.two": {"audit_function.engine.store"},
             "rules.one": set(), "audit_function.engine.store": set()}

    def stage(module: str) -> str:
        return module.split(".")[1] if module.startswith("audit_function.") else module.split(".")[0]

    assert cycles(graph) == []                                  # no file cycle ...
    assert cycles(stage_graph(graph, stage)) == [["engine", "rules"]]   # ... but a package cycle


def test_an_import_against_the_order_is_found():
    graph = {"rules.base": {"audit_function.cli.main"}, "audit_function.cli.main": {"rules.base"}}
    wrong = against_layers(graph)
    assert wrong == ["rules.base (rules) imports audit_function.cli.main (cli), a later stage"]


def test_function_level_and_relative_imports_are_read():
    known = {"pkg", "pkg.low", "pkg.high", "pkg.sub", "pkg.sub.leaf"}
    source = "import os\n\ndef late():\n    from pkg import high\n    return high\n\nfrom .sub import leaf\nfrom . import low\n"
    assert imports_of("pkg.mid", source, known) == {"pkg.high", "pkg.sub.leaf", "pkg.low"}
    assert imports_of("pkg.sub", "from ..low import x\nimport pkg.sub.leaf.deeper\n", known, is_package=True) \
        == {"pkg.low", "pkg.sub.leaf"}


def test_the_runtime_packages_never_import_tools_benchmarks_tests_or_the_function_app():
    """``tools/`` (the demo generator), ``bench/``, ``tests/`` and ``function_app.py`` sit above every
    stage: the packages that ship may not depend on them (function-level imports included)."""
    outside = ("tools", "bench", "tests", "function_app")
    wrong = []
    for name, path in modules(ROOT).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            wrong += [f"{name} imports {t}" for t in targets if t.split(".")[0] in outside]
    assert wrong == []
