"""The two action-model strategies; each package exposes ``fit(cfg, run_dir) -> dict`` and
``load_agent(checkpoint) -> zoo.web.agents.Agent``."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from zoo.core.errors import unknown

STRATEGIES = {1: "strategies.foundation", 2: "strategies.compressive_rl"}


def strategy_module(n: int) -> Any:
    if n not in STRATEGIES:
        raise unknown("strategy", n, STRATEGIES)
    return importlib.import_module(STRATEGIES[n])


def checkpoint_strategy(path: str | Path) -> int | None:
    """The strategy number a checkpoint was trained with: ``hyper_parameters["strategy"]`` (or
    ``hyper_parameters["cfg"]["strategy"]``), else the ``config.yaml`` of the run dir it sits in."""
    from zoo.training import read_checkpoint_meta

    ckpt = read_checkpoint_meta(path)  # a full file or a sharded directory
    hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    n = hp.get("strategy")
    if n is None and isinstance(hp.get("cfg"), dict):
        n = hp["cfg"].get("strategy")
    if n is None:
        for parent in Path(path).resolve().parents:
            if (parent / "config.yaml").is_file():
                from omegaconf import OmegaConf

                n = OmegaConf.load(parent / "config.yaml").get("strategy")
                break
    return None if n is None else int(n)


def load_agent(path: str | Path) -> Any:
    """A benchmark ``Agent`` from any strategy's checkpoint, dispatched on its saved strategy number."""
    from zoo.core.errors import ZooError
    from zoo.training import checkpoint_exists

    p = Path(path)
    if not checkpoint_exists(p):
        raise ZooError(f"checkpoint not found: {p}")
    n = checkpoint_strategy(p)
    if n is None:
        raise ZooError(f"cannot tell which strategy trained {p}: no 'strategy' in its hyper_parameters or run config.yaml")
    return strategy_module(n).load_agent(p)
