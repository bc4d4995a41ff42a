"""Strategy 2's layout of the training seed range ``[0, EVAL_BASE)`` (zoo/web/seeds.py).

    [0, 800_000)        training episodes: each process a block, each env a stream of stride num_envs
    [800_000, 900_000)  pages that train the run's BPE vocabulary (random-agent walk)
    [900_000, 1e6)      validation episodes (validation.py), the same at every validation
    [1e6, 2e6)          the benchmark's evaluation seeds, used only when scoring

A process's block is as long as the most episodes its envs can begin in the run (one per env
step at most), so blocks of different ranks never overlap, and a resumed run starts past every
seed the earlier part of the run could have used instead of replaying its first episodes.
"""
from __future__ import annotations

from omegaconf import DictConfig

from zoo.core.errors import ZooError

TRAIN_EPISODE_END = 800_000
TOKENIZER_SEED_BASE = 800_000
VAL_SEED_BASE = 900_000
UNBOUNDED_UPDATES = 1_000  # block length when trainer.max_steps is unset (a max_time_min run)
RESUMES_PER_BLOCK = 15


def episode_block(cfg: DictConfig) -> int:
    """Seeds one process can begin in a run: num_envs per env step, plus the first episode of each
    env at the start and at each of up to RESUMES_PER_BLOCK resumes (each begins fresh episodes)."""
    n = int(cfg.env.num_envs)
    updates = int(cfg.trainer.max_steps) if int(cfg.trainer.max_steps) > 0 else UNBOUNDED_UPDATES
    return (updates * int(cfg.ppo.rollout_steps) + 1 + RESUMES_PER_BLOCK) * n


def training_seed_starts(cfg: DictConfig, rank: int, world_size: int, resumed_step: int = 0) -> list[int]:
    """First training seed of each env of process ``rank``, after ``resumed_step`` earlier updates."""
    n, block = int(cfg.env.num_envs), episode_block(cfg)
    base = (int(cfg.seed) * 10_000) % TRAIN_EPISODE_END
    if base + world_size * block > TRAIN_EPISODE_END:
        base = 0  # a high seed= wraps to the start of the range rather than spilling past it
    if world_size * block > TRAIN_EPISODE_END:
        raise ZooError(f"training seeds: {world_size} processes x {block} episodes each exceed the "
                       f"{TRAIN_EPISODE_END} training seeds; lower trainer.max_steps, ppo.rollout_steps or env.num_envs")
    used = resumed_step * int(cfg.ppo.rollout_steps) * n + (n if resumed_step else 0)
    start = base + rank * block + used
    return [start + i for i in range(n)]


def tokenizer_seeds(num_envs: int) -> list[int]:
    return [TOKENIZER_SEED_BASE + i for i in range(num_envs)]
