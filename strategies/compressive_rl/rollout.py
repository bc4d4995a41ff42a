"""Rollout collection from a vectorised env with the recurrent state carried across steps.

The rollout keeps the featurized observations (not the pages), the actions, their log-probs and
values, and the memory state at the rollout's start, so the PPO update can replay every env's
sequence in order and recompute log-probs with exactly the memory the actions were taken with.
"""
from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from components.attention import cat_state, index_state, map_state
from torch import Tensor

from strategies.compressive_rl.features import EpisodeTracker, Featurized, Featurizer, featurize_in_episode, stack
from strategies.compressive_rl.model import ActionModel, trim_padding
from strategies.compressive_rl.policy import NOOP, PRESS, SELECT, TYPE
from zoo.web.seeds import advance
from zoo.web.types import NAMED_KEYS, Action


def to_action(f: Featurized, act: np.ndarray) -> Any:
    """(slot, kind, arg) -> zoo.web.types.Action on the real element ids / strings."""
    slot, kind, arg = (int(v) for v in act)
    if slot >= len(f.el_slots):
        return Action.noop()
    eid = f.el_slots[slot]
    if kind == NOOP:
        return Action.noop()
    if kind == TYPE and arg < len(f.spans):
        return Action.type(eid, f.spans[arg])
    if kind == SELECT and arg < len(f.options):
        return Action.select(eid, f.options[arg])
    if kind == PRESS and arg < len(NAMED_KEYS):
        return Action.press(NAMED_KEYS[arg])
    return Action.click(eid)


def to_tensors(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, Tensor]:
    return {k: torch.as_tensor(v, device=device) for k, v in arrays.items()}


@torch.no_grad()
def policy_step(model: ActionModel, batch: dict[str, Tensor], state: Any, starts: Tensor,
                greedy: bool = False) -> tuple[Any, Any]:
    """One step of every env: encode, advance the memory, sample. Returns (ActionDist, new state)."""
    batch = trim_padding(batch, model.encoder.pad_id)
    enc = model.encoder(batch)
    h, state = model.core.step(enc.summary, state, starts)
    return model.heads(h, enc, batch, greedy=greedy), state


@dataclass
class Rollout:
    obs: dict[str, np.ndarray]  # featurized observations, each (T, N, ...)
    starts: np.ndarray  # (T, N) bool: obs[t] opens an episode (memory reset before it)
    actions: np.ndarray  # (T, N, 3)
    logp: np.ndarray  # (T, N)
    values: np.ndarray  # (T, N)
    rewards: np.ndarray  # (T, N)
    dones: np.ndarray  # (T, N) bool: the episode ended with this step
    init_state: Any  # memory state before obs[0] (detached)
    last_value: np.ndarray  # (N,) value of the observation after the last step
    episodes: list[dict] = field(default_factory=list)  # infos["episode"] of episodes that ended
    env_steps_per_s: float = 0.0
    # where the collection's wall time went (seconds): the browser (env.step: acting on the pages and
    # reading them back), the model (policy forward passes) and featurizing observations into arrays
    browser_s: float = 0.0
    model_s: float = 0.0
    featurize_s: float = 0.0
    # of model_s, the acting passes computed while another env group's browser step was in flight
    # (RolloutCollector groups): model time the pages did not wait for
    model_overlapped_s: float = 0.0


def training_rewards(rew: np.ndarray, term: np.ndarray, trunc: np.ndarray, infos: list[Any], values: np.ndarray,
                     timeout_reward: float, train_reward: str = "raw", step_penalty: float = 0.0) -> np.ndarray:
    """The env's step rewards as PPO learns from them; the benchmark's own scores are untouched.

    - ``train_reward="raw"`` (default): an episode's final step pays the page's raw verdict
      (``info["episode"]["raw_reward"]``, in [-1, 1]) instead of the env reward, which is that verdict
      decayed with the episode's wall-clock time: a function of machine load, so two runs with one
      seed would learn from different numbers.  ``"decayed"`` keeps the env reward as it is.
      Every step also pays ``-step_penalty`` (0 by default): a clock-free push towards short episodes.
    - Cut off at ``env.max_episode_steps`` (truncated, no error): add ``timeout_reward``. The page
      pays 0 for that and -1 for a wrong submission, so without it never finishing (e.g. typing
      forever without pressing Submit) beats trying, a trap a policy does not climb out of.
    - Lost to a browser failure (truncated with ``info["error"]``): the step's reward becomes the
      value estimate of its own state, so its TD error is 0 (a crash says nothing about the policy)
      instead of teaching the value net that this mid-episode state is worth 0.
    """
    out = np.asarray(rew, np.float32).copy() - np.float32(step_penalty)
    for i, info in enumerate(infos):
        episode = info.get("episode") if isinstance(info, dict) else None
        if train_reward == "raw" and term[i] and isinstance(episode, dict) and "raw_reward" in episode:
            out[i] += float(episode["raw_reward"]) - float(episode["reward"])  # the invalid-action penalty stays
        if not trunc[i] or term[i]:
            continue
        if isinstance(info, dict) and info.get("error"):
            out[i] = float(values[i])
        else:
            out[i] += timeout_reward
    return out


