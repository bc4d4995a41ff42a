"""Agents the harness can score.  Any object with ``reset`` and ``act`` works (``Agent``);
strategies return theirs from ``strategies.<pkg>.load_agent(checkpoint)``.

Optional attributes an agent may set: ``name`` (shown in results), ``screenshot`` (True if it
needs screenshots in observations) and ``screenshot_size``.  An agent that draws at random may
define ``start_episode(state, i, key)``: the harness calls it before env ``i``'s first ``act`` of
an episode with ``key = zoo.web.jobs.episode_key(task, seed)`` (an opaque number, not the seed),
so each episode can get its own generator and what one episode does never depends on which
other episodes ran before it, in which context, or whether a browser restart repeated them.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zoo.web.tasks.oracle import NEEDS_SCREENSHOT, ORACLES, oracle_action
from zoo.web.types import Action, Observation, instruction_spans

LAST_OBS = "_last_obs"  # the oracle memory key of the observation an env's last action was decided on
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
    picks a random option of a select; now and then presses a key or does nothing.

    Each episode the harness announces (``start_episode``) draws from its own generator seeded by
    (this agent's seed, the episode's key), so its actions are the same however the episodes are
    spread over contexts and whatever happened to other episodes.  Episodes nobody announced
    draw from one shared stream seeded by ``seed``."""

    name = "random"

    def __init__(self, seed: int = 0, p_key: float = 0.05, p_noop: float = 0.02):
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.p_key, self.p_noop = p_key, p_noop

    def reset(self, n_envs: int) -> dict[str, list]:
        # per env: the running episode's generator (None: the shared stream) and whether it was just announced
        return {"rng": [None] * n_envs, "announced": [False] * n_envs}

    def start_episode(self, state: dict[str, list], i: int, key: int) -> None:
        state["rng"][i] = np.random.default_rng([self.seed, int(key)])
        state["announced"][i] = True

    def act(self, observations: Sequence[Observation], state: Any, done_mask: np.ndarray) -> tuple[list[Action], Any]:
        if not isinstance(state, dict):  # a caller that skipped reset(): the shared stream only
            return [self._one(o, self.rng) for o in observations], state
        actions = []
        for i, obs in enumerate(observations):
            if done_mask[i] and not state["announced"][i]:
                state["rng"][i] = None  # a new episode nobody announced
            state["announced"][i] = False
            actions.append(self._one(obs, state["rng"][i] or self.rng))
        return actions, state

    def _one(self, obs: Observation, rng: np.random.Generator | None = None) -> Action:
        targets = [(e.id, e.tag, e.options, e.typable) for e in obs.elements if e.actionable and e.visible]
        kind, i, arg = random_draw(rng or self.rng, obs.instruction, targets, self.p_noop, self.p_key)
        if kind == "press":
            return Action.press(arg)
        if kind == "select":
            return Action.select(i, arg)
        if kind == "copy":
            return Action.copy(i, obs.instruction, *arg)
        if kind == "type":
            return Action.type(i, arg)
        return Action.click(i) if kind == "click" else Action.noop()


def random_draw(rng: np.random.Generator, instruction: str, targets: Sequence[tuple[int, str, Sequence[str], bool]],
                p_noop: float, p_key: float) -> tuple[str, int, Any]:
    """RandomAgent's choice, as (kind, element id, argument), over ``targets`` = (id, tag, options, typable) of
    the actionable visible elements: now and then a no-op or a key, else a uniform element: a random option
    of a select, an instruction span copied into a text field (``copy``, argument (start, end); ``type``
    "text" when the instruction has none), a click otherwise.  Shared with the raw loop of ``zoo bench env``
    (zoo/web/raw_loop.py), which applies it to the page's rows without building Observations."""
    u = rng.random()
    if u < p_noop:
        return "noop", 0, None
    if u < p_noop + p_key:
        return "press", 0, str(rng.choice(RANDOM_KEYS))
    if not targets:
        return "noop", 0, None
    i, tag, options, typable = targets[int(rng.integers(len(targets)))]
    if tag == "select" and options:
        return "select", i, str(rng.choice(options))
    if typable:
        spans = instruction_spans(instruction)
        if spans:
            return "copy", i, spans[int(rng.integers(len(spans)))]
        return "type", i, "text"
    return "click", i, None


AT_LEAD_MS = 300.0  # a timed action is sent this long before its time at most (see OracleAgent)


