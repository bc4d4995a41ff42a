"""Registers Strategy 2 with the zoo (imported by the package; light: no torch)."""
from strategies.compressive_rl.config import CompressiveRLRunConfig, check_config
from zoo.train.plugin import Strategy, register_strategy

STRATEGY = register_strategy(Strategy(
    name="compressive_rl",
    label="Strategy 2",
    aliases=("2",),
    config=CompressiveRLRunConfig,
    fit="strategies.compressive_rl.fit:fit",
    load_agent="strategies.compressive_rl.agent:load_agent",
    check=check_config,
    success_columns=("train/success_rate", "val/success_rate"),
    env_steps_columns=("train/env_steps",),
    description="PPO agent with compressive memory (Transformer-XL / Infini-attention) over DOM elements",
))
