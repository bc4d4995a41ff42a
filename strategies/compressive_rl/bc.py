"""Behaviour cloning from oracle demonstrations: Strategy 2's warm start before PPO (``ppo.bc_demos_per_task``,
as CC-Net does) and the training step of its few-shot adaptation (finetune.py).

1. ``demonstration_jobs``: the (task, seed) of every demonstration.  The seeds are the ones Strategy 1's
   recording plan gives its oracle episodes (``strategies/foundation/recording.py:episode_plan``) for the same
   run seed and task list, so with ``ppo.bc_demos_per_task == foundation.data.episodes_per_task`` both
   strategies learn from the same pages (tests/test_strategy2_bc.py checks the two plans agree).
2. ``record_demonstrations``: the scripted oracle (zoo/web/tasks/) plays them on the run's own browser env;
   each step is featurized with the run's ``Featurizer`` and the oracle's action mapped to the agent's action
   slots by ``oracle_slots`` (the inverse of ``rollout.to_action``).  A step the agent cannot express (a key
   press without ``ppo.press_keys`` or of an unnamed key, a mouse action, text that is not a candidate span,
   an element outside its slots) keeps its
   observation, so the memory sees the page as it was, but adds nothing to the loss; it is counted.
   Episodes the oracle did not solve are dropped and counted.
3. ``behaviour_clone``: maximises the log-probability of the oracle's (slot, kind, arg) under the policy, each
   episode replayed in order through the encoder and the memory core from an empty memory (the same
   recurrence as PPO's replay), for ``epochs`` passes over the demonstrations.
4. with ``ppo.bc_coef``, PPO keeps adding that loss on a few demonstrations per minibatch step (``replay_draw``
   picks them; module.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from components.optim import warmup_cosine
from strategies.compressive_rl.features import EpisodeTracker, Featurized, Featurizer, featurize_in_episode, stack
from strategies.compressive_rl.model import trim_padding
from strategies.compressive_rl.policy import CLICK, NOOP, PRESS, SELECT, TYPE
from zoo.web.seeds import train_seed
from zoo.web.tasks.oracle import oracle_action
from zoo.web.types import NAMED_KEYS, Action

EPISODES_PER_BATCH = 16


# ---------------------------------------------------------------- the oracle's action in the agent's slots
def oracle_slots(f: Featurized, action: Any) -> tuple[int, int, int] | None:
    """``(slot, kind, arg)`` with ``to_action(f, (slot, kind, arg)) == action``, or None when the agent's action
    space cannot express ``action`` (a kind other than click / type / select, or press of a named key when
    ``f.press_keys``; an element that is not one of the agent's clickable slots, text that is not one of the
    candidate spans, an option not offered).  A press is pointed at the focused element when it is a slot; with
    ``f.noop`` a wait or no-op becomes the no-op kind there (a wait's time becomes one step's)."""
    a = f.arrays
    kind = getattr(action, "kind", None)
    if kind == "press" and f.press_keys and action.key in NAMED_KEYS:
        return focus_slot(f), PRESS, NAMED_KEYS.index(action.key)
    if kind in ("noop", "wait") and f.noop:  # a wait lets the page's time pass; a no-op step stands in
        return (focus_slot(f), NOOP, 0) if f.arrays["noop_ok"] else None  # not past ppo.noop_limit in a row
    if kind not in ("click", "type", "select") or action.element is None or action.element not in f.el_slots:
        return None
    slot = f.el_slots.index(action.element)
    if not (a["el_valid"][slot] and a["el_click"][slot]):  # the pointer only reaches clickable elements
        return None
    if kind == "click":
        return slot, CLICK, 0
    if kind == "type":
        if not a["el_type"][slot] or action.text not in f.spans:
            return None
        return slot, TYPE, f.spans.index(action.text)
    if not a["el_select"][slot]:
        return None
    owned = [k for k, text in enumerate(f.options) if int(a["opt_owner"][k]) == slot and text == action.option]
    return (slot, SELECT, owned[0]) if owned else None


def focus_slot(f: Featurized) -> int:
    """Where an element-less action (a press, a no-op) points: the focused element when it is a clickable slot,
    else the placeholder's slot."""
    if f.focus_slot >= 0 and f.arrays["el_click"][f.focus_slot]:
        return f.focus_slot
    return placeholder_slots(f)[0]


