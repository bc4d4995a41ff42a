"""Agents the harness can score.  Any object with ``reset`` and ``act`` works (``Agent``);
strategies return theirs from ``strategies.<pkg>.load_agent(checkpoint)``.

Optional attributes an agent may set: ``name`` (shown in results), ``screenshot`` (True if it
needs screenshots in observations) and ``screenshot_size``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zoo.web.tasks.oracle import ORACLES, oracle_action
from zoo.web.types import Action, Observation, instruction_spans

RANDOM_KEYS = ("Enter", "Tab", "Backspace", "ArrowDown", "ArrowUp", "Space")


@runtime_checkable
class Agent(Protocol):
    def reset(self, n_envs: int) -> Any:
        """Fresh per-env state (e.g. recurrent memory) for ``n_envs`` envs."""

    def act(self, observations: Sequence[Observation], state: Any, done_mask: np.ndarray) -> tuple[list[Action], Any]:
        """One action per env.  ``done_mask[i]`` is True when env i's observation starts a new
        episode, so its per-env state must be cleared first."""


class RandomAgent:
    """Uniform over actionable visible elements: clicks, types an instruction span into text fields,
    picks a random option of a select; now and then presses a key or does nothing."""

    name = "random"

    def __init__(self, seed: int = 0, p_key: float = 0.05, p_noop: float = 0.02):
        self.rng = np.random.default_rng(seed)
        self.p_key, self.p_noop = p_key, p_noop

    def reset(self, n_envs: int) -> None:
        return None

    def act(self, observations: Sequence[Observation], state: Any, done_mask: np.ndarray) -> tuple[list[Action], Any]:
        return [self._one(o) for o in observations], state

    def _one(self, obs: Observation) -> Action:
        u = self.rng.random()
        if u < self.p_noop:
            return Action.noop()
        if u < self.p_noop + self.p_key:
            return Action.press(str(self.rng.choice(RANDOM_KEYS)))
        targets = [e for e in obs.elements if e.actionable and e.visible]
        if not targets:
            return Action.noop()
        e = targets[int(self.rng.integers(len(targets)))]
        if e.tag == "select" and e.options:
            return Action.select(e.id, str(self.rng.choice(e.options)))
        if e.typable:
            spans = instruction_spans(obs.instruction)
            if spans:
                start, end = spans[int(self.rng.integers(len(spans)))]
                return Action.copy(e.id, obs.instruction, start, end)
            return Action.type(e.id, "text")
        return Action.click(e.id)


class OracleAgent:
    """The scripted per-task oracle (zoo/web/tasks/) with a memory dict per env."""

    name = "oracle"

    @property
    def tasks(self) -> frozenset[str]:
        return frozenset(ORACLES)

    def reset(self, n_envs: int) -> list[dict]:
        return [{} for _ in range(n_envs)]

    def act(self, observations: Sequence[Observation], state: list[dict], done_mask: np.ndarray) -> tuple[list[Action], Any]:
        actions = []
        for i, obs in enumerate(observations):
            if done_mask[i]:
                state[i] = {}
            actions.append(oracle_action(obs, state[i]))
        return actions, state
