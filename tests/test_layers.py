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
