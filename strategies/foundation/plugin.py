"""Registers Strategy 1 with the zoo (imported by the package; light: no torch)."""
from typing import Any

from components.attention import check_heads
from strategies.foundation.config import FoundationRunConfig
from strategies.foundation.presets import apply_preset
from strategies.foundation.pretrained_text import check_text_init
from zoo.core.errors import unknown
from zoo.train.plugin import Strategy, register_strategy

STAGES = ("pretrain", "sft", "rl", "all")


def budget(cfg: Any, demos_per_task: int, env_steps: int) -> list[str]:
    """Equal budgets (zoo compare): exactly ``demos_per_task`` recorded oracle demonstrations per training task
    (no exploring episodes), and RL-stage rounds sized so their tree-search episodes take about ``env_steps``
    browser steps at most (a round plays ``episodes_per_round`` episodes of up to ``env.max_episode_steps``
    steps, each step expanding up to ``search.simulations`` children); the steps actually taken are logged
    (rl/env_steps) and reported."""
    f = cfg.foundation
    per_round = int(f.rl.episodes_per_round) * int(cfg.env.max_episode_steps) * (1 + int(f.search.simulations))
    rounds = max(1, int(env_steps) // per_round)
    return [f"foundation.data.episodes_per_task={max(1, int(demos_per_task))}", "foundation.data.explore_fraction=0.0",
            f"foundation.rl.max_steps={rounds * int(f.rl.updates_per_round)}"]


def check_config(cfg: Any) -> None:
    """Strategy 1's own value checks, run when the config is composed (before any run directory)."""
    if cfg.stage not in STAGES:
        raise unknown("value for 'stage'", cfg.stage, STAGES)

    if apply_preset(cfg):  # the preset may change dim / n_heads: the one head check again
        check_heads(cfg.model.dim, cfg.model.n_heads)
    check_text_init(str(cfg.foundation.text_init))


STRATEGY = register_strategy(Strategy(
    name="foundation",
    label="Strategy 1",
    aliases=("1",),
    config=FoundationRunConfig,
    fit="strategies.foundation:fit",
    load_agent="strategies.foundation:load_agent",
    score="strategies.foundation:score_checkpoint",
    finetune="strategies.foundation.finetune:finetune",
    budget=budget,
    check=check_config,
    # the RL stage's collection episodes (each round of tree-search episodes), then greedy validation
    success_columns=("rl/success_rate", "rl/search_success", "val/success_rate"),
    env_steps_columns=("rl/env_steps",),
    description="multimodal foundation model -> SFT numbered instructions -> RL with value-judged tree search",
))
