"""``zoo compare config=configs/compare/<name>.yaml``: the comparison matrix, every cell an ordinary run.

A matrix file names a training split and a held-out split (suites), the seeds, the shared budget (recorded
demonstrations per training task and training env steps, translated into each strategy's own settings by its
registered ``budget`` hook) and the cells (a strategy, its variant overrides).  For every cell x seed:

1. ``fit_run`` trains it on the training split and scores it there (``<run>/results.json``), the run directory
   being ``<run_root>/<matrix>/<strategy>/<cell>-s<seed>/``;
2. its final checkpoint is scored zero-shot on the held-out split through the strategy's own scoring hook
   (``<run>/heldout/results.json``);
3. ``budget.json`` records what the run was given and used: parameters, demonstrations, env steps, wall time;
4. for each ``k`` of ``fewshot``: few-shot adaptation to the held-out split through the strategy's ``finetune``
   hook, starting from that final checkpoint with ``k`` recorded demonstrations of each held-out task, in
   ``<run>/fewshot-k<k>/`` (its own ``config.yaml``: the cell's config with the held-out suite as ``env.suite``
   and ``eval.suite``; ``results.json``; ``budget.json`` with the demonstrations and wall time).  A strategy
   without a ``finetune`` hook is skipped, with a note in ``matrix.json``.

Re-running the command after a kill skips finished cells, resumes a half-trained one from its checkpoint
and scores what was trained but not scored; a finished few-shot directory is skipped.  ``zoo report runs=<run_root>/<matrix>`` compares the cells.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from zoo.config import compose, load_plugins, load_yaml
from zoo.core.checkpoints import load_checkpoint
from zoo.core.errors import ZooError, did_you_mean, unknown
from zoo.core.io import atomic_write_json
from zoo.fitting import fit_run
from zoo.schema.checks import at_least, check_values
from zoo.train.plugin import get_strategy, resolve_strategy_name
from zoo.train.runs import last_checkpoint, save_config
from zoo.train.scoring import scoring_tasks
from zoo.web.suites import suite_names

BUDGET_FILE = "budget.json"
HELDOUT_DIR = "heldout"
FEWSHOT_DIR = "fewshot-k{k}"


@dataclass
class Cell:
    """label: names the cell's runs (``<label>-s<seed>``).  strategy: a registered name or alias.
    overrides: key=value settings of this cell (e.g. ``model.attention=infini``).
    demos_per_task: this cell's recorded demonstrations per training task, in place of the matrix's (unset:
    the matrix's); cells that differ only in it are the points of a success-vs-demonstrations curve."""

    label: str = ""
    strategy: str = ""
    overrides: list[str] = field(default_factory=list)
    demos_per_task: Optional[int] = None


@dataclass
class Matrix:
    """train_suite / heldout_suite: the splits.  seeds: training seeds (cells are paired by seed).
    demos_per_task: recorded oracle demonstrations per training task, the same for every strategy.
    env_steps: training env steps each strategy may take.  overrides: settings of every cell (e.g. episodes).
    fewshot: demonstrations per held-out task of each few-shot run (e.g. ``[1, 5, 20]``; empty: none).
    pairs_with: for a matrix holding one strategy, the matrix that holds the other strategy's half of the same
    comparison.  The report pairs two one-strategy matrices' cells when neither names a partner, or when one
    names the other: a half run on another action space or code is then no partner.
    """

    description: str = ""
    train_suite: str = ""
    heldout_suite: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    demos_per_task: int = field(default=4, metadata=at_least(0))
    env_steps: int = field(default=2000, metadata=at_least(1))
    overrides: list[str] = field(default_factory=list)
    fewshot: list[int] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    pairs_with: str = ""


def load_matrix(path: str | Path) -> tuple[str, Any]:
    """(matrix name, typed matrix) from a YAML file; every problem one line."""
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
            raise unknown(f"value for '{key}' in {p}", matrix[key], suite_names())
    if not matrix.cells:
        raise ZooError(f"bad comparison matrix {p}: 'cells' must list at least one cell")
    labels = [c.label for c in matrix.cells]
    if any(not lab for lab in labels) or len(set(labels)) != len(labels):
        raise ZooError(f"bad comparison matrix {p}: every cell needs its own non-empty label (got {labels})")
    if not matrix.seeds:
        raise ZooError(f"bad comparison matrix {p}: 'seeds' must list at least one seed")
    for cell in matrix.cells:
        n = cell.demos_per_task
        if n is not None and n < 0:
            raise ZooError(f"bad value for 'demos_per_task' of cell '{cell.label}' in {p}: {n} (must be >= 0, "
                           f"or left out to use the matrix's {matrix.demos_per_task})")
    if matrix.pairs_with == p.stem or any(ch in matrix.pairs_with for ch in "/\\ "):
        raise ZooError(f"bad value for 'pairs_with' in {p}: {matrix.pairs_with!r} (the name of another matrix file, "
                       "without its directory or .yaml)")
    ks = [int(k) for k in matrix.fewshot]
    if any(k < 1 for k in ks) or len(set(ks)) != len(ks):
        raise ZooError(f"bad value for 'fewshot' in {p}: {ks} (distinct demonstrations per held-out task, each >= 1)")
    return p.stem, matrix


@dataclass
class Job:
    cell: Any
    seed: int
    strategy: str

    @property
    def name(self) -> str:
        return f"{self.cell.label}-s{self.seed}"


def demos_of(matrix: Any, job: Job) -> int:
    """The cell's own demonstrations per training task if it sets them, else the matrix's."""
    own = job.cell.demos_per_task
    return int(matrix.demos_per_task if own is None else own)


def cell_overrides(matrix: Any, job: Job, root: Path) -> list[str]:
    """The cell's ``zoo fit`` overrides, the shared budget translated by the strategy's own hook."""
    base = [f"strategy={job.strategy}", f"env.suite={matrix.train_suite}", "env.tasks=[]", "eval.suite=",
            "eval.tasks=null", *cell_settings(matrix, job), f"seed={job.seed}", f"name={job.name}",
            f"run_root={root}", "trainer.progress=false"]
    spec = get_strategy(job.strategy)
    if spec.budget is None:
        return base
    # unvalidated here: a cell's setting may need the budget's own overrides (ppo.bc_coef needs the demonstrations
    # the budget adds); main() validates the whole list before any cell runs
    return base + spec.budget(compose(base, validate_choices=False), demos_of(matrix, job), int(matrix.env_steps))


def cell_settings(matrix: Any, job: Job) -> list[str]:
    """What sets this cell apart from a cell of another matrix with the same label: the matrix's and the
    cell's overrides (the report joins only cells with equal settings into one curve)."""
    return [*matrix.overrides, *job.cell.overrides]


def fewshot_overrides(matrix: Any, job: Job, root: Path, k: int) -> list[str]:
    """The few-shot run's config: the cell's, with the held-out split to adapt to and be scored on."""
    return [*cell_overrides(matrix, job, root), f"env.suite={matrix.heldout_suite}", "env.tasks=[]",
            f"eval.suite={matrix.heldout_suite}", "eval.tasks=null", f"name={job.name}-fewshot-k{k}"]


def has_finetune(job: Job) -> bool:
    return get_strategy(job.strategy).finetune is not None


def fewshot_dirs(matrix: Any, run_dir: Path) -> list[tuple[int, Path]]:
    return [(int(k), run_dir / FEWSHOT_DIR.format(k=int(k))) for k in matrix.fewshot]


def run_fewshot(matrix: Any, job: Job, root: Path, run_dir: Path, checkpoint: Path, log: Any) -> list[dict]:
    """Every few-shot run of one trained cell x seed not finished yet; returns their budget records."""
    spec = get_strategy(job.strategy)
    records = []
    for k, fs_dir in fewshot_dirs(matrix, run_dir):
        if is_finished(fs_dir):
            records.append(read_budget(fs_dir))
            continue
        log(f"{job.name}: few-shot k={k} on {matrix.heldout_suite} -> {fs_dir}")
        t0 = time.perf_counter()
        cfg = compose(fewshot_overrides(matrix, job, root, k))
        fs_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, fs_dir)
        tasks = scoring_tasks(cfg)
        results = spec.run_finetune(cfg, fs_dir, checkpoint, tasks, k)
        used = (results.get("run") or {}).get("demos")
        record = {"cell": job.cell.label, "strategy": job.strategy, "seed": job.seed, "fewshot_k": k,
                  "run_dir": str(fs_dir), "init_checkpoint": str(checkpoint), "heldout_suite": matrix.heldout_suite,
                  "tasks": tasks, "demos_per_task": k, "demos_recorded": k * len(tasks),
                  "demos_used": used if used is not None else k * len(tasks),
                  "wall_s": round(time.perf_counter() - t0, 1)}
        atomic_write_json(fs_dir / BUDGET_FILE, record)
        records.append(record)
    return records


