"""Tree search in the real browser, for training only: the simulator replays a *training* episode
from its seed, the policy gives PUCT priors and the value head evaluates leaves; terminal states
carry the page's reward, the RL stage's signal (``rl.py``; ``mcts.py`` holds the search itself).
At evaluation no browser is replayed and no reward is read: ``lookahead.py`` predicts the states
below the live one instead.

A node's state is reached by ``WebEnv.reset(seed)`` and stepping its action prefix; every prefix
passed on the way is cached (observation, terminal flag, reward), and when the requested prefix
extends the one the browser is at, only the missing actions are stepped.  Clicking a link loads
the next page, so that child's candidate actions come from the new page's DOM tree.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from strategies.foundation.data import terminal_value
from strategies.foundation.instructions import action_line
from strategies.foundation.mcts import MCTS, Outcome
from strategies.foundation.policy import Policy
from strategies.foundation.screencast import sample_frames
from strategies.foundation.sequence import Episode, Step
from zoo.web.types import Action, Observation


def action_key(a: Action) -> tuple:
    return (a.kind, a.element, a.text, a.option, a.key)


class BudgetSpent(Exception):
    """The simulators' env-step budget ran out in the middle of a search (``ReplayEnv.budget``)."""


class ReplayEnv:
    """A WebEnv shared by the simulators of one task; ``owner``/``at`` say whose prefix it is at.

    max_age_s: an episode older than this is replayed from a reset rather than continued (MiniWoB
    pages time out after ~10 s; a long-running replay must not turn into a timeout failure).
    budget: None, or a function giving the env steps still allowed (shared by every task's
    simulators): a step beyond it raises ``BudgetSpent`` instead of reaching the browser.
    """

    def __init__(self, env: Any, max_age_s: float = 5.0):
        self.env, self.owner, self.at = env, None, None
        self.max_age_s, self.started = float(max_age_s), 0.0
        self.resets = self.steps = 0
        self.budget: Callable[[], int] | None = None

    def fresh(self) -> bool:
        return time.monotonic() - self.started < self.max_age_s

    def close(self) -> None:
        self.env.close()


class BrowserSimulator:
    """``step_to(prefix)`` for one episode (task + seed) on a shared ``ReplayEnv``."""

    def __init__(self, replay: ReplayEnv, seed: int):
        self.replay, self.seed = replay, int(seed)
        self.cache: dict[tuple, Outcome] = {}
        self.clock: dict[tuple, float] = {}  # prefix -> seconds since the episode start its observation came

    def _reset(self) -> Observation:
        obs, _ = self.replay.env.reset(seed=self.seed)
        self.replay.owner, self.replay.at, self.replay.started = self, (), time.monotonic()
        self.replay.resets += 1
        self.cache[()] = Outcome(obs, False, 0.0, obs.page)
        self.clock.setdefault((), 0.0)
        return obs

    def step_to(self, prefix: tuple) -> Outcome:
        keys = tuple(action_key(a) for a in prefix)
        if keys in self.cache:
            return self.cache[keys]
        r = self.replay
        if r.owner is self and r.at is not None and keys[: len(r.at)] == r.at and r.fresh():
            start = len(r.at)
        else:
            self._reset()
            start = 0
        for i in range(start, len(prefix)):
            if r.budget is not None and r.budget() <= 0:
                raise BudgetSpent
            obs, reward, terminated, truncated, info = r.env.step(prefix[i])
            r.steps += 1
            self.clock.setdefault(keys[: i + 1], time.monotonic() - r.started)
            if terminated or truncated:
                summary = info.get("episode", {})
                value = terminal_value(summary.get("raw_reward", reward), truncated and not terminated)
                out = Outcome(obs, True, value, obs.page)
                self.cache[keys[: i + 1]] = out
                r.at = None
                return out
            self.cache[keys[: i + 1]] = Outcome(obs, False, 0.0, obs.page)
            r.at = keys[: i + 1]
        return self.cache[keys]

    def remember(self, prefix: tuple, observations: list[Observation], times: list[float] | None = None) -> None:
        """Seed the cache with observations already seen in the real episode (replay is deterministic
        from the seed), so the search's root costs no browser call; ``times``: when they came."""
        keys = tuple(action_key(a) for a in prefix)
        for i, obs in enumerate(observations[: len(prefix) + 1]):
            self.cache.setdefault(keys[:i], Outcome(obs, False, 0.0, obs.page))
            if times is not None and i < len(times):
                self.clock[keys[:i]] = float(times[i])

    def times(self, prefix: tuple) -> list[float]:
        """When the observation before each action of ``prefix`` (and after the last) came, in
        seconds since the episode start (monotonic, as ``sample_frames`` needs)."""
        keys = tuple(action_key(a) for a in prefix)
        out: list[float] = []
        for i in range(len(prefix) + 1):
            out.append(max(self.clock.get(keys[:i], 0.0), out[-1] if out else 0.0))
        return out

    def observations(self, prefix: tuple) -> list[Observation]:
        """The observation before each action of ``prefix`` and after the last one (all cached)."""
        return [self.step_to(prefix[:i]).observation for i in range(len(prefix) + 1)]