def placeholder_slots(f: Featurized) -> tuple[int, int, int]:
    """An action the policy can score (first clickable slot, click) for steps outside the loss."""
    allowed = np.flatnonzero(f.arrays["el_valid"] & f.arrays["el_click"])
    return (int(allowed[0]) if len(allowed) else 0), CLICK, 0


# ---------------------------------------------------------------- which demonstrations
def demonstration_seed(run_seed: int, task_index: int, i: int) -> int:
    """The i-th demonstration seed of the task at ``task_index``: Strategy 1's oracle-episode seeds
    (strategies/foundation/recording.py:episode_plan), in the training range."""
    return train_seed(int(run_seed) * 100_003 + int(task_index) * 10_007 + int(i))


def demonstration_jobs(tasks: list[str], per_task: int, run_seed: int, first: int = 0) -> list[tuple[str, int]]:
    """``per_task`` demonstrations of each task, the ``first``-th of its stream onwards."""
    return [(task, demonstration_seed(run_seed, t, i)) for t, task in enumerate(tasks)
            for i in range(int(first), int(first) + int(per_task))]


def validation_jobs(tasks: list[str], per_task: int, val_per_task: int, run_seed: int) -> list[tuple[str, int]]:
    """The demonstrations scored but not cloned (``ppo.bc_val_demos_per_task``): each task's stream after its
    ``per_task`` cloned ones, so no validation page is a cloned page, and they are the ones a run with more
    demonstrations per task would clone next."""
    return demonstration_jobs(tasks, val_per_task, run_seed, first=per_task)


@dataclass
class Demonstration:
    task: str
    seed: int
    steps: list[dict[str, np.ndarray]] = field(default_factory=list)  # featurized observations in order
    actions: list[tuple[int, int, int]] = field(default_factory=list)
    learn: list[bool] = field(default_factory=list)  # the step's action is the oracle's (not a placeholder)
    success: bool = False


@dataclass
class DemoStats:
    episodes: int = 0  # demonstrations played
    failed: int = 0  # dropped: the oracle did not solve them
    steps: int = 0  # steps of the kept demonstrations
    skipped: int = 0  # of those, steps whose action the agent cannot express

    def as_dict(self) -> dict[str, float]:
        return {"demos": float(self.episodes - self.failed), "failed_demos": float(self.failed),
                "steps": float(self.steps), "skipped_steps": float(self.skipped)}


def record_demonstrations(env: Any, featurizer: Featurizer, jobs: list[tuple[str, int]]) -> tuple[list[Demonstration], DemoStats]:
    """Play every (task, seed) job with the oracle on ``env``'s slots (``reset_one``); the oracle's own
    actions are sent to the page, whatever the agent could express.  Slot i plays jobs i, i + n, i + 2n, ...
    (not whichever slot is free first): a page reset in place keeps some state of its earlier episodes (an
    autocomplete menu's scroll), so which slot plays a job must not depend on the machine's speed."""
    from collections import deque

    n = env.num_envs
    queues = [deque(jobs[i::n]) for i in range(n)]
    obs: list[Any] = [None] * n
    running: list[Demonstration | None] = [None] * n
    memo: list[dict] = [{} for _ in range(n)]
    seen, fresh = EpisodeTracker(n), [True] * n  # earlier pages' instructions and no-ops, as the agent keeps them
    done: list[Demonstration] = []
    stats = DemoStats()

    def start(i: int) -> None:
        task, seed = queues[i].popleft()
        obs[i] = env.reset_one(i, seed, task)
        running[i], memo[i], fresh[i] = Demonstration(task, seed), {}, True

    autoreset, env.autoreset = env.autoreset, False  # a finished slot stays idle until given a job
    try:
        for i in range(n):
            if queues[i]:
                start(i)
        while any(r is not None for r in running):
            actions = []
            for i in range(n):
                demo = running[i]
                if demo is None:
                    actions.append(Action.noop())
                    continue
                act = oracle_action(obs[i], memo[i])
                fz = featurize_in_episode(featurizer, seen, i, obs[i], fresh[i])
                fresh[i] = False
                slots = oracle_slots(fz, act)
                seen.acted(i, getattr(act, "kind", None) in ("noop", "wait"))  # the page was left alone this step
                demo.steps.append(fz.arrays)
                demo.actions.append(slots if slots is not None else placeholder_slots(fz))
                demo.learn.append(slots is not None)
                actions.append(act)
            new_obs, _rew, term, trunc, infos = env.step(actions)
            for i in range(n):
                demo = running[i]
                if demo is None:
                    continue
                obs[i] = new_obs[i]
                if term[i] or trunc[i]:
                    episode = infos[i].get("episode") if isinstance(infos[i], dict) else None
                    demo.success = bool((episode or {}).get("success", False))
                    stats.episodes += 1
                    if demo.success:
                        done.append(demo)
                        stats.steps += len(demo.learn)
                        stats.skipped += sum(not x for x in demo.learn)
                    else:
                        stats.failed += 1
                    running[i] = None
                    if queues[i]:
                        start(i)
    finally:
        env.autoreset = autoreset
    done.sort(key=lambda d: (jobs.index((d.task, d.seed))))  # job order, whatever slot finished first
    return done, stats