def cell_dir(root: Path, job: Job) -> Path:
    """A cell x seed's run directory: ``<run_root>/<matrix>/<strategy>/<cell>-s<seed>``."""
    return root / job.strategy / job.name


def read_budget(run_dir: Path) -> dict:
    """What a finished run (or few-shot run) recorded in its ``budget.json``."""
    return json.loads((run_dir / BUDGET_FILE).read_text())


def scored(run_dir: Path) -> dict | None:
    """The run's ``results.json`` if its scoring ran to the end; None if missing or interrupted (Ctrl-C writes
    the partial score, which a re-run must finish, not count)."""
    from zoo.web.results import finished_results  # lazy: torchmetrics

    return finished_results(run_dir / "results.json")


def is_finished(run_dir: Path) -> bool:
    return (run_dir / BUDGET_FILE).is_file() and scored(run_dir) is not None


def run_params(run_dir: Path) -> int | None:
    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        return None
    state = load_checkpoint(ckpt).get("state_dict", {})
    return int(sum(v.numel() for v in state.values() if hasattr(v, "numel") and v.is_floating_point()))


def final_checkpoint(results: dict, run_dir: Path) -> Path:
    for holder in (results, results.get("run") or {}):
        if isinstance(holder, dict) and holder.get("checkpoint"):
            return Path(holder["checkpoint"])
    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        raise ZooError(f"{run_dir}: trained but no checkpoint to score on the held-out split")
    return ckpt


