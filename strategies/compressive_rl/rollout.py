"""Rollout collection from a vectorised env with the recurrent state carried across steps.

The rollout keeps the featurized observations (not the pages), the actions, their log-probs and
values, and the memory state at the rollout's start, so the PPO update can replay every env's
sequence in order and recompute log-probs with exactly the memory the actions were taken with.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from components.attention import map_state
from torch import Tensor

from strategies.compressive_rl.features import Featurized, Featurizer, stack
from strategies.compressive_rl.model import ActionModel, trim_padding
from strategies.compressive_rl.policy import SELECT, TYPE
from zoo.web.seeds import advance
from zoo.web.types import Action


def to_action(f: Featurized, act: np.ndarray) -> Any:
    """(slot, kind, arg) -> zoo.web.types.Action on the real element ids / strings."""
    slot, kind, arg = (int(v) for v in act)
    if slot >= len(f.el_slots):
        return Action.noop()
    eid = f.el_slots[slot]
    if kind == TYPE and arg < len(f.spans):
        return Action.type(eid, f.spans[arg])
    if kind == SELECT and arg < len(f.options):
        return Action.select(eid, f.options[arg])
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


class RolloutCollector:
    """Owns the running env loop between updates: current observations, episode starts, memory."""

    def __init__(self, env: Any, featurizer: Featurizer, num_envs: int, seeds: list[int], timeout_reward: float = 0.0,
                 train_reward: str = "raw", step_penalty: float = 0.0):
        self.env, self.featurizer, self.n = env, featurizer, num_envs
        self.timeout_reward = float(timeout_reward)
        self.train_reward, self.step_penalty = str(train_reward), float(step_penalty)  # see training_rewards
        self.seeds = [int(s) for s in seeds]
        self.started = [1] * num_envs  # episodes begun per env since the last reset (seed stream position)
        self.obs = env.reset(seeds=self.seeds)
        self.starts = np.ones(num_envs, dtype=bool)
        self.state: Any = None

    def restart(self) -> None:
        """Begin fresh episodes on every env (after the env was used for something else, e.g.
        validation), continuing each env's training-seed stream past every seed it already began."""
        self.seeds = [advance(s, k, self.n) for s, k in zip(self.seeds, self.started)]
        self.started = [1] * self.n
        self.obs = self.env.reset(seeds=self.seeds)
        self.starts = np.ones(self.n, dtype=bool)
        self.state = None

    @torch.no_grad()
    def collect(self, model: ActionModel, steps: int, device: torch.device) -> Rollout:
        if self.state is None:
            self.state = model.init_state(self.n, device)
        init_state = map_state(lambda t: t.detach().clone(), self.state)
        feats, starts, actions, logps, values, rewards, dones, episodes = [], [], [], [], [], [], [], []
        t0 = time.perf_counter()
        browser_s = model_s = featurize_s = 0.0
        for _ in range(steps):
            t = time.perf_counter()
            fz = [self.featurizer(o) for o in self.obs]
            arrays = stack([f.arrays for f in fz])
            t, featurize_s = time.perf_counter(), featurize_s + time.perf_counter() - t
            dist, self.state = policy_step(model, to_tensors(arrays, device), self.state,
                                           torch.as_tensor(self.starts, device=device))
            acts = dist.slot.cpu().numpy()
            t, model_s = time.perf_counter(), model_s + time.perf_counter() - t
            self.obs, rew, term, trunc, infos = self.env.step([to_action(f, a) for f, a in zip(fz, acts)])
            browser_s += time.perf_counter() - t
            done = np.asarray(term, bool) | np.asarray(trunc, bool)
            feats.append(arrays)
            starts.append(self.starts.copy())
            actions.append(acts)
            logps.append(dist.logp.cpu().numpy())
            values.append(dist.value.cpu().numpy())
            rewards.append(training_rewards(rew, term, trunc, infos, values[-1], self.timeout_reward,
                                            self.train_reward, self.step_penalty))
            dones.append(done)
            episodes += [info["episode"] for info in infos if isinstance(info, dict) and "episode" in info]
            self.started = [k + int(d) for k, d in zip(self.started, done)]  # autoreset began the next one
            self.starts = done
        elapsed = time.perf_counter() - t0
        # bootstrap value of the next observation, without advancing the carried memory
        t = time.perf_counter()
        arrays = stack([self.featurizer(o).arrays for o in self.obs])
        last, _ = policy_step(model, to_tensors(arrays, device), self.state, torch.as_tensor(self.starts, device=device))
        model_s += time.perf_counter() - t
        return Rollout(
            obs={k: np.stack([f[k] for f in feats]) for k in feats[0]},
            starts=np.stack(starts), actions=np.stack(actions), logp=np.stack(logps), values=np.stack(values),
            rewards=np.stack(rewards), dones=np.stack(dones), init_state=init_state,
            last_value=last.value.cpu().numpy(), episodes=episodes,
            env_steps_per_s=steps * self.n / max(elapsed, 1e-9),
            browser_s=browser_s, model_s=model_s, featurize_s=featurize_s,
        )
