"""Published MiniWoB++ success per task (zoo/report/published_miniwob.yaml) and the means over
each published task set.

A system's published mean is over its own task set (CC-Net: 104 tasks, Pix2Act: 59, ...), so a
mean is only comparable when it is taken over exactly that set: ``set_mean`` gives the mean over
the given tasks only when every one of them has a value, else None with what is missing.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from zoo.web.suites import suite_names, suite_tasks

DATA = Path(__file__).resolve().parent / "published_miniwob.yaml"


@dataclass(frozen=True)
class PublishedSystem:
    key: str
    label: str
    set_size: int  # tasks in the system's own set
    mean: float  # the mean success it reports over that set
    suite: str | None  # our suite holding exactly that set, where there is one


@dataclass(frozen=True)
class PublishedTasks:
    source: str
    systems: tuple[PublishedSystem, ...]
    scores: dict[str, dict[str, float | None]]  # task -> system key -> success (None: not evaluated)

    def system(self, key: str) -> PublishedSystem:
        return next(s for s in self.systems if s.key == key)

    def values(self, key: str) -> dict[str, float]:
        """The tasks ``key`` was evaluated on, as transcribed here, and its success on each."""
        return {t: row[key] for t, row in self.scores.items() if row.get(key) is not None}

    def complete(self, key: str) -> bool:
        """Every task of the system's own set is transcribed."""
        return len(self.values(key)) == self.system(key).set_size


def set_mean(values: dict[str, float | None], tasks: list[str] | set[str]) -> tuple[float | None, list[str]]:
    """(mean of ``values`` over exactly ``tasks``, tasks without a value).  The mean is None unless
    every task has one: a mean over part of a set is not the set's mean."""
    missing = sorted(t for t in tasks if values.get(t) is None)
    if missing or not tasks:
        return None, missing
    return sum(float(values[t]) for t in tasks) / len(tasks), []  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def load(path: Path = DATA) -> PublishedTasks:
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert isinstance(raw, dict)
    columns = list(raw["columns"])
    systems = tuple(PublishedSystem(s["key"], s["label"], int(s["set_size"]), float(s["mean"]), s.get("suite"))
                    for s in raw["systems"])
    if [s.key for s in systems] != columns:
        raise ValueError(f"{path}: 'columns' {columns} must list the systems' keys in order")
    scores: dict[str, dict[str, float | None]] = {}
    for task, row in raw["tasks"].items():
        if len(row) != len(columns):
            raise ValueError(f"{path}: task {task} has {len(row)} values, expected {len(columns)}")
        scores[str(task)] = {k: (None if v is None else float(v)) for k, v in zip(columns, row)}
    return PublishedTasks(" ".join(str(raw["source"]).split()), systems, scores)


def _suite_tasks(name: str) -> list[str] | None:
    return suite_tasks(name) if name in suite_names() else None


def fmt_published(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}%"


def table_parts(tasks: list[str], ours: list[dict[str, float]], data: PublishedTasks | None = None
                ) -> tuple[list[str], dict[str, list[str]], list[list[str]]]:
    """What the per-task table adds beside our columns (``ours``: each entry's success rate per task).

    Returns (published column headers, published cells per task, summary rows).  Summary rows:
    for each published set we have a suite for, the mean over exactly that set -- ours where an
    entry was scored on every task of it, else how many of its tasks it was scored on -- beside
    the published means; then every system's own published mean and set size.
    """
    data = data or load()
    heads = [f"{s.label} [published]" for s in data.systems]
    cells = {t: [fmt_published(data.scores.get(t, {}).get(s.key)) for s in data.systems] for t in tasks}
    rows: list[list[str]] = []
    for suite in dict.fromkeys(s.suite for s in data.systems if s.suite):
        members = _suite_tasks(suite)
        if members is None:
            continue
        label = f"mean over {suite} ({len(members)} tasks)"
        row = [label]
        for rates in ours:
            mean, missing = set_mean(rates, members)
            row.append(fmt_published(mean, 1) if mean is not None
                       else f"scored on {len(members) - len(missing)}/{len(members)}")
        row += [fmt_published(s.mean, 1) if s.suite == suite else "-" for s in data.systems]
        rows.append(row)
    rows.append(["published mean over its own set"] + ["-"] * len(ours)
                + [f"{fmt_published(s.mean, 1)} ({s.set_size} tasks)" for s in data.systems])
    return heads, cells, rows
