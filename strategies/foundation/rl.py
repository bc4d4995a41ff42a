"""RL alignment with tree search: collect search episodes in the browser, distill them into the policy.

Training alternates, inside one Lightning ``fit``:

1. ``updates_per_round`` optimiser steps on the replay buffer: the recorded episodes (return
   targets for the value head, oracle actions as policy targets) plus every search episode so far
   (visit distributions as pointer targets, returns as value targets, the chosen actions of
   successful searches as supervised targets -- the distillation of search into the policy);
2. a collection round: ``episodes_per_round`` episodes per task played by MCTS with the current
   policy as prior and value head at the leaves, on fresh training seeds, in the real browser.

The first round comes after the first updates, so the value head has seen the recorded returns
before it guides a search.

Resuming: the state of the search side (the search-episode buffer, the round history, the next
training seed and the sampler's random state) is saved inside every RL checkpoint
(``FoundationModule.on_save_checkpoint``, key ``foundation_rl``) and restored with it, so a
resumed stage keeps its search data, continues the round schedule where it stopped and never
replays a seed it has already searched.

A search episode whose simulator browser fails (a page that will not start an episode after the
harness's own retries and browser relaunches) is dropped, not fatal: its task's simulator is closed and
made anew for the next episode, and the round records the failure (task, seed, reason).  On the shared
2-CPU machine one such start timed out in the first round of a 49-task run with another run's
simulators open beside it, and took the whole run down with it.
"""
from __future__ import annotations

import dataclasses
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset

from strategies.foundation.batch import Batch, collate
from strategies.foundation.policy import Policy
from strategies.foundation.search import (BudgetSpent, ReplayEnv, history_episode, make_search, visit_by_element,
                                          visit_by_kind)
from strategies.foundation.sequence import Episode, Example, SequenceBuilder
from zoo.core.errors import ZooError
from zoo.web.env import WebEnv
from zoo.web.seeds import train_seed

SEARCH_SEED_BASE = 500_000  # search episodes use training seeds far from the recorded ones
MAX_SEARCH_EPISODES = 256