def env_groups(env: Any, groups: int) -> list[list[int]] | None:
    """The env's envs in up to ``groups`` groups of whole browsers (None: lock step)."""
    split = getattr(env, "host_groups", None)
    return split(groups) if split is not None and groups > 1 else None


class RolloutCollector:
    """Owns the running env loop between updates: current observations, episode starts, memory.

    ``groups`` (lists of env indices, e.g. ``VecWebEnv.host_groups()``) pipelines acting with the
    browsers: while one group's step is in flight, the policy computes the next group's actions, so
    one group's pages work while the model acts for another.  Each env sees
    the same tasks, seeds and memory as in lock step (one group, the default); only the batches the
    policy computes in (and so which random numbers each env's sample draws) differ."""

    def __init__(self, env: Any, featurizer: Featurizer, num_envs: int, seeds: list[int], timeout_reward: float = 0.0,
                 train_reward: str = "raw", step_penalty: float = 0.0, groups: list[list[int]] | None = None):
        self.env, self.featurizer, self.n = env, featurizer, num_envs
        self.timeout_reward = float(timeout_reward)
        self.train_reward, self.step_penalty = str(train_reward), float(step_penalty)  # see training_rewards
        self.groups = [list(g) for g in groups] if groups else [list(range(num_envs))]
        if len(self.groups) > 1 and not hasattr(env, "step_async"):
            raise ValueError("env groups need an env with step_async / step_wait (VecWebEnv)")
        if sorted(i for g in self.groups for i in g) != list(range(num_envs)):
            raise ValueError(f"env groups {self.groups} must split envs 0..{num_envs - 1}, each once")
        self.seeds = [int(s) for s in seeds]
        self.started = [1] * num_envs  # episodes begun per env since the last reset (seed stream position)
        self.obs = env.reset(seeds=self.seeds)
        self.starts = np.ones(num_envs, dtype=bool)
        self.state: Any = None
        self.episodes = EpisodeTracker(num_envs)  # per env: earlier instructions (typing candidates), no-ops in a row

    def restart(self) -> None:
        """Begin fresh episodes on every env (after the env was used for something else, e.g.
        validation), continuing each env's training-seed stream past every seed it already began."""
        self.seeds = [advance(s, k, self.n) for s, k in zip(self.seeds, self.started)]
        self.started = [1] * self.n
        self.obs = self.env.reset(seeds=self.seeds)
        self.starts = np.ones(self.n, dtype=bool)
        self.state = None

    def featurize(self, i: int) -> Featurized:
        """Env i's current observation, with its episode's earlier instructions and no-ops in a row."""
        return featurize_in_episode(self.featurizer, self.episodes, i, self.obs[i], bool(self.starts[i]))

    def _send(self, actions: list[Any], ids: list[int]) -> Any:
        if hasattr(self.env, "step_async"):
            return self.env.step_async(actions, envs=ids)
        return _Stepped(self.env.step(actions))  # an env with only step (one group): stepped at once

    def _wait(self, pending: Any) -> Any:
        return pending.outcome if isinstance(pending, _Stepped) else self.env.step_wait(pending)

    @torch.no_grad()
    def collect(self, model: ActionModel, steps: int, device: torch.device) -> Rollout:
        if self.state is None:
            self.state = model.init_state(self.n, device)
        init_state = map_state(lambda t: t.detach().clone(), self.state)
        n, groups = self.n, self.groups
        index = [torch.as_tensor(g, device=device) for g in groups]
        states = [index_state(self.state, ix) for ix in index]  # (None: a model without memory)
        # per step, per env: filled group by group as each group's step is taken and collected
        cols = {k: [[None] * n for _ in range(steps)] for k in ("feat", "start", "act", "logp", "value", "reward",
                                                                 "done")}
        episodes: list[dict] = []
        pending: list[Any] = [None] * len(groups)
        clock = _Clock(len(groups))
        t0 = time.perf_counter()

        def finish(g: int, t: int) -> None:
            """Collect group g's step t from the browsers and record its outcome."""
            with clock.waiting():
                obs, rew, term, trunc, infos = self._wait(pending[g])
            pending[g] = None
            clock.done(g)
            ids = groups[g]
            done = np.asarray(term, bool) | np.asarray(trunc, bool)
            values = np.asarray([cols["value"][t][i] for i in ids], np.float32)
            rewards = training_rewards(rew, term, trunc, infos, values, self.timeout_reward, self.train_reward,
                                       self.step_penalty)
            for j, i in enumerate(ids):
                self.obs[i] = obs[j]
                cols["reward"][t][i], cols["done"][t][i] = rewards[j], done[j]
                self.started[i] += int(done[j])  # autoreset began the next one
                self.starts[i] = done[j]
            episodes.extend(info["episode"] for info in infos if isinstance(info, dict) and "episode" in info)

        for t in range(steps):
            for g, ids in enumerate(groups):
                if pending[g] is not None:
                    finish(g, t - 1)
                with clock.computing():
                    fz = [self.featurize(i) for i in ids]
                    arrays = stack([f.arrays for f in fz])
                with clock.computing(model=True):
                    dist, states[g] = policy_step(model, to_tensors(arrays, device), states[g],
                                                  torch.as_tensor(self.starts[ids], device=device))
                    acts = dist.slot.cpu().numpy()
                    logp, value = dist.logp.cpu().numpy(), dist.value.cpu().numpy()
                for j, i in enumerate(ids):
                    cols["feat"][t][i], cols["start"][t][i] = fz[j].arrays, bool(self.starts[i])
                    cols["act"][t][i], cols["logp"][t][i], cols["value"][t][i] = acts[j], logp[j], value[j]
                    self.episodes.acted(i, int(acts[j][1]) == NOOP)
                pending[g] = self._send([to_action(f, a) for f, a in zip(fz, acts)], ids)
                clock.sent(g, getattr(pending[g], "future", None))
        for g in range(len(groups)):
            finish(g, steps - 1)
        elapsed = time.perf_counter() - t0
        order = torch.as_tensor(np.argsort(np.concatenate(groups)), device=device)
        self.state = index_state(cat_state(states), order)
        # bootstrap value of the next observation, without advancing the carried memory
        t = time.perf_counter()
        arrays = stack([self.featurize(i).arrays for i in range(n)])
        last, _ = policy_step(model, to_tensors(arrays, device), self.state, torch.as_tensor(self.starts, device=device))
        clock.model_s += time.perf_counter() - t
        feats = [stack(row) for row in cols["feat"]]
        return Rollout(
            obs={k: np.stack([f[k] for f in feats]) for k in feats[0]},
            starts=np.asarray(cols["start"], bool), actions=np.asarray(cols["act"]),
            logp=np.asarray(cols["logp"], np.float32), values=np.asarray(cols["value"], np.float32),
            rewards=np.asarray(cols["reward"], np.float32), dones=np.asarray(cols["done"], bool), init_state=init_state,
            last_value=last.value.cpu().numpy(), episodes=episodes,
            env_steps_per_s=steps * self.n / max(elapsed, 1e-9),
            browser_s=clock.browser_s, model_s=clock.model_s, featurize_s=clock.featurize_s,
            model_overlapped_s=clock.overlapped_s,
        )


