"""The ``wait`` action: its form (a space holds it, never samples it), the oracle agent's rule for the waits of
one vectorised step (all cut to the shortest; an idle env has no say), and on real Chromium: a wait lets time
pass in its own env only (another env's action of the same step is not held up), returns a fresh observation,
costs no reward and is not invalid; a malformed wait is.  Actions timed by the page's clock (``at_ms``): carried
out when it reads that time, page-side and browser-side kinds alike; the oracle agent's rule for them; a malformed
time is invalid."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from zoo.web.agents import OracleAgent
from zoo.web.spaces import ActionSpace
from zoo.web.tasks import TaskSpec
from zoo.web.tasks.oracle import ORACLES, pause
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


def test_timed_action_form_and_space():
    a = Action.click(3).at(1_700_000_000_250.0)
    assert a.at_ms == 1_700_000_000_250.0 and a.kind == "click" and a.element == 3
    assert str(a) == "click(3) at 1700000000250 ms" and Action.click(3).at_ms is None
    space = ActionSpace()
    assert space.contains(a) and space.contains(Action.press("Tab").at(5.0))
    assert Action.wait_until(7.0) == Action("wait", ms=0.0, at_ms=7.0) and space.contains(Action.wait_until(7.0))
    assert not any(space.contains(b) for b in (Action.click(3).at(float("nan")), Action("click", element=3, at_ms="soon"),
                                               Action.wait(10).at(5.0)))


def fake_obs(task: str) -> Observation:
    return Observation(task, "", [])


def test_oracle_agent_cuts_every_wait_to_the_shortest_and_to_none_beside_an_action(monkeypatch):
    monkeypatch.setitem(ORACLES, "fake-slow", lambda obs, mem: pause(0.5))
    monkeypatch.setitem(ORACLES, "fake-fast", lambda obs, mem: pause(0.1))
    monkeypatch.setitem(ORACLES, "fake-click", lambda obs, mem: Action.click(0))
    agent = OracleAgent()
    state = agent.reset(3)
    obs = [fake_obs("fake-slow"), fake_obs("fake-fast"), fake_obs("fake-click")]
    actions, state = agent.act(obs[:2], state[:2], np.ones(2, bool))
    assert actions == [Action.wait(100), Action.wait(100)]  # both look again after 0.1 s
    # with an env acting now, the waits end at once (the waiting envs look again when the click is done)
    state = agent.reset(3)
    actions, state = agent.act(obs, state, np.ones(3, bool))
    assert actions == [Action.wait(0), Action.wait(0), Action.click(0)]
    # env 1 is idle (handed the same observation again): a no-op, and its short wait no longer cuts env 0's
    actions, state = agent.act([fake_obs("fake-slow"), obs[1], fake_obs("fake-fast")], state, np.zeros(3, bool))
    assert actions == [Action.wait(100), Action.noop(), Action.wait(100)]


def test_oracle_agent_sends_a_timed_action_only_when_it_is_nearly_due(monkeypatch):
    """A timed action counts as a wait until its time: due within AT_LEAD_MS of the step's end (the shortest
    wait, or the latest timed action sent), it is sent; due later, the env waits to the step's end and decides
    again.  With an env acting now and none waiting, only timed actions due within AT_LEAD_MS hold the step."""
    from zoo.web.agents import AT_LEAD_MS, held_ms

    now_ms = time.time() * 1000.0
    monkeypatch.setitem(ORACLES, "fake-fast", lambda obs, mem: pause(0.1))
    monkeypatch.setitem(ORACLES, "fake-soon", lambda obs, mem: Action.click(1).at(now_ms + 100 + AT_LEAD_MS / 2))
    monkeypatch.setitem(ORACLES, "fake-late", lambda obs, mem: Action.click(2).at(now_ms + 100 + AT_LEAD_MS * 3))
    agent = OracleAgent()
    state = agent.reset(3)
    actions, state = agent.act([fake_obs("fake-fast"), fake_obs("fake-soon"), fake_obs("fake-late")], state,
                               np.ones(3, bool))
    assert actions[0] == Action.wait(100) and actions[1] == Action.click(1).at(now_ms + 100 + AT_LEAD_MS / 2)
    assert actions[2].kind == "wait" and 240 <= actions[2].ms <= 250  # to the end of env 1's timed click
    assert 200 < held_ms(actions[1]) < 300 and 200 < held_ms(actions[2]) < 300  # envs 1 and 2 look after ~0.25 s

    now_ms = time.time() * 1000.0
    monkeypatch.setitem(ORACLES, "fake-click", lambda obs, mem: Action.click(0))
    monkeypatch.setitem(ORACLES, "fake-soon", lambda obs, mem: Action.click(1).at(now_ms + 100))
    monkeypatch.setitem(ORACLES, "fake-late", lambda obs, mem: Action.click(2).at(now_ms + 2000))
    actions, state = agent.act([fake_obs("fake-click"), fake_obs("fake-soon"), fake_obs("fake-late")], state,
                               np.ones(3, bool))
    assert actions[:2] == [Action.click(0), Action.click(1).at(now_ms + 100)]
    assert actions[2].kind == "wait" and 90 <= actions[2].ms <= 100


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


@pytest.mark.browser
@pytest.mark.parametrize("trusted", [False, True])
def test_a_timed_action_happens_when_the_page_clock_reads_its_time(trusted):
    """A click with at_ms lands at that page-clock time (the page notes Date.now() in its click handler), not
    when the step was sent; the observation's time_ms is the page's clock when it was read.  With
    ``trusted_clicks`` the click is a browser-side action: the wait happens in the page first."""
    from zoo.web.vector import VecWebEnv

    with VecWebEnv([WAIT_PAGE], num_envs=1, max_episode_steps=8, step_timeout_s=5.0, extra_roots={"test": PAGES},
                   trusted_clicks=trusted) as env:
        (obs,) = env.reset([3])
        assert abs(obs.time_ms - time.time() * 1000.0) < 2000  # the page's clock is the machine's
        at = obs.time_ms + 700.0
        (obs,), rewards, _, _, infos = env.step([Action.click(by_id(obs, "stamp").id).at(at)])
        clicked_at = int(by_id(obs, "clicked_at").text)
        assert infos[0]["invalid"] is None and rewards[0] == 0.0
        assert at <= clicked_at < at + 400, (clicked_at - at)  # at its time, not when sent (~700 ms earlier)
        # the step returned after the click's time (page and test read one machine clock); not "0.6 s after the
        # step was sent": reset returns some time after its observation's time_ms, so under load less may remain
        assert obs.time_ms >= clicked_at and time.time() * 1000.0 >= clicked_at - 5
        (obs,), rewards, _, _, infos = env.step([Action.click(by_id(obs, "stamp").id).at(float("inf"))])
        assert infos[0]["invalid"] and "at_ms needs a page-clock time" in infos[0]["invalid"]
        assert rewards[0] == pytest.approx(-0.05)


@pytest.mark.browser
def test_waits_do_not_count_towards_the_step_cut_off():
    """The cut-off counts actions: an episode of three waits (one a wait_until) and two no-ops under
    max_episode_steps=2 ends with the second no-op, and its record has 5 steps, 3 of them waits."""
    from zoo.web.env import WebEnv

    env = WebEnv(WAIT_PAGE, max_episode_steps=2, step_timeout_s=5.0, extra_roots={"test": PAGES})
    try:
        env.reset(seed=3)
        for action in (Action.wait(1), Action.noop(), Action.wait(1), Action.wait_until(time.time() * 1000.0 + 50)):
            _, _, terminated, truncated, _ = env.step(action)
            assert not terminated and not truncated
        _, _, terminated, truncated, info = env.step(Action.noop())
        assert truncated and not terminated
        assert info["episode"]["steps"] == 5 and info["episode"]["waits"] == 3
    finally:
        env.close()
