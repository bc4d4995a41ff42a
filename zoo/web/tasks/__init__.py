"""Web tasks: every MiniWoB++ page shipped by the ``miniwob`` package plus our own multi-page
tasks (``zoo/web/tasks/mp-*/``), registered by name in ``family("task")``.  Their scripted oracles
live beside them in this package (``oracle.py`` holds the registry and shared helpers).

All task files are served to the browser on one fake origin (``ORIGIN``) by request routing, so
page URLs look like ``http://actionzoo.local/miniwob/click-test.html`` and
``http://actionzoo.local/zoo/mp-search-open/index.html``; no port is ever opened.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from zoo.core.errors import ZooError
from zoo.core.registry import family
from zoo.web.tasks.oracle import ORACLES

ORIGIN = "http://actionzoo.local/"
ZOO_TASK_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class TaskSpec:
    """name: registry name.  source: "miniwob" | "zoo".  path: start page, relative to ORIGIN.
    multipage: pages navigate to other pages (the env reloads the start page on every reset).
    """

    name: str
    source: str
    path: str
    multipage: bool = False
    description: str = ""

    @property
    def url(self) -> str:
        return ORIGIN + self.path


@lru_cache(maxsize=1)
def miniwob_html_dir() -> Path | None:
    """site-packages/miniwob/html, found without importing miniwob (its import registers gym envs)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        return None
    html = Path(list(spec.submodule_search_locations)[0]) / "html"
    return html if (html / "miniwob").is_dir() else None


def site_roots() -> dict[str, Path]:
    """First URL path segment -> directory served for it."""
    roots: dict[str, Path] = {"zoo": ZOO_TASK_DIR}
    html = miniwob_html_dir()
    if html is not None:
        for sub in html.iterdir():
            if sub.is_dir():
                roots.setdefault(sub.name, sub)
    return roots


def miniwob_task_names() -> list[str]:
    html = miniwob_html_dir()
    return sorted(p.stem for p in (html / "miniwob").glob("*.html")) if html else []


def zoo_task_names() -> list[str]:
    return sorted(p.name for p in ZOO_TASK_DIR.glob("mp-*") if (p / "index.html").is_file())


def _title(path: Path) -> str:
    m = re.search(r"<title>(.*?)</title>", path.read_text(errors="replace"), re.S)
    return " ".join(m.group(1).split()) if m else ""


def load_oracles() -> None:
    """Import every oracle module of this package (``miniwob_*.py``, ``multipage.py``): a new file there
    registers its oracles without being listed anywhere."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        if info.name.startswith("miniwob_") or info.name == "multipage":
            importlib.import_module(f"{__name__}.{info.name}")


def _register_all() -> None:
    load_oracles()
    registry = family("task")
    for name in miniwob_task_names():
        spec = TaskSpec(name, "miniwob", f"miniwob/{name}.html")
        doc = f"MiniWoB++ {name}" + (" (oracle)" if name in ORACLES else "")
        registry.register(name, doc=doc)(lambda spec=spec: spec)
    for name in zoo_task_names():
        index = ZOO_TASK_DIR / name / "index.html"
        spec = TaskSpec(name, "zoo", f"zoo/{name}/index.html", multipage=True, description=_title(index))
        doc = f"multi-page: {spec.description}" + (" (oracle)" if name in ORACLES else "")
        registry.register(name, doc=doc)(lambda spec=spec: spec)


def get_task(task: str | TaskSpec) -> TaskSpec:
    """A TaskSpec from a registered name (one-line error listing valid names) or a TaskSpec."""
    if isinstance(task, TaskSpec):
        return task
    if not isinstance(task, str):
        raise ZooError(f"a task must be a task name, got {type(task).__name__}")
    return family("task").get(task)()
