"""Architecture kept by tests (issue 27): no import circle, no package importing the CLI package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("reconstruct", "experiment", "analysis", "loadbot", "tuneback", "tuneback_core")
PACKAGES = ("reconstruct", "experiment", "analysis", "loadbot", "tuneback_core")


def module_name(path: Path) -> str:
    """Dotted module name of a file under ROOT (a package's __init__ is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules among `modules` that `path` imports anywhere (top level or inside a function)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me:
                found.add(name)
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node, leaving out `if TYPE_CHECKING:` blocks (annotations only: never imported at run time)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None) if isinstance(child, ast.If) else None
            if test is not None and "TYPE_CHECKING" in ast.unparse(test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> modules it imports, over the given top-level packages."""
    files = [p for pkg in packages for p in (ROOT / pkg).rglob("*.py")]
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    found = circles(import_graph(tuple(p for p in CHECKED if (ROOT / p).is_dir())))
    assert found == [], f"import circles: {found}"


def test_no_package_imports_the_cli_package():
    offenders = {m: sorted(i for i in deps if i.split(".")[0] == "tuneback")
                 for m, deps in import_graph(PACKAGES + ("tuneback",)).items() if m.split(".")[0] in PACKAGES}
    assert {m: d for m, d in offenders.items() if d} == {}


def package_graph() -> dict[str, set[str]]:
    """package -> the other packages its modules import."""
    out: dict[str, set[str]] = {}
    for module, deps in import_graph(PACKAGES + ("tuneback",)).items():
        mine = module.split(".")[0]
        out.setdefault(mine, set()).update(d.split(".")[0] for d in deps if d.split(".")[0] != mine)
    return out


def test_loadbot_talks_to_the_study_over_http_only():
    """The simulated listeners are a client of the web app: loadbot imports nothing of experiment (no circle)."""
    assert package_graph()["loadbot"] <= {"tuneback_core"}


KNOWN_TWO_WAY = {frozenset({"analysis", "experiment"})}
"""analysis reads the study's tables through experiment.tidy/provenance, and the admin panel shows
analysis.report: no module circle, but the two packages lean on each other (issue 27's note says so)."""


def test_no_circle_between_packages_beyond_the_known_one():
    graph = package_graph()
    two_way = {frozenset({a, b}) for a, deps in graph.items() for b in deps if a in graph.get(b, set())}
    assert two_way <= KNOWN_TWO_WAY, f"packages importing each other: {sorted(map(sorted, two_way - KNOWN_TWO_WAY))}"


def test_evaluation_reads_a_finished_run_without_the_stages():
    """Evaluation reads the stage records (reconstruct.stages) and the run (RunDir), never pipeline's internals."""
    graph = import_graph(("reconstruct",))
    offenders = sorted(m for m, deps in graph.items()
                       if m.startswith("reconstruct.evaluation") and "reconstruct.pipeline" in deps)
    assert offenders == []