# ---------------------------------------------------------------- cloning
def episode_batch(demos: list[Demonstration], device: torch.device) -> dict[str, Any]:
    """Episodes side by side, time-major (T, B, ...); a shorter episode is padded with its first step, which
    opens a fresh episode (memory reset) and is outside the loss."""
    T = max(len(d.steps) for d in demos)
    steps, actions, starts, learn = [], [], [], []
    for t in range(T):
        steps.append(stack([d.steps[t] if t < len(d.steps) else d.steps[0] for d in demos]))
        actions.append([d.actions[t] if t < len(d.actions) else d.actions[0] for d in demos])
        starts.append([t == 0 or t >= len(d.steps) for d in demos])
        learn.append([t < len(d.steps) and d.learn[t] for d in demos])
    t = lambda x: torch.as_tensor(np.asarray(x), device=device)  # noqa: E731
    return {"obs": {k: t(np.stack([s[k] for s in steps])) for k in steps[0]}, "actions": t(actions).long(),
            "starts": t(starts).bool(), "learn": t(learn).bool()}


def clone_terms(model: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per step (T, B): the log-probability of the oracle's action, whether the greedy policy takes it (no
    gradient), whether the step counts; and the encoder's auxiliary loss."""
    obs, starts = batch["obs"], batch["starts"]
    T, B = starts.shape
    flat = trim_padding({k: v.reshape(T * B, *v.shape[2:]) for k, v in obs.items()}, model.encoder.pad_id)
    enc = model.encoder(flat)
    h = model.core.unroll(enc.summary.view(T, B, -1), model.init_state(B, starts.device), starts)
    h = h.reshape(T * B, -1)
    actions, learn = batch["actions"].reshape(T * B, 3), batch["learn"].reshape(T * B)
    dist = model.heads(h, enc, flat, actions=actions)
    with torch.no_grad():
        greedy = model.heads(h, enc, flat, greedy=True).slot
        hits = (greedy == actions).all(-1) & learn
    return dist.logp.view(T, B), hits.view(T, B), learn.view(T, B), enc.aux_loss


def clone_loss(model: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, float, int]:
    """(mean negative log-likelihood of the oracle's actions, share of them the greedy policy takes, how many)."""
    logp, hits, learn, aux_loss = clone_terms(model, batch)
    n = int(learn.sum())
    loss = -(logp * learn).sum() / max(n, 1) + aux_loss
    return loss, float(hits.sum()) / max(n, 1), n


