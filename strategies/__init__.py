"""The two action-model strategies; each package exposes ``fit(cfg, run_dir) -> dict`` and
``load_agent(checkpoint) -> zoo.web.agents.Agent``."""
from __future__ import annotations

import importlib
from typing import Any

from zoo.errors import unknown

STRATEGIES = {1: "strategies.foundation", 2: "strategies.compressive_rl"}


def strategy_module(n: int) -> Any:
    if n not in STRATEGIES:
        raise unknown("strategy", n, STRATEGIES)
    return importlib.import_module(STRATEGIES[n])
