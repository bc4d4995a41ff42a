"""The ``wait`` action: its form (a space holds it, never samples it), the oracle agent's rule for the waits of
one vectorised step (all cut to the shortest; an idle env has no say), and on real Chromium: a wait lets time
pass in its own env only (another env's action of the same step is not held up), returns a fresh observation,
costs no reward and is not invalid; a malformed wait is."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from zoo.web.agents import OracleAgent
from zoo.web.spaces import ActionSpace
from zoo.web.tasks import TaskSpec
from zoo.web.tasks.oracle import ORACLES, SEEN_AT, pause
from zoo.web.types import MAX_WAIT_MS, Action, Observation

PAGES = Path(__file__).resolve().parent / "web_pages"
WAIT_PAGE = TaskSpec("test-wait", "zoo", "test/wait.html", multipage=True)


def test_wait_form_and_space():
    assert str(Action.wait(250)) == "wait(250 ms)" and Action.wait(250).ms == 250.0
    assert pause(0.25) == Action.wait(250) and pause(-1) == Action.wait(0) and pause(60).ms == MAX_WAIT_MS
    space = ActionSpace()
    assert space.contains(Action.wait(0)) and space.contains(Action.wait(MAX_WAIT_MS))
    bad = [Action("wait"), Action("wait", ms=-1.0), Action("wait", ms=MAX_WAIT_MS + 1), Action("wait", ms=float("nan")),
           Action("wait", ms=True), Action("wait", ms="100")]
    assert not any(space.contains(a) for a in bad)
    for mouse in (False, True):  # strategies never get a wait: no space samples one
        s = ActionSpace(seed=0, mouse=mouse)
        assert all(s.sample(mask=np.ones(4, bool)).kind != "wait" for _ in range(300))


def fake_obs(task: str) -> Observation:
    return Observation(task, "", [])


def test_oracle_agent_cuts_every_wait_to_the_shortest(monkeypatch):
    monkeypatch.setitem(ORACLES, "fake-slow", lambda obs, mem: pause(0.5))
    monkeypatch.setitem(ORACLES, "fake-fast", lambda obs, mem: pause(0.1))
    monkeypatch.setitem(ORACLES, "fake-click", lambda obs, mem: Action.click(0))
    agent = OracleAgent()
    state = agent.reset(3)
    obs = [fake_obs("fake-slow"), fake_obs("fake-fast"), fake_obs("fake-click")]
    t = time.monotonic()
    actions, state = agent.act(obs, state, np.ones(3, bool))
    assert actions == [Action.wait(100), Action.wait(100), Action.click(0)]
    assert all(0.09 < m[SEEN_AT] - t < 0.2 for m in state[:2]) and 0 <= state[2][SEEN_AT] - t < 0.1
    # env 1 is idle (handed the same observation again): a no-op, and its short wait no longer cuts env 0's
    actions, state = agent.act([fake_obs("fake-slow"), obs[1], fake_obs("fake-click")], state, np.zeros(3, bool))
    assert actions == [Action.wait(500), Action.noop(), Action.click(0)]


def by_id(obs, element_id):
    return next(e for e in obs.elements if e.attrs.get("id") == element_id)


@pytest.mark.browser
def test_a_wait_delays_only_its_own_env():
    from zoo.web.vector import VecWebEnv

    with VecWebEnv([WAIT_PAGE], num_envs=2, max_episode_steps=8, step_timeout_s=5.0, extra_roots={"test": PAGES}) as env:
        obs = env.reset([1, 2])
        assert [by_id(o, "late").text for o in obs] == ["early", "early"]
        t0 = time.time()
        obs, rewards, terminated, truncated, infos = env.step([Action.wait(1300), Action.click(by_id(obs[1], "stamp").id)])
        took = time.time() - t0
        assert took >= 1.3
        clicked_at = int(by_id(obs[1], "clicked_at").text) / 1000.0
        assert clicked_at - t0 < 0.6, "env 1's click waited for env 0's wait"
        assert by_id(obs[0], "late").text == "late"  # the observation after the wait is taken after it
        assert by_id(obs[0], "clicked_at").text == "never"
        assert [i["invalid"] for i in infos] == [None, None] and rewards.tolist() == [0.0, 0.0]
        assert not terminated.any() and not truncated.any() and obs[0].step == 1


@pytest.mark.browser
def test_a_malformed_wait_is_invalid():
    from zoo.web.env import WebEnv

    env = WebEnv(WAIT_PAGE, max_episode_steps=8, step_timeout_s=5.0, extra_roots={"test": PAGES})
    try:
        env.reset(seed=3)
        for ms in (-5.0, MAX_WAIT_MS * 2, "soon"):
            _, reward, _, _, info = env.step(Action("wait", ms=ms))
            assert info["invalid"] and "wait needs ms" in info["invalid"] and reward == pytest.approx(-0.05)
    finally:
        env.close()
