"""Named task suites: ``configs/suite/<name>.yaml`` holds ``description`` and ``tasks``."""
from __future__ import annotations

from omegaconf import OmegaConf

from zoo.core.errors import unknown
from zoo.core.paths import CONFIG_DIR
from zoo.core.registry import family


def suite_names() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "suite").glob("*.yaml"))


def _suite_file(name: str):
    path = CONFIG_DIR / "suite" / f"{name}.yaml"
    if not path.is_file():
        raise unknown("suite", name, suite_names())
    return OmegaConf.load(path)


def suite_tasks(name: str) -> list[str]:
    return [str(t) for t in _suite_file(name).tasks]


def suite_description(name: str) -> str:
    """The suite file's ``description`` (for the published sets: where the list comes from)."""
    return " ".join(str(_suite_file(name).get("description", "") or "").split())


def resolve_tasks(suite: str, tasks: list[str] | None) -> list[str]:
    """Explicit ``tasks`` win over ``suite``; task names are checked against the task registry."""
    names = list(tasks) if tasks else suite_tasks(suite)
    registry = family("task")
    for task in names:
        registry.get(task)  # raises the one-line unknown-task error
    return names
