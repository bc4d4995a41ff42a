"""The layers point one way (docs/architecture.md): importing a layer in a fresh interpreter loads nothing
from a layer above it, and the project's modules have no import cycle."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "components", "strategies")

APP = ("zoo.cli", "zoo.config", "zoo.fitting", "zoo.search", "zoo.search_results", "zoo.search_space", "zoo.report")
# layer -> what importing it may never load
FORBIDDEN = {
    "zoo.core": ("components", "zoo.web", "zoo.train", "strategies", *APP),
    "zoo.schema": ("components", "zoo.web", "zoo.train", "strategies", *APP),
    "components": ("zoo.web", "zoo.train", "strategies", *APP),
    "zoo.web": ("components", "zoo.train", "strategies", *APP),
    "zoo.train": ("strategies", *APP),
    "strategies": APP,
    "strategies.compressive_rl.fit": APP,
}


def loaded_modules(module: str) -> list[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_loads_nothing_above_it(layer):
    loaded = loaded_modules(layer)
    above = [m for m in loaded for f in FORBIDDEN[layer] if m == f or m.startswith(f + ".")]
    assert not above, f"importing {layer} loaded higher-layer modules: {above}"


# ---------------------------------------------------------------- import cycles
def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (module level or inside functions)."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name if is_pkg else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:  # `from pkg import name`: name may be a module or an attribute
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):  # a module importing its own package is no cycle
                out.add(t)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (cycle := visit(m)):
                return cycle
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            return cycle
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_project_modules():
    mods = project_modules()
    known = set(mods)
    # A package's __init__ that imports its sub-packages to register them is the registration mechanism, not
    # a dependency of theirs: edges *into* a package __init__ from its own sub-modules are dropped above.
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)



# ---------------------------------------------------------------- imports inside functions
LAZY_WORDS = ("lazy", "start-up")


def unexplained_function_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: statement`` of each import of a project module inside a function whose lines carry no
    comment saying why it is there (the comment must contain "lazy" or "start-up")."""
    source = path.read_text()
    lines = source.splitlines()
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in child.names] if isinstance(child, ast.Import) else [child.module or ""]
                ours = getattr(child, "level", 0) > 0 or any(n.split(".")[0] in PACKAGES for n in names)
                text = " ".join(lines[child.lineno - 1:child.end_lineno])
                if ours and not any(w in text.partition("#")[2] for w in LAZY_WORDS):
                    found.append(f"{path.relative_to(root)}:{child.lineno}: {text.strip()}")
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(source, str(path)), False)
    return found


def test_the_function_import_finder_flags_only_unexplained_project_imports(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from zoo.core.errors import unknown\n\n\n"
        "def f():\n"
        "    import json\n"
        "    from zoo.core.errors import ZooError\n"
        "    from zoo.web.bench import evaluate  # lazy: torchmetrics\n"
        "    from . import sibling\n"
        "    return json, ZooError, evaluate, sibling\n")
    found = unexplained_function_imports(planted, root=tmp_path)
    assert found == ["planted.py:6: from zoo.core.errors import ZooError", "planted.py:8: from . import sibling"]


def test_project_imports_inside_functions_say_why():
    """Our modules are imported at module level, unless the import keeps start-up light (lightning, torchmetrics,
    playwright, matplotlib, optuna, transformers, timm off a path `zoo --help`, `zoo list`, `zoo config` or a
    light module should not pay for) or hands a plug-in over; such an import says so on its line."""
    found = [hit for path in sorted(project_modules().values()) for hit in unexplained_function_imports(path)]
    assert not found, "imports inside functions without a 'lazy:' / 'start-up' comment:\n" + "\n".join(found)
