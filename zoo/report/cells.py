"""Cells of a comparison matrix (runs made by ``zoo compare``, grouped by matrix, label and strategy) and
what the report reads from each run's budget.json: label, matrix, demonstrations, suites, seed, and the score
of each split (trained, held-out zero-shot, few-shot k)."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from zoo.report.gather import Run, Scored

SPLITS = ("train", "heldout")
SPLIT_TITLE = {"train": "training split", "heldout": "held-out split (zero-shot)"}


def cell_label(run: Run) -> str:
    budget = run.budget or {}
    return str(budget.get("cell") or run.path.name.rsplit("-s", 1)[0])


def matrix_of(run: Run) -> str:
    """The matrix a run belongs to: ``<run_root>/<matrix>/<strategy>/<cell>-s<seed>``."""
    return run.path.parent.parent.name


def partner_of(run: Run) -> str:
    """The matrix the run's matrix names as the other half of its comparison (``pairs_with`` in its
    ``matrix.json``, else in the run's own ``budget.json``: a matrix whose seeds are not all scored yet has no
    matrix.json), "" when it names none."""
    return _partner(run.path.parent.parent / "matrix.json") or str((run.budget or {}).get("pairs_with") or "")


@functools.lru_cache(maxsize=None)
def _partner(path: Path) -> str:
    try:
        spec = json.loads(path.read_text()).get("spec") or {}
    except (OSError, ValueError):
        return ""
    return str(spec.get("pairs_with") or "")


def demos_of(run: Run) -> int | None:
    n = (run.budget or {}).get("demos_per_task")
    return int(n) if isinstance(n, int) else None


def budget_key(run: Run) -> tuple:
    budget = run.budget or {}
    return (budget.get("demos_per_task"), budget.get("env_steps_budget"))


def suites_of(run: Run) -> tuple[str, str]:
    """(training suite, held-out suite) of a compare run: rates on different suites are not one curve."""
    budget = run.budget or {}
    return (str(budget.get("train_suite", "-")), str(budget.get("heldout_suite", "-")))


def series_of(label: str, demos: int | None) -> str:
    """``xl-d3`` at 3 demonstrations is series ``xl``; any other label is its own series."""
    m = re.search(r"-d(\d+)$", label)
    return label[:m.start()] if m and demos is not None and int(m.group(1)) == demos else label


def settings_of(run: Run) -> tuple[str, ...]:
    """The cell's own settings: the matrix's and the cell's overrides (``budget.json``'s ``settings``) and the
    env-step budget.  Cells of one series that differ here (cpu-scale-xl's ``xl`` and cpu-scale-actions-xl's,
    key presses off and on) are not points of one curve.  Runs recorded before ``settings`` was written carry
    them only inside ``overrides``, where ``zoo.compare.cell_overrides`` put them: between the suites it sets
    (ending ``eval.tasks=null``) and the run's seed."""
    budget = run.budget or {}
    if isinstance(budget.get("settings"), list):
        own = [str(o) for o in budget["settings"]]
    else:
        given = [str(o) for o in budget.get("overrides") or []]
        start = given.index("eval.tasks=null") + 1 if "eval.tasks=null" in given else 0
        own = given[start:next((i for i in range(start, len(given)) if given[i].startswith("seed=")), len(given))]
    return (*sorted(own), f"env_steps={budget.get('env_steps_budget')}")


def scored_at(runs: list[Run]) -> str:
    """When the runs' latest training-split score was made (the results' ISO ``created`` stamp; "" if none)."""
    return max((str(r.scored.results.get("created", "")) for r in runs if r.scored is not None), default="")


def seed_of(run: Run) -> int | None:
    budget = run.budget or {}
    return int(budget["seed"]) if isinstance(budget.get("seed"), int) else None


def split_score(run: Run, split: str) -> Scored | None:
    if split.startswith("fewshot-k"):
        return run.fewshot.get(int(split[len("fewshot-k"):]))
    return run.scored if split == "train" else run.heldout


def split_title(split: str) -> str:
    if split.startswith("fewshot-k"):
        return f"held-out split, few-shot (k={split[len('fewshot-k'):]} demonstrations per task)"
    return SPLIT_TITLE[split]


@dataclass
class CellStats:
    label: str
    strategy: str
    runs: list[Run]

    def rates(self, split: str) -> list[float]:
        out = []
        for r in self.runs:
            s = split_score(r, split)
            if s is not None and s.episodes:
                out.append(s.rate)
        return out

    def fewshot_rates(self, k: int) -> list[float]:
        return [r.fewshot[k].rate for r in self.runs if k in r.fewshot and r.fewshot[k].episodes]


def cells_of(runs: list[Run]) -> list[CellStats]:
    """One cell per (matrix, label, strategy); a label used by several matrices is shown as ``matrix/label``."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for r in runs:
        if r.budget is not None:
            groups.setdefault((cell_label(r), matrix_of(r), r.strategy), []).append(r)
    matrices: dict[str, set[str]] = {}
    for label, matrix, _ in groups:
        matrices.setdefault(label, set()).add(matrix)
    cells = [CellStats(f"{matrix}/{label}" if len(matrices[label]) > 1 else label, strategy,
                       sorted(rs, key=lambda r: seed_of(r) or 0))
             for (label, matrix, strategy), rs in groups.items()]
    return sorted(cells, key=lambda c: (c.label, c.strategy))
