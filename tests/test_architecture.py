"""The house's structure: no import cycles in `interp` and `probes`, the core never imports `probes`, and one
public API per package whose every name resolves and has a docstring.

What counts as an import (read statically with `ast`): every `import` statement of a module, at module level
*and* inside functions (a lazy import postpones a cycle, it does not remove the dependency), except those
under `if TYPE_CHECKING:` (never run); plus the package `__init__`s an import runs: importing
`interp.causal.hooks` from outside `interp.causal` runs `interp/causal/__init__.py`. A package with lazy exports
(`interp._util.lazy`) imports nothing when it runs; a name imported from it counts as an import of the module that
name comes from (its `TYPE_CHECKING` import there), since that module is imported when the name is first used.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("interp", "probes")
ROOF = ("interp.cli", "interp.commands", "interp.plots.report")  # the roof may import probes; nothing imports it


def _modules(root: Path, packages: tuple[str, ...]) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package) for every .py file under the packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")


def _lazy_sources(path: Path) -> dict[str, str]:
    """Public name -> source module of a package `__init__` with lazy exports; empty for any other module."""
    text = path.read_text(encoding="utf-8")
    if "lazy_exports(" not in text:
        return {}
    tree = ast.parse(text)
    blocks = [node for node in tree.body if _type_checking(node)]
    return {
        alias.name: node.module
        for block in blocks
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def _resolve(module: str, name: str, lazy: dict[str, dict[str, str]]) -> str:
    """The module `from module import name` really imports: through lazy packages to the name's source."""
    while name in lazy.get(module, {}):
        module = lazy[module][name]
    return module


def _imported(
    name: str, path: Path, is_package: bool, known: set[str], lazy: dict[str, dict[str, str]] | None = None
) -> set[str]:
    """The known modules that `name` imports anywhere outside `if TYPE_CHECKING:`, with the packages run."""
    lazy = lazy or {}
    here = name.split(".") if is_package else name.split(".")[:-1]
    targets: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if _type_checking(node):
            continue
        pending.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = here[: len(here) - node.level + 1] if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            targets.update(
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else _resolve(base, a.name, lazy) for a in node.names
            )
    packages_run = {
        package
        for target in targets
        for package in (".".join(target.split(".")[:k]) for k in range(1, target.count(".") + 1))
        if not (name == package or name.startswith(package + "."))
    }
    return {t for t in targets | packages_run if t in known and t != name}


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules it imports (see the module docstring for what counts)."""
    modules = _modules(root, packages)
    lazy = {name: _lazy_sources(path) for name, (path, is_pkg) in modules.items() if is_pkg}
    return {name: _imported(name, path, is_pkg, set(modules), lazy) for name, (path, is_pkg) in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that ends where it starts) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = stack[stack.index(v) :]
            del stack[stack.index(v) :]
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_path_through(graph, set(g), min(g)) for g in groups]


def _path_through(graph: dict[str, set[str]], group: set[str], start: str) -> list[str]:
    """A shortest cycle from `start` back to itself inside the group (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{start} is on no cycle")


def _own_docstring(obj: object) -> bool:
    """A docstring written for this object (not inherited, not the signature a dataclass makes up)."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    name = getattr(obj, "__name__", "")
    return bool(doc and doc.strip()) and not doc.startswith(f"{name}(")


def test_no_import_cycles():
    graph = import_graph()
    assert "interp.hooks.backend_torch" in graph["interp.hooks.backend"]  # an import inside a function counts
    assert "interp.hooks" in graph["interp.sweep.prefix"]  # so does the package __init__ an import runs
    assert "interp.models.handle" in graph["interp.hooks.capture"]  # and a lazy package's name, its source
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in found)


def test_the_walk_finds_lazy_cycles_and_cycles_through_a_package_init(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import x\n",
        "pkg/b.py": "def f():\n    from pkg import a\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import y\n",
        "pkg/d.py": "from .c import z\n",
        "pkg/sub/__init__.py": "from pkg.sub.e import e\n",
        "pkg/sub/e.py": "def e():\n    import pkg.g\n",
        "pkg/sub/h.py": "",
        "pkg/g.py": "from pkg.sub.h import h\n",
        "pkg/lazy/__init__.py": "if TYPE_CHECKING:\n    from pkg.lazy.m import m\nlazy_exports(__name__)\n",
        "pkg/lazy/m.py": "",
        "pkg/lazy/n.py": "",
        "pkg/k.py": "from pkg.lazy import m\nfrom pkg.lazy.n import n\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == {"pkg.c"} and graph["pkg.c"] == set()  # relative import read, TYPE_CHECKING not
    assert sorted(cycles(graph)) == [["pkg.a", "pkg.b", "pkg.a"], ["pkg.g", "pkg.sub", "pkg.sub.e", "pkg.g"]]
    assert graph["pkg.lazy"] == set() and graph["pkg.k"] == {"pkg.lazy", "pkg.lazy.m", "pkg.lazy.n"}


def test_the_core_never_imports_probes():
    graph = import_graph()

    def in_roof(module: str) -> bool:
        return any(module == r or module.startswith(r + ".") for r in ROOF)

    uses = {
        (m, t) for m, targets in graph.items() for t in targets if m.startswith("interp.") and t.startswith("probes")
    }
    assert any(in_roof(m) for m, _ in uses)  # the roof does (so the walk sees these imports)
    assert not sorted(f"{m} -> {t}" for m, t in uses if not in_roof(m))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_and_has_its_own_docstring(package):
    module = importlib.import_module(package)
    names = module.__all__
    assert len(set(names)) == len(names) >= 10
    undocumented = [name for name in names if not _own_docstring(getattr(module, name))]
    assert not undocumented, f"public names of {package} without a docstring: {undocumented}"


LAZY = ("interp", "interp.models", "interp.lexicons", "interp.render", "interp.score", "interp.store")


@pytest.mark.parametrize("package", LAZY)
def test_lazy_packages_export_exactly_their_type_checking_imports(package):
    from interp._util.lazy import sources

    module = importlib.import_module(package)
    names = sources(package)
    assert sorted(names) == sorted(module.__all__)
    assert set(module.__all__) <= set(dir(module))
    for name, source in names.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name)
    folder = ROOT.joinpath(*package.split("."))
    submodules = {p.stem for p in folder.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert not set(module.__all__) & submodules  # importing such a submodule would replace the name by it
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = module.nothing_here


def test_interp_holds_no_top_level_module_but_its_init_and_the_cli():
    modules = sorted(p.name for p in (ROOT / "interp").glob("*.py"))
    assert modules == ["__init__.py", "cli.py"], f"move {modules} into a subpackage by concept"
