"""Run directories: ``<run_root>/<strategy>/<name-or-timestamp>/`` -- never overwritten.

Layout of a run dir::

    config.yaml          resolved config of the run (written before training starts)
    checkpoints/         Lightning checkpoints (``last.ckpt`` always present once one is saved)
    metrics.csv / csv/   CSVLogger metrics (learning curves)
    results.json         final benchmark scoring (schema: zoo/web/results.py)
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from typing import Any

from omegaconf import DictConfig

from zoo.core.checkpoints import InvalidCheckpoint, check_loadable, checkpoint_exists
from zoo.core.errors import ZooError
from zoo.core.io import atomic_write_yaml


# Multi-process runs: every rank must write to the one run dir rank 0 chose.
RUN_DIR_ENV = "ZOO_RUN_DIR"  # set by the process that created the run dir ...
RUN_DIR_PID_ENV = "ZOO_RUN_DIR_PID"  # ... whose pid tells an inheriting child from that process itself


def launched_world_size() -> int:
    """Processes started together by torchrun (WORLD_SIZE) or srun (SLURM_NTASKS); 1 otherwise."""
    for var in ("WORLD_SIZE", "SLURM_NTASKS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


def new_run_dir(cfg: DictConfig) -> Path:
    parent = Path(cfg.run_root) / str(cfg.strategy)
    inherited = os.environ.get(RUN_DIR_ENV)
    launched_rank = os.environ.get("LOCAL_RANK", "0") not in ("", "0")  # Lightning sets it in the ranks it starts
    if inherited and launched_rank and os.environ.get(RUN_DIR_PID_ENV) != str(os.getpid()):
        # a rank process Lightning launched (DDP/FSDP on one machine): rank 0 made the dir; any other process
        # that merely inherited the variable (a `zoo fit` started by a test or a script) makes its own
        run_dir = Path(inherited)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        return run_dir
    if launched_world_size() > 1:
        # torchrun / srun start every rank at once: they agree on the dir by name, not by talking
        base = cfg.name or os.environ.get("SLURM_JOB_ID")
        if not base:
            raise ZooError("a multi-process launch (torchrun / srun) needs name=NAME so every rank "
                           "writes to the same run directory")
        run_dir = parent / str(base)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        return run_dir
    base = cfg.name or time.strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:  # mkdir is the claim: two runs started at once with one name get different dirs
        run_dir = parent / (base if n == 1 else f"{base}-{n}")
        try:
            run_dir.mkdir()
            break
        except FileExistsError:  # a clash never overwrites: the new run gets the next suffix
            n += 1
    (run_dir / "checkpoints").mkdir()
    # processes that Lightning launches from this one for other ranks inherit the environment
    os.environ[RUN_DIR_ENV], os.environ[RUN_DIR_PID_ENV] = str(run_dir), str(os.getpid())
    return run_dir


def find_resume_dir(resume: str) -> Path:
    """``resume=`` accepts a run dir or any checkpoint inside one (``checkpoints/last.ckpt``,
    ``checkpoints/<stage>/step000040.ckpt``, a sharded checkpoint directory)."""
    p = Path(resume)
    if not p.exists():
        raise ZooError(f"cannot resume from '{resume}': no such file or directory")
    for candidate in [p, *p.parents]:
        if (candidate / "config.yaml").is_file():
            return candidate
        if candidate.parent.name == "checkpoints" or candidate.name == "checkpoints":
            continue  # inside a run's checkpoints folder: its run dir is further up
        if candidate != p:
            break  # looked at the path and its own folder: no run dir there
    raise ZooError(f"cannot resume from '{resume}': no run directory with config.yaml there")


def checkpoints_newest_first(run_dir: Path, stage: str = "") -> list[Path]:
    """Every checkpoint of a run (or of one stage), newest first: ``last.ckpt`` before the periodic ones
    of the same folder, then by modification time."""
    ckpt_dir = Path(run_dir) / "checkpoints" / stage if stage else Path(run_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.glob("**/*.ckpt") if checkpoint_exists(p)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"), reverse=True)


def newest_loadable(run_dir: Path, stage: str = "") -> tuple[Path | None, list[str]]:
    """The newest checkpoint of the run (or of ``stage``) that loads, and why each newer one did not."""
    skipped: list[str] = []
    for path in checkpoints_newest_first(run_dir, stage):
        try:
            check_loadable(path)
        except InvalidCheckpoint as err:
            skipped.append(str(err))
            continue
        return path, skipped
    return None, skipped


def _skipped_note(skipped: list[str], path: Path) -> str:
    return f"skipped {len(skipped)} unreadable checkpoint(s) ({skipped[0]}); resuming from {path}"


def last_checkpoint(run_dir: Path, stage: str = "", explain: Any = None) -> Path | None:
    """The newest checkpoint of the run (or of ``stage``) that loads.  A corrupt one (a kill mid-write, a
    truncated copy) is skipped for the next newest, and ``explain(message)`` says which was used instead."""
    path, skipped = newest_loadable(run_dir, stage)
    if skipped and explain is not None:
        explain(_skipped_note(skipped, path) if path is not None
                else f"no loadable checkpoint in {run_dir}: {'; '.join(skipped)}")
    return path


def resume_checkpoint(resume: str, run_dir: Path, stage: str = "", explain: Any = None) -> Path:
    """The checkpoint ``resume=`` continues from.  A checkpoint named by the path itself (e.g.
    ``checkpoints/ppo/step000040.ckpt``) is used as named and must load; a run directory continues from
    its newest loadable checkpoint of ``stage`` (``last_checkpoint``).  One line when there is none."""
    named = Path(resume)
    ckpt_dir = (Path(run_dir) / "checkpoints" / stage).resolve() if stage else (Path(run_dir) / "checkpoints").resolve()
    inside = named.resolve().parent == ckpt_dir if stage else ckpt_dir in named.resolve().parents
    if checkpoint_exists(named) and inside:
        check_loadable(named)  # InvalidCheckpoint: one line naming the file the user gave
        return named
    path, skipped = newest_loadable(run_dir, stage)
    if path is not None:
        if skipped and explain is not None:
            explain(_skipped_note(skipped, path))
        return path
    more = f"; and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    why = f" ({skipped[0]}{more})" if skipped else ""
    raise ZooError(f"cannot resume {run_dir}: no loadable checkpoint in {ckpt_dir}{why}")


def resume_or_start(resume: str, run_dir: Path, stage: str = "", explain: Any = None) -> Path | None:
    """``resume_checkpoint``, except for a run directory that holds no checkpoint file at all: its first attempt
    was stopped before it wrote one (Strategy 2 during its cloning, say), so it starts again from the beginning
    (None) and says so.  A run whose checkpoints are all unreadable is still refused, as there is something to lose."""
    if Path(resume).resolve() == Path(run_dir).resolve() and not checkpoints_newest_first(run_dir):
        if explain is not None:
            explain(f"{run_dir} holds no checkpoint yet (stopped before its first): training it from the start")
        return None
    return resume_checkpoint(resume, run_dir, stage, explain)


def save_config(cfg: DictConfig, run_dir: Path) -> Path:
    return atomic_write_yaml(Path(run_dir) / "config.yaml", cfg)  # a killed run never leaves a half-written config
