"""``fit_run``: the one path from key=value overrides to a trained, scored run, used by ``zoo fit`` and
by every ``zoo search`` trial.  Config -> run directory -> strategy's fit -> results."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from zoo.config import compose, load_yaml
from zoo.core.checkpoints import checkpoint_exists
from zoo.core.errors import ZooError
from zoo.train.plugin import get_strategy
from zoo.train.runs import checkpoints_newest_first, find_resume_dir, new_run_dir, resume_checkpoint, save_config


@dataclass
class FitRun:
    cfg: DictConfig
    run_dir: Path
    results: dict


def resume_overrides(overrides: list[str]) -> tuple[list[str], Path | None]:
    """With ``resume=PATH``: the saved run's config as the base layer (new overrides on top), and its run dir."""
    resume = next((v for k, v in (o.split("=", 1) for o in overrides if "=" in o) if k == "resume"), None)
    if not resume:
        return overrides, None
    run_dir = find_resume_dir(resume)
    saved = load_yaml(run_dir / "config.yaml", "saved run config")
    if saved.get("strategy") is None:
        raise ZooError(f"saved run config {run_dir / 'config.yaml'} names no strategy (e.g. strategy: compressive_rl)")
    # the saved config is the base; new overrides (e.g. a larger max_steps) apply on top
    return [f"strategy={saved.get('strategy')}", f"config={run_dir / 'config.yaml'}", *overrides], run_dir


def check_resume(resume: str, run_dir: Path) -> None:
    """Before the saved config is rewritten or any strategy code runs: a checkpoint named by ``resume=``
    must load, and a run that has checkpoints must have one that loads (each strategy then picks its
    stage's own; a run killed before its first checkpoint is left to the strategy)."""
    if checkpoint_exists(resume) or checkpoints_newest_first(run_dir):
        resume_checkpoint(resume, run_dir)


def fit_run(overrides: list[str], callbacks: Sequence[Any] = (),
            on_run_dir: Callable[[DictConfig, Path], None] | None = None) -> FitRun:
    """Compose (every value checked before anything is written), make or reuse the run directory, save
    its config, seed everything, then run the strategy's ``fit`` with ``callbacks`` in its Trainers."""
    import lightning as L

    overrides, resumed = resume_overrides(list(overrides))
    cfg = compose(overrides)
    spec = get_strategy(cfg.strategy)
    if resumed is not None:
        check_resume(str(cfg.resume), resumed)
    run_dir = resumed if resumed is not None else new_run_dir(cfg)
    save_config(cfg, run_dir)
    if on_run_dir is not None:
        on_run_dir(cfg, run_dir)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    results = spec.run_fit(cfg, run_dir, callbacks)
    return FitRun(cfg, Path(run_dir), results)
