"""``FoundationAgent``: the zoo.web.agents.Agent of Strategy 1, the policy alone or policy + MCTS.

With search, each decision runs MCTS from the live episode's state, replaying the episode in a
separate browser from its seed (the agent learns the seed from ``obs.seed`` when the benchmark
sets it, or from ``seed_hints`` set by the caller); where no seed is known the plain policy acts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.foundation.policy import Policy
from strategies.foundation.search import ReplayEnv, history_episode, make_search
from zoo.web.types import Action, Observation


@dataclass
class EnvState:
    """Per env: the live episode's observations (and when they came, seconds since its start: the
    frames are sampled from them at ``fps`` as from a recording) and actions, its seed and search tree."""

    observations: list[Observation] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)
    actions: list[Action] = field(default_factory=list)
    seed: int | None = None
    search: Any = None
    expansions: list[int] = field(default_factory=list)


class FoundationAgent:
    """policy: ``Policy``.  search_cfg: SearchConfig (None: no search).  env_kwargs: WebEnv options of
    the simulator browsers (max_episode_steps must match the benchmark's)."""

    name = "strategy1"
    screenshot = False  # set from the model config by load_agent (the benchmark reads these)
    screenshot_size = 64

    def __init__(self, policy: Policy, search_cfg: Any = None, env_kwargs: dict[str, Any] | None = None,
                 frames_per_step: int = 1, fps: float = 3.0):
        self.policy, self.search_cfg = policy, search_cfg
        self.env_kwargs = dict(env_kwargs or {})
        self.frames_per_step, self.fps = int(frames_per_step), float(fps)
        self.replays: dict[str, ReplayEnv] = {}
        self.seed_hints: dict[int, int] = {}  # env index -> seed of its current episode
        self.stats = {"decisions": 0, "searched": 0, "expansions": 0, "no_seed": 0}

    @property
    def uses_search(self) -> bool:
        return self.search_cfg is not None

    def reset(self, n_envs: int) -> list[EnvState]:
        return [EnvState() for _ in range(n_envs)]

    def act(self, observations: list[Observation], state: list[EnvState] | None,
            done_mask: Any = None) -> tuple[list[Action], list[EnvState]]:
        state = state if state is not None else self.reset(len(observations))
        done = np.ones(len(observations), bool) if done_mask is None else np.asarray(done_mask, bool)
        for i, obs in enumerate(observations):
            if done[i] or not state[i].observations:
                state[i] = EnvState()
            state[i].observations.append(obs)
            state[i].times.append(time.monotonic() - state[i].start)
        episodes = [history_episode(obs.task, st.observations, st.actions, self.frames_per_step, st.times, self.fps)
                    for obs, st in zip(observations, state)]
        actions = [d.action for d in self.policy.decide(episodes)]
        if self.uses_search:
            for i, (obs, st) in enumerate(zip(observations, state)):
                searched = self._search(i, obs, st)
                if searched is not None:
                    actions[i] = searched
        for st, action in zip(state, actions):
            st.actions.append(action)
        self.stats["decisions"] += len(actions)
        return actions, state

    def _search(self, i: int, obs: Observation, st: EnvState) -> Action | None:
        seed = getattr(obs, "seed", None)
        seed = self.seed_hints.get(i) if seed is None else seed
        if seed is None:
            self.stats["no_seed"] += 1
            return None
        if st.search is None or st.seed != seed:
            st.seed = int(seed)
            st.search = make_search(self.policy, self.replay_env(obs.task), obs.task, st.seed, self.search_cfg,
                                    self.frames_per_step, self.fps)
        st.search.sim.remember(tuple(st.actions), st.observations, st.times)
        result = st.search.search(tuple(st.actions))
        st.expansions.append(result.expansions)
        self.stats["searched"] += 1
        self.stats["expansions"] += result.expansions
        return result.action

    def prepare(self, tasks: list[str]) -> None:
        """Start the simulator browsers before episodes begin (a launch would eat an episode's time)."""
        if self.uses_search:
            for task in tasks:
                self.replay_env(task)

    def replay_env(self, task: str) -> ReplayEnv:
        if task not in self.replays:
            from zoo.web.env import WebEnv

            self.replays[task] = ReplayEnv(WebEnv(task, **self.env_kwargs))
        return self.replays[task]

    def close(self) -> None:
        for replay in self.replays.values():
            replay.close()
        self.replays.clear()