def held_ms(action: Action) -> float | None:
    """How long ``action`` holds its env's step before acting: a wait's length, the time until an action's
    ``at_ms`` (the page's clock is the machine's: ``Date.now()`` in the browser), else None."""
    if action.at_ms is not None:
        return max(0.0, float(action.at_ms) - time.time() * 1000.0)
    if action.kind == "wait" and not action.until_still:  # a settle lasts until the page is still
        return float(action.ms)
    return None


def cuttable(action: Action) -> bool:
    """A wait of a set length (not ``wait_until``, not ``settle``): the oracle agent may cut it short."""
    return action.kind == "wait" and action.at_ms is None and not action.until_still


class OracleAgent:
    """The scripted per-task oracle (zoo/web/tasks/) with a memory dict per env.

    Oracles wait with ``wait`` actions, which every env carries out in its own step at the same time.  The
    vectorised step ends when its slowest env is done, so every wait of a step is cut to the shortest one
    asked for, and to none when an env acts now: no env looks or acts later than it wanted to because another
    env waits longer (the longer waiter looks once more and waits again).  An action timed by the page's
    clock (``Action.at_ms``) counts as a wait until its time; those due within ``AT_LEAD_MS`` of the step's
    end (the shortest wait, at once when an env acts now, or the latest timed action sent) are sent, any
    other becomes a wait to the step's end (its oracle sends it again then), so a timed action is sent at
    least ``AT_LEAD_MS`` before its time and an env acting now is held by a timed action at most
    ``AT_LEAD_MS``.  A ``settle`` (until the page is still) counts as acting now: it is never cut, since cutting
    it would make the number of steps an animation takes depend on the machine.  When an observation was taken
    is its own ``time_ms`` (the page's clock).  An env handed
    the same observation object again was not stepped (it is idle): it gets a no-op and no say in the waits."""

    name = "oracle"

    def __init__(self, tasks: Sequence[str] = ()):
        # full-size screenshots (size 0) only when a task's oracle reads pixels: they cost a capture per step
        self.screenshot = any(t in NEEDS_SCREENSHOT for t in tasks)
        self.screenshot_size = 0

    @property
    def tasks(self) -> frozenset[str]:
        return frozenset(ORACLES)

    def reset(self, n_envs: int) -> list[dict]:
        return [{} for _ in range(n_envs)]

    def act(self, observations: Sequence[Observation], state: list[dict], done_mask: np.ndarray) -> tuple[list[Action], Any]:
        actions, idle = [], set()
        for i, obs in enumerate(observations):
            if done_mask[i]:  # a new episode: a fresh memory
                state[i] = {}
            if state[i].get(LAST_OBS) is obs:  # the env did not step (an idle env): its action is not carried out
                actions.append(Action.noop())
                idle.add(i)
                continue
            state[i][LAST_OBS] = obs
            actions.append(oracle_action(obs, state[i]))
        delays = [None if i in idle else held_ms(a) for i, a in enumerate(actions)]
        waits = [a.ms for i, a in enumerate(actions) if cuttable(a) and i not in idle]
        timed = sorted((d, i) for i, (a, d) in enumerate(zip(actions, delays)) if a.at_ms is not None and d is not None)
        acting = any(d is None and i not in idle for i, d in enumerate(delays))
        # an env acting now decides again as soon as its action is done: the waits end then too (a waiting oracle
        # looks once more and waits again; waits are not counted by the step cut-off)
        shortest = 0.0 if acting else min(waits + [d for d, _ in timed], default=0.0)
        # the step lasts as long as its shortest wait (none when an env acts now), or the longest timed action
        # sent: send every one due within AT_LEAD_MS of that, so an env not sent decides again at least
        # AT_LEAD_MS before its time, and an env acting now is not held by a timed action far off
        step_ms, sent = shortest, set()
        for d, i in timed:
            if d <= step_ms + AT_LEAD_MS:
                step_ms, sent = max(step_ms, d), sent | {i}
        for i, (a, d) in enumerate(zip(actions, delays)):
            if cuttable(a) and a.ms > shortest:
                actions[i] = Action.wait(shortest)
            elif a.at_ms is not None and d is not None and i not in sent:  # timed by the page's clock, not yet due:
                actions[i] = Action.wait(min(step_ms, d - AT_LEAD_MS))  # decide again when this step ends
        return actions, state