def history_episode(task: str, observations: list[Observation], actions: list[Action],
                    frames_per_step: int = 1, times: list[float] | None = None, fps: float = 3.0) -> Episode:
    """The model's view of a live episode: past steps with their actions and lines, the last one open.

    Per step its frames are sampled from the stream of observation screenshots (stamped with
    ``times``, seconds since the episode start; default one per frame period) by the rule the
    dataset reader uses on the recordings (``screencast.sample_frames``)."""
    steps = []
    shots = [o.screenshot for o in observations]
    times = list(times) if times is not None else [i / fps for i in range(len(observations))]
    for t, obs in enumerate(observations):
        picked = sample_frames(times[: t + 1], t, fps, frames_per_step) if frames_per_step > 1 else [t]
        recent = [shots[i] for i in picked if shots[i] is not None]
        action = actions[t] if t < len(actions) else None
        steps.append(Step(obs.instruction, obs.elements, np.stack(recent) if recent else None, action,
                          action_line(action, obs.elements) if action is not None else None, page=obs.page))
    return Episode(task, steps)


class PolicyEvaluator:
    """MCTS evaluator: candidates and priors from the policy, leaf value from the value head."""

    def __init__(self, policy: Policy, simulator: BrowserSimulator, task: str, frames_per_step: int = 1,
                 fps: float = 3.0):
        self.policy, self.sim, self.task, self.frames_per_step = policy, simulator, task, frames_per_step
        self.fps = float(fps)
        self.calls = 0

    def evaluate(self, prefix: tuple, outcome: Outcome) -> tuple[list[Action], list[float], float]:
        self.calls += 1
        episode = history_episode(self.task, self.sim.observations(prefix), list(prefix), self.frames_per_step,
                                  self.sim.times(prefix), self.fps)
        d = self.policy.decide([episode])[0]
        return d.candidates, d.priors, d.value


def make_search(policy: Policy, replay: ReplayEnv, task: str, seed: int, search_cfg: Any,
                frames_per_step: int = 1, fps: float = 3.0) -> MCTS:
    sim = BrowserSimulator(replay, seed)
    return MCTS(sim, PolicyEvaluator(policy, sim, task, frames_per_step, fps), simulations=int(search_cfg.simulations),
                c_puct=float(search_cfg.c_puct), max_depth=int(search_cfg.max_depth), gamma=float(search_cfg.gamma),
                key=action_key)


def visit_by_element(result: Any) -> dict[int, float]:
    """Root visit shares keyed by element id (the pointer head's distillation target)."""
    out: dict[int, float] = {}
    for action, share in zip(result.root.actions, result.policy):
        if action.element is not None:
            out[int(action.element)] = out.get(int(action.element), 0.0) + float(share)
    return out


def visit_by_kind(result: Any) -> dict[str, float]:
    """Root visit shares keyed by action kind (the kind head's distillation target).

    With ``visit_by_element`` this distils the search over whole actions: the root's candidates
    (``Policy.decide``) are one action per element -- its kind, typed text or option fixed by the
    kind and span heads -- plus at most one key press, so the visits are fully described by the
    element they act on and their kind (a key press is the kind "press"; its key is the key
    head's choice).  Typed text is not a search choice (one text per element), so there is no
    visit distribution over texts to distil; successful search episodes still teach their typed
    text and keys as supervised targets (``step.expert``)."""
    out: dict[str, float] = {}
    for action, share in zip(result.root.actions, result.policy):
        out[action.kind] = out.get(action.kind, 0.0) + float(share)
    return out
