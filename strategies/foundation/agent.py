"""``FoundationAgent``: the zoo.web.agents.Agent of Strategy 1, the policy alone or policy + search.

With search, each decision runs MCTS from the live state with the policy's priors and the value
head at the leaves; the states below the root are predicted (``lookahead.py``), never stepped in a
browser: the agent sees only its observations, as a deployed agent would -- no episode seed, no
second copy of the page, no reward before it commits an action.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.foundation.lookahead import make_value_search
from strategies.foundation.policy import Policy
from strategies.foundation.search import history_episode
from zoo.web.types import Action, Observation


@dataclass
class EnvState:
    """Per env: the live episode's observations (and when they came, seconds since its start: the
    frames are sampled from them at ``fps`` as from a recording), its actions and search sizes."""

    observations: list[Observation] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)
    actions: list[Action] = field(default_factory=list)
    expansions: list[int] = field(default_factory=list)


class FoundationAgent:
    """policy: ``Policy``.  search_cfg: SearchConfig (None: no search, the policy acts alone)."""

    name = "strategy1"
    screenshot = False  # set from the model config by load_agent (the benchmark reads these)
    screenshot_size = 64

    def __init__(self, policy: Policy, search_cfg: Any = None, frames_per_step: int = 1, fps: float = 3.0):
        self.policy, self.search_cfg = policy, search_cfg
        self.frames_per_step, self.fps = int(frames_per_step), float(fps)
        self.stats = {"decisions": 0, "searched": 0, "expansions": 0}

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
                searched = self._search(obs, st)
                if searched is not None:
                    actions[i] = searched
        for st, action in zip(state, actions):
            st.actions.append(action)
        self.stats["decisions"] += len(actions)
        return actions, state

    def _search(self, obs: Observation, st: EnvState) -> Action | None:
        # a fresh tree per decision: the nodes below the last root were predictions, and the page's
        # real answer to the committed action may differ from them
        search = make_value_search(self.policy, obs.task, st.observations, st.actions, st.times, self.search_cfg,
                                   self.frames_per_step, self.fps)
        result = search.search(tuple(st.actions))
        st.expansions.append(result.expansions)
        self.stats["searched"] += 1
        self.stats["expansions"] += result.expansions
        return result.action

    def prepare(self, tasks: list[str]) -> None:
        """Nothing to start: the search needs no browser of its own."""

    def close(self) -> None:
        """Nothing to close (see ``prepare``)."""