def clone_scores(model: Any, demos: list[Demonstration], device: torch.device) -> dict[str, float]:
    """How well the policy imitates demonstrations it does not learn from (``ppo.bc_val_demos_per_task``),
    without a gradient and without touching any random stream: ``val_loss`` (mean negative log-likelihood of
    the oracle's steps), ``val_accuracy`` (share of those steps the greedy policy takes, each on the oracle's
    own page, as in cloning) and ``val_episode_accuracy`` (share of episodes whose every such step it takes:
    what an episode needs to succeed when no step can be made good later)."""
    was_training = model.training
    model.eval()
    nll, hits, steps, whole, episodes = 0.0, 0, 0, 0, 0
    with torch.no_grad():
        for b in range(0, len(demos), EPISODES_PER_BATCH):
            logp, hit, learn, _aux = clone_terms(model, episode_batch(demos[b:b + EPISODES_PER_BATCH], device))
            nll -= float((logp * learn).sum())
            hits, steps = hits + int(hit.sum()), steps + int(learn.sum())
            counted = learn.any(0)  # an episode with no expressible step says nothing
            whole += int(((hit | ~learn).all(0) & counted).sum())
            episodes += int(counted.sum())
    model.train(was_training)
    return {"val_loss": nll / max(steps, 1), "val_accuracy": hits / max(steps, 1),
            "val_episode_accuracy": whole / max(episodes, 1), "val_episodes": float(episodes)}


def clone_scores_by_task(model: Any, demos: list[Demonstration], device: torch.device) -> dict[str, dict[str, float]]:
    """``clone_scores`` of each task's demonstrations, by task name in their order."""
    tasks = list(dict.fromkeys(d.task for d in demos))
    return {t: clone_scores(model, [d for d in demos if d.task == t], device) for t in tasks}


def replay_draw(n: int, k: int, seed: int, update: int, step: int) -> list[int]:
    """Which of ``n`` demonstrations (``k`` of them, in their order) PPO replays at minibatch step ``step`` of
    update ``update`` (``ppo.bc_coef``): a function of these numbers alone, so a resumed run draws the same."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(update) * 1_009 + int(step))
    return sorted(torch.randperm(int(n), generator=gen)[:min(int(k), int(n))].tolist())


BC_SCHEDULES = ("constant", "cosine")


def behaviour_clone(model: Any, demos: list[Demonstration], epochs: int, lr: float, seed: int, device: torch.device,
                    log: Callable[[int, dict[str, float]], None] | None = None,
                    grad_clip: float = 1.0, schedule: str = "constant",
                    validation: list[Demonstration] | None = None,
                    weight_decay: float = 0.0) -> list[dict[str, float]]:
    """``epochs`` passes over ``demos`` (shuffled by ``seed``, EPISODES_PER_BATCH episodes a step) with Adam at
    ``lr`` (AdamW with decoupled ``weight_decay`` when it is above 0), held there (``schedule="constant"``) or
    warmed up and lowered to a tenth along a cosine over all the passes' steps (``"cosine"``,
    components.optim.warmup_cosine, as Strategy 1's stages); ``log(epoch, {"loss",
    "accuracy", "lr"})`` after each pass (``lr``: the rate of its last step), with ``clone_scores`` on
    ``validation`` added when given (scoring it changes nothing the cloning computes).  Returns those per-epoch
    numbers."""
    if schedule not in BC_SCHEDULES:
        raise ValueError(f"bad cloning schedule {schedule!r} (valid: {', '.join(BC_SCHEDULES)})")
    if not demos or not any(any(d.learn) for d in demos):
        return []
    gen = torch.Generator().manual_seed(int(seed))
    opt = (torch.optim.AdamW(model.parameters(), lr=float(lr), weight_decay=float(weight_decay)) if weight_decay > 0
           else torch.optim.Adam(model.parameters(), lr=float(lr)))
    total = int(epochs) * -(-len(demos) // EPISODES_PER_BATCH)
    factor = (lambda step: warmup_cosine(step, total)) if schedule == "cosine" else (lambda step: 1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    model.train()
    history = []
    for epoch in range(int(epochs)):
        order = torch.randperm(len(demos), generator=gen).tolist()
        losses, hits, counted = [], 0.0, 0
        for b in range(0, len(order), EPISODES_PER_BATCH):
            batch = episode_batch([demos[i] for i in order[b:b + EPISODES_PER_BATCH]], device)
            loss, acc, n = clone_loss(model, batch)
            if n == 0:
                continue
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            last_lr = opt.param_groups[0]["lr"]
            opt.step()
            sched.step()
            losses.append(loss.item() * n)
            hits, counted = hits + acc * n, counted + n
        row = {"loss": sum(losses) / max(counted, 1), "accuracy": hits / max(counted, 1), "lr": last_lr}
        if validation:
            row.update(clone_scores(model, validation, device))
        history.append(row)
        if log is not None:
            log(epoch, row)
    model.eval()
    return history
