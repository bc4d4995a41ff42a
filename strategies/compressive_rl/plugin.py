"""Registers Strategy 2 with the zoo (imported by the package; light: no torch)."""
from typing import Any

from strategies.compressive_rl.config import CompressiveRLRunConfig, check_config
from zoo.train.plugin import Strategy, register_strategy


def budget(cfg: Any, demos_per_task: int, env_steps: int) -> list[str]:
    """Equal budgets (zoo compare): PPO updates that take about ``env_steps`` env steps (each update steps every
    env ``ppo.rollout_steps`` times), and a behaviour-cloning warm start on the same recorded demonstrations."""
    per_update = int(cfg.env.num_envs) * int(cfg.ppo.rollout_steps)
    out = [f"trainer.max_steps={max(1, int(env_steps) // per_update)}"]
    if "bc_demos_per_task" in cfg.ppo:
        out.append(f"ppo.bc_demos_per_task={int(demos_per_task)}")
    return out


STRATEGY = register_strategy(Strategy(
    name="compressive_rl",
    label="Strategy 2",
    aliases=("2",),
    config=CompressiveRLRunConfig,
    fit="strategies.compressive_rl.fit:fit",
    load_agent="strategies.compressive_rl.agent:load_agent",
    score="strategies.compressive_rl.fit:score_checkpoint",
    finetune="strategies.compressive_rl.finetune:finetune",
    budget=budget,
    check=check_config,
    success_columns=("train/success_rate", "val/success_rate"),
    env_steps_columns=("train/env_steps",),
    description="PPO agent with compressive memory (Transformer-XL / Infini-attention) over DOM elements",
))
