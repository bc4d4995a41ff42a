"""Strategy 2's periodic validation: greedy episodes on held-out training-range seeds.

Every ``ppo.val_every`` PPO updates Lightning runs one validation step, which plays
``ppo.val_episodes`` episodes of every training task with the current network acting greedily,
on the same seeds every time (so successive values are comparable), and logs
``val/success_rate`` and ``val/episode_return``: the metric ``zoo search`` prunes on.

The seeds lie in the training range, in a block training episodes never draw from (seeds.py), and
disjoint from the benchmark's evaluation seeds, which stay unseen until the final scoring.  The
episodes run on the training VecWebEnv itself (no second browser); its running training episodes
are cut there, and training continues on fresh seeds (``RolloutCollector.restart``).
"""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

from strategies.compressive_rl.agent import MemoryAgent
from strategies.compressive_rl.features import Featurizer
from strategies.compressive_rl.model import ActionModel
from strategies.compressive_rl.seeds import VAL_SEED_BASE
from zoo.web.seeds import train_seed


def validation_jobs(tasks: list[str], episodes: int) -> list[tuple[str, int]]:
    """(task, seed) of every validation episode: the same held-out seeds at every validation."""
    return [(task, train_seed(VAL_SEED_BASE + k)) for k in range(int(episodes)) for task in tasks]


@torch.no_grad()
def greedy_episodes(env: Any, featurizer: Featurizer, model: ActionModel, jobs: list[tuple[str, int]],
                    device: torch.device) -> list[dict[str, Any]]:
    """Play every (task, seed) job to its end on ``env``'s slots, acting by argmax; returns the
    episode summaries (``success``, ``reward``, ...).  Each slot's memory starts empty per episode."""
    n = env.num_envs
    pending = deque(jobs)
    obs: list[Any] = [None] * n
    running = [False] * n
    starts = np.ones(n, dtype=bool)
    agent = MemoryAgent(model, featurizer, greedy=True, device=device)  # the benchmark's acting path
    state = agent.reset(n)
    done_eps: list[dict[str, Any]] = []

    def start(i: int) -> None:
        task, seed = pending.popleft()
        obs[i] = env.reset_one(i, seed, task)
        running[i], starts[i] = True, True

    autoreset, env.autoreset = env.autoreset, False  # a finished slot stays idle until given a job
    try:
        for i in range(n):
            if pending:
                start(i)
        while any(running):
            filler = next(o for o, r in zip(obs, running) if r)  # idle slots: any page, output ignored
            actions, state = agent.act([o if r else filler for o, r in zip(obs, running)], state, starts)
            starts[:] = False
            new_obs, _rew, term, trunc, infos = env.step(actions)
            for i in range(n):
                if not running[i]:
                    continue
                obs[i] = new_obs[i]
                if term[i] or trunc[i]:
                    ep = infos[i].get("episode") if isinstance(infos[i], dict) else None
                    done_eps.append(ep or {"success": False, "reward": -1.0, "error": "no episode summary"})
                    running[i] = False
                    if pending:
                        start(i)
    finally:
        env.autoreset = autoreset
    return done_eps


def summarize(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """``success_rate`` and ``episode_return`` (mean time-decayed reward) of validation episodes."""
    if not episodes:
        return {}
    return {"success_rate": float(np.mean([float(bool(e.get("success"))) for e in episodes])),
            "episode_return": float(np.mean([float(e.get("reward", 0.0)) for e in episodes]))}