def env_steps_used(run_dir: Path) -> float | None:
    from zoo.report.curves import learning_curve  # lazy: the zoo.report package pulls matplotlib

    curve = learning_curve(run_dir, OmegaConf.load(run_dir / "config.yaml"))
    steps = [p["env_steps"] for p in curve if p.get("env_steps") is not None]
    return steps[-1] if steps else None


def run_job(matrix: Any, job: Job, root: Path, log: Any) -> dict:
    """Train, score and record one cell x seed, continuing whatever an earlier attempt finished."""
    run_dir = cell_dir(root, job)
    overrides = cell_overrides(matrix, job, root)
    t0 = time.perf_counter()
    results = scored(run_dir)
    if results is not None:
        cfg = OmegaConf.load(run_dir / "config.yaml")
    elif (run_dir / "results.json").is_file():  # trained; its scoring was interrupted: finish that scoring
        log(f"{job.name}: finishing the interrupted scoring in {run_dir}")
        cfg = OmegaConf.load(run_dir / "config.yaml")
        results = rescore(job, run_dir, cfg)
    else:
        if (run_dir / "config.yaml").is_file():  # killed mid-training or mid-scoring: continue where it stopped
            log(f"{job.name}: resuming {run_dir}")
            overrides = [*overrides, f"resume={run_dir}", "eval.resume=true"]
        run = fit_run(overrides)
        results, cfg, run_dir = run.results, run.cfg, run.run_dir
    heldout = run_dir / HELDOUT_DIR
    checkpoint = final_checkpoint(results, run_dir)
    if scored(heldout) is None:  # a partial held-out score left by an interruption continues from its log
        held_cfg = OmegaConf.merge(cfg, {"eval": {"suite": matrix.heldout_suite, "tasks": None, "resume": True}})
        get_strategy(job.strategy).score_checkpoint(held_cfg, heldout, checkpoint, scoring_tasks(held_cfg))
    fewshot = run_fewshot(matrix, job, root, run_dir, checkpoint, log) if has_finetune(job) else []
    record = {"cell": job.cell.label, "strategy": job.strategy, "seed": job.seed, "run_dir": str(run_dir),
              "train_suite": matrix.train_suite, "heldout_suite": matrix.heldout_suite,
              "demos_per_task": demos_of(matrix, job), "env_steps_budget": int(matrix.env_steps),
              "env_steps_used": env_steps_used(run_dir), "params": run_params(run_dir),
              "wall_s_this_attempt": round(time.perf_counter() - t0, 1), "overrides": overrides,
              "settings": cell_settings(matrix, job), "pairs_with": str(matrix.pairs_with or ""), "fewshot": fewshot}
    if matrix.fewshot and not has_finetune(job):
        record["fewshot_note"] = f"skipped: strategy '{job.strategy}' registers no finetune hook"
    atomic_write_json(run_dir / BUDGET_FILE, record)
    return record


def rescore(job: Job, run_dir: Path, cfg: Any) -> dict:
    """Finish a trained run's interrupted scoring on its training split: the episodes it logged are kept,
    the rest played, and what only the first scoring knew (e.g. Strategy 1's ``stages``) carried over."""
    from zoo.web.results import load_results, write_results  # lazy: torchmetrics

    partial = load_results(run_dir / "results.json")
    checkpoint = final_checkpoint(partial, run_dir)
    cfg = OmegaConf.merge(cfg, {"eval": {"resume": True}})
    results = get_strategy(job.strategy).score_checkpoint(cfg, run_dir, checkpoint, scoring_tasks(cfg))
    results = {**{k: v for k, v in partial.items() if k not in results}, **results}
    write_results(run_dir / "results.json", results)
    return results


def jobs_of(matrix: Any) -> list[Job]:
    return [Job(cell, int(seed), resolve_strategy_name(cell.strategy)) for seed in matrix.seeds for cell in matrix.cells]