@dataclass
class _Stepped:
    """A step of an env without step_async, taken already."""
    outcome: tuple


class _Clock:
    """Where a rollout's wall time went on the collecting thread: waiting for the browsers, the
    model's acting passes, featurizing; and how much of the acting passes' time a browser step of
    another group was still in flight beside (time the pages did not wait for the model: each step's
    end is stamped by the browser loop as it finishes)."""

    def __init__(self, groups: int):
        self.ends: list[float | None] = [None] * groups  # in flight: None while running, else when it ended
        self.in_flight = [False] * groups
        self.browser_s = self.model_s = self.featurize_s = self.overlapped_s = 0.0

    def sent(self, g: int, future: concurrent.futures.Future | None) -> None:
        """Group g's step went to the browsers (``future``: its step_async's; None: it is done already)."""
        self.in_flight[g], self.ends[g] = True, None if future is not None else time.perf_counter()
        if future is not None:
            future.add_done_callback(lambda _f: self.ends.__setitem__(g, time.perf_counter()))

    def done(self, g: int) -> None:
        self.in_flight[g] = False

    @contextmanager
    def waiting(self) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.browser_s += time.perf_counter() - t

    @contextmanager
    def computing(self, model: bool = False) -> Iterator[None]:
        a = time.perf_counter()
        busy = [g for g, f in enumerate(self.in_flight) if f]
        yield
        b = time.perf_counter()
        if not model:
            self.featurize_s += b - a
            return
        self.model_s += b - a
        if busy:  # the browsers worked until the last in-flight step ended (or still work)
            last = max(b if self.ends[g] is None else min(b, self.ends[g]) for g in busy)  # type: ignore[type-var]
            self.overlapped_s += max(0.0, last - a)
