"""``zoo compare config=configs/compare/<name>.yaml``: the comparison matrix, every cell an ordinary run.

A matrix file names a training split and a held-out split (suites), the seeds, the shared budget (recorded
demonstrations per training task and training env steps, translated into each strategy's own settings by its
registered ``budget`` hook) and the cells (a strategy, its variant overrides).  For every cell x seed:

1. ``fit_run`` trains it on the training split and scores it there (``<run>/results.json``), the run directory
   being ``<run_root>/<matrix>/<strategy>/<cell>-s<seed>/``;
2. its final checkpoint is scored zero-shot on the held-out split through the strategy's own scoring hook
   (``<run>/heldout/results.json``);
3. ``budget.json`` records what the run was given and used: parameters, demonstrations, env steps, wall time.

Re-running the command after a kill skips finished cells, resumes a half-trained one from its checkpoint
and scores what was trained but not scored.  ``zoo report runs=<run_root>/<matrix>`` compares the cells.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from zoo.config import load_plugins, load_yaml
from zoo.core.errors import ZooError, did_you_mean
from zoo.core.io import atomic_write_json
from zoo.schema.checks import at_least, check_values

BUDGET_FILE = "budget.json"
HELDOUT_DIR = "heldout"


@dataclass
class Cell:
    """label: names the cell's runs (``<label>-s<seed>``).  strategy: a registered name or alias.
    overrides: key=value settings of this cell (e.g. ``model.attention=infini``)."""

    label: str = ""
    strategy: str = ""
    overrides: list[str] = field(default_factory=list)


@dataclass
class Matrix:
    """train_suite / heldout_suite: the splits.  seeds: training seeds (cells are paired by seed).
    demos_per_task: recorded oracle demonstrations per training task, the same for every strategy.
    env_steps: training env steps each strategy may take.  overrides: settings of every cell (e.g. episodes).
    """

    description: str = ""
    train_suite: str = ""
    heldout_suite: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    demos_per_task: int = field(default=4, metadata=at_least(0))
    env_steps: int = field(default=2000, metadata=at_least(1))
    overrides: list[str] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)


def load_matrix(path: str | Path) -> tuple[str, Any]:
    """(matrix name, typed matrix) from a YAML file; every problem one line."""
    from zoo.web.suites import suite_names

    p = Path(path)
    raw = load_yaml(p, "comparison matrix")
    schema = OmegaConf.structured(Matrix)
    keys = [str(k) for k in schema.keys()]
    for k in raw.keys():
        if str(k) not in keys:
            raise ZooError(f"unknown key '{k}' in {p}{did_you_mean(str(k), keys)}; valid keys: {', '.join(keys)}")
    try:
        matrix = OmegaConf.merge(schema, raw)
    except Exception as err:  # noqa: BLE001 - any type error of the file becomes one line
        raise ZooError(f"bad comparison matrix {p}: {str(err).splitlines()[0]}") from None
    check_values(Matrix, matrix)
    for key in ("train_suite", "heldout_suite"):
        if matrix[key] not in suite_names():
            from zoo.core.errors import unknown

            raise unknown(f"value for '{key}' in {p}", matrix[key], suite_names())
    if not matrix.cells:
        raise ZooError(f"bad comparison matrix {p}: 'cells' must list at least one cell")
    labels = [c.label for c in matrix.cells]
    if any(not lab for lab in labels) or len(set(labels)) != len(labels):
        raise ZooError(f"bad comparison matrix {p}: every cell needs its own non-empty label (got {labels})")
    if not matrix.seeds:
        raise ZooError(f"bad comparison matrix {p}: 'seeds' must list at least one seed")
    return p.stem, matrix


@dataclass
class Job:
    cell: Any
    seed: int
    strategy: str

    @property
    def name(self) -> str:
        return f"{self.cell.label}-s{self.seed}"


def cell_overrides(matrix: Any, job: Job, root: Path) -> list[str]:
    """The cell's ``zoo fit`` overrides, the shared budget translated by the strategy's own hook."""
    from zoo.config import compose
    from zoo.train.plugin import get_strategy

    base = [f"strategy={job.strategy}", f"env.suite={matrix.train_suite}", "env.tasks=[]", "eval.suite=",
            "eval.tasks=null", *matrix.overrides, *job.cell.overrides, f"seed={job.seed}", f"name={job.name}",
            f"run_root={root}", "trainer.progress=false"]
    spec = get_strategy(job.strategy)
    if spec.budget is None:
        return base
    return base + spec.budget(compose(base), int(matrix.demos_per_task), int(matrix.env_steps))


def run_params(run_dir: Path) -> int | None:
    from zoo.core.checkpoints import load_checkpoint
    from zoo.train.runs import last_checkpoint

    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        return None
    state = load_checkpoint(ckpt).get("state_dict", {})
    return int(sum(v.numel() for v in state.values() if hasattr(v, "numel") and v.is_floating_point()))


def final_checkpoint(results: dict, run_dir: Path) -> Path:
    from zoo.train.runs import last_checkpoint

    for holder in (results, results.get("run") or {}):
        if isinstance(holder, dict) and holder.get("checkpoint"):
            return Path(holder["checkpoint"])
    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        raise ZooError(f"{run_dir}: trained but no checkpoint to score on the held-out split")
    return ckpt


def env_steps_used(run_dir: Path) -> float | None:
    from zoo.report.gather import learning_curve

    curve = learning_curve(run_dir, OmegaConf.load(run_dir / "config.yaml"))
    steps = [p["env_steps"] for p in curve if p.get("env_steps") is not None]
    return steps[-1] if steps else None


def run_job(matrix: Any, job: Job, root: Path, log: Any) -> dict:
    """Train, score and record one cell x seed, continuing whatever an earlier attempt finished."""
    from zoo.fitting import fit_run
    from zoo.train.plugin import get_strategy
    from zoo.train.scoring import scoring_tasks

    run_dir = root / job.strategy / job.name
    overrides = cell_overrides(matrix, job, root)
    t0 = time.perf_counter()
    if (run_dir / "results.json").is_file():
        results = json.loads((run_dir / "results.json").read_text())
        cfg = OmegaConf.load(run_dir / "config.yaml")
    else:
        if (run_dir / "config.yaml").is_file():  # killed mid-training: continue from its checkpoint
            log(f"{job.name}: resuming {run_dir}")
            overrides = [*overrides, f"resume={run_dir}"]
        run = fit_run(overrides)
        results, cfg, run_dir = run.results, run.cfg, run.run_dir
    heldout = run_dir / HELDOUT_DIR
    if not (heldout / "results.json").is_file():
        held_cfg = OmegaConf.merge(cfg, {"eval": {"suite": matrix.heldout_suite, "tasks": None}})
        get_strategy(job.strategy).score_checkpoint(held_cfg, heldout, final_checkpoint(results, run_dir),
                                                    scoring_tasks(held_cfg))
    record = {"cell": job.cell.label, "strategy": job.strategy, "seed": job.seed, "run_dir": str(run_dir),
              "train_suite": matrix.train_suite, "heldout_suite": matrix.heldout_suite,
              "demos_per_task": int(matrix.demos_per_task), "env_steps_budget": int(matrix.env_steps),
              "env_steps_used": env_steps_used(run_dir), "params": run_params(run_dir),
              "wall_s_this_attempt": round(time.perf_counter() - t0, 1), "overrides": overrides}
    atomic_write_json(run_dir / BUDGET_FILE, record)
    return record


def jobs_of(matrix: Any) -> list[Job]:
    from zoo.train.plugin import resolve_strategy_name

    return [Job(cell, int(seed), resolve_strategy_name(cell.strategy)) for seed in matrix.seeds for cell in matrix.cells]


def is_done(root: Path, job: Job) -> bool:
    run_dir = root / job.strategy / job.name
    return all((d / "results.json").is_file() for d in (run_dir, run_dir / HELDOUT_DIR)) \
        and (run_dir / BUDGET_FILE).is_file()


def main(cfg: Any) -> list[dict]:
    """Run every cell not finished yet, with progress (cells done / left, time per cell)."""
    from rich.console import Console

    if not cfg.config:
        raise ZooError("zoo compare needs config=PATH (a matrix file, e.g. configs/compare/cpu-small.yaml)")
    load_plugins()
    name, matrix = load_matrix(str(cfg.config))
    root = Path(cfg.run_root) / name
    jobs = jobs_of(matrix)
    for job in jobs:  # every cell composes before any runs: a bad override fails now, not an hour in
        from zoo.config import compose

        compose(cell_overrides(matrix, job, root))
    console = Console(stderr=True)
    done = [j for j in jobs if is_done(root, j)]
    console.print(f"[bold]zoo compare[/] {name}: {len(jobs)} cells x seeds, {len(done)} done, "
                  f"{len(jobs) - len(done)} to run -> {root}")
    if cfg.dry_run:
        for job in jobs:
            console.print(f"  {'done' if job in done else 'todo'}  {job.strategy}/{job.name}")
        return []
    records, times = [], []
    for i, job in enumerate(jobs):
        if job in done:
            records.append(json.loads((root / job.strategy / job.name / BUDGET_FILE).read_text()))
            continue
        left = sum(1 for j in jobs[i:] if j not in done)
        eta = f", about {sum(times) / len(times) * left / 60:.0f} min left" if times else ""
        console.print(f"[bold]cell {len(done) + len(times) + 1}/{len(jobs)}[/] {job.strategy}/{job.name}{eta}")
        t0 = time.perf_counter()
        records.append(run_job(matrix, job, root, console.print))
        times.append(time.perf_counter() - t0)
        console.print(f"  finished in {times[-1] / 60:.1f} min")
    atomic_write_json(root / "matrix.json", {"matrix": name, "config": str(cfg.config),
                                             "spec": OmegaConf.to_container(matrix), "cells": records})
    console.print(f"[bold green]done[/]: {len(records)} runs -> {root} (zoo report runs={root})")
    return records