def is_done(root: Path, job: Job, matrix: Any) -> bool:
    run_dir = cell_dir(root, job)
    fewshot = [d for _, d in fewshot_dirs(matrix, run_dir)] if has_finetune(job) else []
    return all(is_finished(d) for d in (*fewshot, run_dir)) and scored(run_dir / HELDOUT_DIR) is not None


def selected_seeds(cfg: Any, matrix: Any) -> list[int]:
    """The matrix's seeds this run owns (``seeds=``, default all); one line for a seed the matrix lacks."""
    seeds = [int(s) for s in matrix.seeds]
    for s in cfg.seeds:
        if int(s) not in seeds:
            raise ZooError(f"bad value for 'seeds': {s} is not a seed of matrix {cfg.config} "
                           f"(its seeds: {', '.join(str(x) for x in seeds)})")
    return [int(s) for s in cfg.seeds] or seeds


def selected_cells(cfg: Any, matrix: Any) -> list[str]:
    """The labels of the matrix's cells this run owns (``cells=``, default all); one line for an unknown label."""
    labels = [str(c.label) for c in matrix.cells]
    for label in cfg.cells:
        if str(label) not in labels:
            raise ZooError(f"bad value for 'cells': '{label}' is not a cell of matrix {cfg.config}"
                           f"{did_you_mean(str(label), labels)} (its cells: {', '.join(labels)})")
    return [str(c) for c in cfg.cells] or labels


def main(cfg: Any) -> list[dict]:
    """Run every cell not finished yet, with progress (cells done / left, time per cell)."""
    from rich.console import Console

    if not cfg.config:
        raise ZooError("zoo compare needs config=PATH (a matrix file, e.g. configs/compare/cpu-small.yaml)")
    load_plugins()
    name, matrix = load_matrix(str(cfg.config))
    root = Path(cfg.run_root) / name
    seeds, labels = selected_seeds(cfg, matrix), selected_cells(cfg, matrix)
    jobs = jobs_of(matrix)
    for job in jobs:  # every cell composes before any runs: a bad override fails now, not an hour in
        compose(cell_overrides(matrix, job, root))
        if has_finetune(job):
            for k in matrix.fewshot:
                compose(fewshot_overrides(matrix, job, root, int(k)))
    mine = [j for j in jobs if j.seed in seeds and j.cell.label in labels]
    console = Console(stderr=True)
    done = [j for j in mine if is_done(root, j, matrix)]
    owned = [f"seeds {', '.join(str(s) for s in seeds)}"] + ([f"cells {', '.join(labels)}"] if cfg.cells else [])
    part = "" if len(mine) == len(jobs) else f" of {len(jobs)} ({'; '.join(owned)})"
    console.print(f"[bold]zoo compare[/] {name}: {len(mine)} cells x seeds{part}, {len(done)} done, "
                  f"{len(mine) - len(done)} to run -> {root}")
    if cfg.dry_run:
        for job in mine:
            console.print(f"  {'done' if job in done else 'todo'}  {job.strategy}/{job.name}")
            for k, fs_dir in fewshot_dirs(matrix, cell_dir(root, job)):
                state = ("done" if is_finished(fs_dir) else "todo") if has_finetune(job) else "skip (no finetune hook)"
                console.print(f"        {state}  few-shot k={k}")
        return []
    records, times = [], []
    for i, job in enumerate(mine):
        if job in done:
            records.append(read_budget(cell_dir(root, job)))
            continue
        left = sum(1 for j in mine[i:] if j not in done)
        eta = f", about {sum(times) / len(times) * left / 60:.0f} min left" if times else ""
        console.print(f"[bold]cell {len(done) + len(times) + 1}/{len(mine)}[/] {job.strategy}/{job.name}{eta}")
        t0 = time.perf_counter()
        records.append(run_job(matrix, job, root, console.print))
        times.append(time.perf_counter() - t0)
        console.print(f"  finished in {times[-1] / 60:.1f} min")
    waiting = [j.name for j in jobs if j not in mine and not is_done(root, j, matrix)]
    if waiting:  # another process (or a later run) owns these seeds or cells; the matrix is not whole yet
        console.print(f"[bold green]done[/]: {len(records)} runs -> {root}; matrix.json waits for "
                      f"{', '.join(waiting)}")
        return records
    if len(mine) < len(jobs):  # the other seeds or cells were finished elsewhere: record the whole matrix
        records = [read_budget(cell_dir(root, j)) for j in jobs]
    notes = [f"{j.strategy}/{j.name}: few-shot skipped (strategy '{j.strategy}' registers no finetune hook)"
             for j in jobs if matrix.fewshot and not has_finetune(j)]
    atomic_write_json(root / "matrix.json", {"matrix": name, "config": str(cfg.config),
                                             "spec": OmegaConf.to_container(matrix), "cells": records, "notes": notes})
    console.print(f"[bold green]done[/]: {len(records)} runs -> {root} (zoo report runs={root})")
    return records
