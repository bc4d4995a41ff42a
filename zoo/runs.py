"""Run directories: ``<run_root>/strategy<N>/<name-or-timestamp>/`` -- never overwritten.

Layout of a run dir::

    config.yaml          resolved config of the run (written before training starts)
    checkpoints/         Lightning checkpoints (``last.ckpt`` always present once one is saved)
    metrics.csv / csv/   CSVLogger metrics (learning curves)
    results.json         final benchmark scoring (schema: zoo/web/results.py)
"""
from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zoo.errors import ZooError


def new_run_dir(cfg: DictConfig) -> Path:
    parent = Path(cfg.run_root) / f"strategy{cfg.strategy}"
    base = cfg.name or time.strftime("%Y%m%d-%H%M%S")
    run_dir = parent / base
    n = 1
    while run_dir.exists():  # a clash never overwrites: the new run gets a suffix
        n += 1
        run_dir = parent / f"{base}-{n}"
    (run_dir / "checkpoints").mkdir(parents=True)
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
