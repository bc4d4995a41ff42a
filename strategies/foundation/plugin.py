"""Registers Strategy 1 with the zoo (imported by the package; light: no torch)."""
from typing import Any

from strategies.foundation.config import FoundationRunConfig
from zoo.core.errors import unknown
from zoo.train.plugin import Strategy, register_strategy

STAGES = ("pretrain", "sft", "rl", "all")


def check_config(cfg: Any) -> None:
    """Strategy 1's own value checks, run when the config is composed (before any run directory)."""
    if cfg.stage not in STAGES:
        raise unknown("value for 'stage'", cfg.stage, STAGES)


STRATEGY = register_strategy(Strategy(
    name="foundation",
    label="Strategy 1",
    aliases=("1",),
    config=FoundationRunConfig,
    fit="strategies.foundation:fit",
    load_agent="strategies.foundation:load_agent",
    check=check_config,
    # the RL stage's collection episodes (each round of tree-search episodes), then greedy validation
    success_columns=("rl/success_rate", "rl/search_success", "val/success_rate"),
    env_steps_columns=("rl/env_steps",),
    description="multimodal foundation model -> SFT numbered instructions -> RL with value-judged tree search",
))
