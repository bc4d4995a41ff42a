"""Run directories: ``<run_root>/strategy<N>/<name-or-timestamp>/`` -- never overwritten.

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

from omegaconf import DictConfig, OmegaConf

from zoo.core.errors import ZooError


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
    parent = Path(cfg.run_root) / f"strategy{cfg.strategy}"
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited and os.environ.get(RUN_DIR_PID_ENV) != str(os.getpid()):
        # a rank process Lightning launched (DDP/FSDP on one machine): rank 0 made the dir
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
    run_dir = parent / base
    n = 1
    while run_dir.exists():  # a clash never overwrites: the new run gets a suffix
        n += 1
        run_dir = parent / f"{base}-{n}"
    (run_dir / "checkpoints").mkdir(parents=True)
    # processes that Lightning launches from this one for other ranks inherit the environment
    os.environ[RUN_DIR_ENV], os.environ[RUN_DIR_PID_ENV] = str(run_dir), str(os.getpid())
    return run_dir


def find_resume_dir(resume: str) -> Path:
    """``resume=`` accepts a run dir or any checkpoint file inside one."""
    p = Path(resume)
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    if not (p / "config.yaml").is_file():
        raise ZooError(f"cannot resume from '{resume}': no run directory with config.yaml there")
    return p


def last_checkpoint(run_dir: Path) -> Path | None:
    ckpt_dir = Path(run_dir) / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if last.is_file():
        return last
    ckpts = sorted(ckpt_dir.glob("**/*.ckpt"), key=lambda p: p.stat().st_mtime)
    return ckpts[-1] if ckpts else None


def save_config(cfg: DictConfig, run_dir: Path) -> Path:
    path = Path(run_dir) / "config.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    tmp.replace(path)  # atomic: a killed run never leaves a half-written config
    return path