class SearchCollector:
    """Plays MCTS episodes on training seeds; one simulator browser per task."""

    def __init__(self, tasks: list[str], search_cfg: Any, env_kwargs: dict[str, Any], gamma: float,
                 frames_per_step: int = 1, seed: int = 0, fps: float = 3.0):
        self.tasks, self.search_cfg, self.env_kwargs = list(tasks), search_cfg, dict(env_kwargs)
        self.gamma, self.frames_per_step, self.fps = float(gamma), int(frames_per_step), float(fps)
        self.replays: dict[str, ReplayEnv] = {}
        self.next_seed = SEARCH_SEED_BASE + 10_000 * int(seed)
        self.rounds: list[dict[str, Any]] = []
        # browser steps taken by the search's simulators so far (replays from a reset included):
        # the env-step axis of strategy 1's learning curve, comparable to strategy 2's env steps
        self.env_steps = 0
        self.budget: Callable[[], int] | None = None  # env steps left in the running collect (None: no cap)

    def replay(self, task: str) -> ReplayEnv:
        if task not in self.replays:
            self.replays[task] = ReplayEnv(WebEnv(task, **self.env_kwargs))
            self.replays[task].budget = self.budget
        return self.replays[task]

    def play(self, policy: Policy, task: str, seed: int) -> tuple[Episode, dict[str, Any]]:
        search = make_search(policy, self.replay(task), task, seed, self.search_cfg, self.frames_per_step,
                             self.fps)
        prefix: tuple = ()
        visits, expansions = [], 0
        while True:
            if search.sim.step_to(prefix).terminal:
                break
            result = search.search(prefix)
            expansions += result.expansions
            if result.action is None:
                break
            visits.append((visit_by_element(result), visit_by_kind(result)))
            prefix += (result.action,)
        final = search.sim.step_to(prefix)
        outcome = final.reward if final.terminal else -1.0
        observations = search.sim.observations(prefix)[:-1]
        episode = history_episode(task, observations, list(prefix), self.frames_per_step,
                                  search.sim.times(prefix)[:-1], self.fps)
        n = len(episode.steps)
        for t, (step, (visit, visit_kind)) in enumerate(zip(episode.steps, visits)):
            step.value = outcome * self.gamma ** (n - 1 - t)
            step.visit, step.visit_kind = visit, visit_kind
            step.expert = outcome > 0
        return episode, {"task": task, "seed": seed, "success": outcome > 0, "steps": n, "expansions": expansions}

    def state_dict(self) -> dict[str, Any]:
        return {"rounds": [dict(r) for r in self.rounds], "next_seed": int(self.next_seed),
                "env_steps": int(self.env_steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rounds[:] = [dict(r) for r in state["rounds"]]  # in place: the module logs this very list
        self.next_seed = int(state["next_seed"])
        self.env_steps = int(state.get("env_steps", 0))  # checkpoints from before the counter: 0

    def collect(self, policy: Policy, episodes_per_task: int, max_env_steps: int = 0) -> list[Episode]:
        """``episodes_per_task`` search episodes of every task, in task order; with ``max_env_steps`` > 0
        the simulators take at most that many steps in all: no episode starts once they are spent, and
        the episode whose search runs out of them is cut there and dropped (its steps still count)."""
        out, stats, failed = [], [], []
        steps_before = sum(r.steps for r in self.replays.values())
        dropped = 0  # steps of simulators closed after a failure (they count, but are no longer in replays)

        def spent() -> int:
            return self.env_steps + sum(r.steps for r in self.replays.values()) + dropped - steps_before

        self.budget = (lambda: max_env_steps - spent()) if max_env_steps > 0 else None
        for r in self.replays.values():
            r.budget = self.budget
        try:
            for task in self.tasks:
                for _ in range(int(episodes_per_task)):
                    if 0 < max_env_steps <= spent():
                        raise BudgetSpent
                    seed = train_seed(self.next_seed)
                    self.next_seed += 1
                    try:
                        episode, info = self.play(policy, task, seed)
                    except ZooError as err:  # this simulator's browser gave up: drop the episode, not the run
                        dropped += self.drop_replay(task)
                        failed.append({"task": task, "seed": seed, "reason": str(err)})
                        print(f"search episode dropped (task {task}, seed {seed}): {err}", file=sys.stderr)
                        continue
                    out.append(episode)
                    stats.append(info)
        except BudgetSpent:
            pass
        if failed and not stats:  # not one episode played: a broken setup, not a flaky page
            raise ZooError(f"every search episode of the round failed; the first, task '{failed[0]['task']}': "
                           f"{failed[0]['reason']}")
        self.env_steps += sum(r.steps for r in self.replays.values()) + dropped - steps_before
        if 0 < max_env_steps <= self.env_steps:
            # no simulator may take another step: shut their browsers (one per task, 49 at scale, ~12
            # processes each) instead of keeping them, and their pages' timers, alive through the updates
            self.close()
        self.rounds.append({
            "round": len(self.rounds) + 1, "episodes": len(stats), "env_steps": int(self.env_steps),
            "success_rate": sum(s["success"] for s in stats) / max(1, len(stats)),
            "mean_expansions": sum(s["expansions"] for s in stats) / max(1, len(stats)),
            "seeds": [s["seed"] for s in stats], "failed": failed,
        })
        return out

    def drop_replay(self, task: str) -> int:
        """Close ``task``'s simulator (the next episode of the task gets a new one); returns its steps."""
        replay = self.replays.pop(task, None)
        if replay is None:
            return 0
        try:
            replay.close()
        except Exception:  # noqa: BLE001 - a browser that failed may not close cleanly; it is gone either way
            pass
        return int(replay.steps)

    def close(self) -> None:
        for r in self.replays.values():
            r.close()
        self.replays.clear()


def pack_example(ex: Example) -> dict[str, Any]:
    """An encoded episode as tensors and plain values (what a weights-only checkpoint load accepts)."""
    return {f.name: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
            for f in dataclasses.fields(ex) for v in [getattr(ex, f.name)]}


def unpack_example(d: dict[str, Any]) -> Example:
    return Example(**{k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in d.items()})


class SearchReplay(IterableDataset):
    """Yields ready batches: ``updates_per_round`` from the buffer, then a collection round, forever."""

    def __init__(self, recorded: list[Example], builder: SequenceBuilder, collector: SearchCollector,
                 make_policy: Callable[[], Policy], batch_size: int, updates_per_round: int, episodes_per_round: int,
                 seed: int = 0, max_env_steps: int = 0):
        self.recorded, self.builder, self.collector = list(recorded), builder, collector
        self.make_policy = make_policy
        self.batch_size, self.updates_per_round = int(batch_size), max(1, int(updates_per_round))
        self.episodes_per_round = int(episodes_per_round)
        self.max_env_steps = int(max_env_steps)  # 0: no cap (RLConfig.max_env_steps)
        self.searched: list[Example] = []
        self.rng = random.Random(seed)
        self.skip = 0  # updates of the current round already done before a resume

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only: resumes load the checkpoint with ``weights_only=True``
        (``trainer.fit(..., weights_only=True)`` in stages.py), which refuses any other object."""
        return {"collector": self.collector.state_dict(), "searched": [pack_example(e) for e in self.searched],
                "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict[str, Any], global_step: int = 0) -> None:
        """Restore a checkpoint's search side; ``global_step`` places the resume inside the round."""
        self.collector.load_state_dict(state["collector"])
        self.searched = [unpack_example(e) for e in state["searched"]]
        self.rng.setstate(state["rng"])
        self.skip = int(global_step) % self.updates_per_round

    def sample(self) -> Batch:
        pool = self.recorded + self.searched
        # half of every batch comes from search episodes once there are some (they are few but on-policy)
        n_search = min(len(self.searched), self.batch_size // 2)
        picks = self.rng.sample(self.searched, n_search) if n_search else []
        picks += [self.rng.choice(pool) for _ in range(self.batch_size - n_search)]
        return collate(picks)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            skip, self.skip = self.skip, 0
            for _ in range(self.updates_per_round - skip):
                yield self.sample()
            capped = 0 < self.max_env_steps <= self.collector.env_steps
            if self.episodes_per_round > 0 and not capped:
                new = self.collector.collect(self.make_policy(), self.episodes_per_round, self.max_env_steps)
                self.searched = (self.searched + [self.builder.build(e) for e in new])[-MAX_SEARCH_EPISODES:]
