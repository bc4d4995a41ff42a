"""Env groups stepped in turn (VecWebEnv.step_async / step_wait, RolloutCollector groups) on real
Chromium: two groups in flight together play exactly the episodes lock step plays, and a pipelined
PPO rollout replays to the log-probs it was collected with."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from zoo.core.errors import ZooError
from zoo.web.types import Action
from zoo.web.vector import VecWebEnv

sys.path.insert(0, str(Path(__file__).parent))
from test_strategy2_memory import tiny_module  # noqa: E402

from strategies.compressive_rl.module import time_split  # noqa: E402
from strategies.compressive_rl.rollout import to_tensors  # noqa: E402

pytestmark = pytest.mark.browser
TASKS = ["click-test", "focus-text", "click-button", "click-link"]
SEEDS = [11, 12, 13, 14]


@pytest.fixture(scope="module")
def vec():
    env = VecWebEnv(TASKS, num_envs=4, max_episode_steps=2, step_timeout_s=6.0, browsers=2)
    yield env
    env.close()


def first_control(obs) -> Action:
    """A fixed rule (the first clickable element): the same page gives the same action."""
    els = [e for e in obs.elements if e.tag in ("button", "input", "a")]
    return Action.click(els[0].id) if els else Action.noop()


def trace(env: VecWebEnv, grouped: bool, steps: int = 4) -> list[tuple]:
    obs = env.reset(SEEDS)
    seen = []
    for _ in range(steps):
        if grouped:
            groups = env.host_groups(2)
            sent = [env.step_async([first_control(obs[i]) for i in g], envs=g) for g in groups]
            for g, pending in zip(groups, sent):
                out, rew, term, trunc, infos = env.step_wait(pending)
                for j, i in enumerate(g):
                    obs[i] = out[j]
                    seen.append((i, out[j].task, out[j].instruction, float(rew[j]), bool(term[j]), bool(trunc[j])))
        else:
            obs, rew, term, trunc, infos = env.step([first_control(o) for o in obs])
            seen += [(i, o.task, o.instruction, float(rew[i]), bool(term[i]), bool(trunc[i])) for i, o in enumerate(obs)]
    return sorted(seen, key=lambda r: r[0])  # per env, in step order (a stable sort keeps it)


def test_two_groups_in_flight_play_the_lock_step_episodes(vec):
    assert vec.host_groups(2) == [[0, 2], [1, 3]] and vec.host_groups(1) == [[0, 1, 2, 3]]
    grouped, lock_step = trace(vec, grouped=True), trace(vec, grouped=False)
    assert any(r[4] or r[5] for r in grouped)  # episodes ended and the next ones began (autoreset)
    assert [r[:3] + r[4:] for r in grouped] == [r[:3] + r[4:] for r in lock_step]
    # the decayed reward depends on wall time; its sign (solved or not) does not
    assert [r[3] > 0 for r in grouped] == [r[3] > 0 for r in lock_step]


def test_bad_groups_are_refused(vec):
    obs = vec.reset(SEEDS)
    with pytest.raises(ZooError, match=r"envs \[2\] share its browsers"):
        vec.step_async([first_control(obs[0])], envs=[0])
    pending = vec.step_async([first_control(obs[i]) for i in (0, 2)], envs=[0, 2])
    with pytest.raises(ZooError, match=r"envs \[0, 2\] have a step in flight"):
        vec.step_async([first_control(obs[i]) for i in (0, 2)], envs=[0, 2])
    vec.step_wait(pending)
    with pytest.raises(ZooError, match="step needs 2 actions"):
        vec.step_async([Action.noop()], envs=[1, 3])


def test_groups_need_the_envs_own_task_rotation():
    env = VecWebEnv(["click-test"], num_envs=2, browsers=2, job_source=lambda i: ("click-test", 7))
    try:
        env.reset([1, 2])
        with pytest.raises(ZooError, match="job_source"):
            env.step_async([Action.noop()], envs=[0])
    finally:
        env.close()


def test_pipelined_rollout_replays_to_its_log_probs(vec):
    """Acting in two groups keeps each env's memory its own: the update's replay from the stored
    start memory reproduces every stored log-prob and value; the time split counts the acting
    passes overlapped with the other group's pages as browser time."""
    torch.manual_seed(0)
    module = tiny_module("xl", act_groups=2)
    module.attach_env(vec, seeds=SEEDS)
    assert module.collector.groups == [[0, 2], [1, 3]]
    module.model.eval()
    module.collector.collect(module.model, 2, torch.device("cpu"))  # start mid-episode: non-empty memory
    ro = module.collector.collect(module.model, 4, torch.device("cpu"))
    assert ro.starts[1:].any() and ro.obs["el_valid"].shape[:2] == (4, 4)
    batch = {"obs": to_tensors(ro.obs, "cpu"), "starts": torch.as_tensor(ro.starts),
             "actions": torch.as_tensor(ro.actions), "init_state": ro.init_state}
    with torch.no_grad():
        logp, _, values, _ = module.replay(batch, torch.arange(4))
    assert torch.allclose(logp, torch.as_tensor(ro.logp), atol=1e-5)
    assert torch.allclose(values, torch.as_tensor(ro.values), atol=1e-5)
    assert 0.0 < ro.model_overlapped_s <= ro.model_s
    split = time_split(ro, update_s=0.0, start=0.0, last_end=None)
    assert split["time_model_act_hidden_s"] == ro.model_overlapped_s
    assert split["time_browser_s"] == pytest.approx(ro.browser_s + ro.model_overlapped_s)
    assert split["time_model_s"] == pytest.approx(ro.model_s - ro.model_overlapped_s)
