"""Recordings that do not depend on the machine's speed.  ``Action.settle`` (a wait until the page is still, one
step) in its form and in the oracle agent's rule for waits (never cut short); on real Chromium: it returns once an
accordion has slid open, or once an autocomplete's suggestions have opened, and the oracles of the animating tasks
(accordions, date pickers) play the same steps, and act on the same pages, whether the browser's CPU is throttled
8x or not.  (An autocomplete's suggestions, opening 0.3 s after typing, race the next step unless the harness
observes every page once still: ``env.settle_ms``, tested here too, down to the run config's every consumer.)
Slot i of a Strategy 2 recording plays jobs i, i + n, ..., so a page's history does not depend on speed either."""
from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from zoo.web.agents import OracleAgent
from zoo.web.spaces import ActionSpace
from zoo.web.tasks.oracle import ORACLES, oracle_action, pause, settle_once
from zoo.web.types import SETTLE_MAX_MS, Action, Observation

# accordions and date pickers animate (book-flight's date picker is choose-date's; its autocomplete fields still
# race a timer: an 8x throttled typing step may outlast the 0.3 s before the suggestions open by themselves)
TIMED = ["click-collapsible", "click-collapsible-2", "choose-date-easy"]


def test_settle_form():
    a = Action.settle()
    assert a.kind == "wait" and a.until_still and a.ms == SETTLE_MAX_MS and a.at_ms is None
    assert str(a) == f"settle(<= {SETTLE_MAX_MS:g} ms)" and str(Action.settle(300)) == "settle(<= 300 ms)"
    assert Action.wait(300).until_still is None and Action.wait(300) != Action.settle(300)
    assert ActionSpace().contains(a)
    from strategies.foundation.recording import action_dict

    assert "until_still" not in action_dict(Action.click(2))  # a recorded action's dict is as before
    assert action_dict(a)["until_still"] is True


def test_settle_once_settles_first_then_pauses():
    mem: dict = {}
    assert settle_once(mem, "popup") == Action.settle()
    assert settle_once(mem, "popup", 0.1) == pause(0.1)  # still not as expected once still: look again later
    assert settle_once(mem, "other") == Action.settle()


def test_oracle_agent_never_cuts_a_settle(monkeypatch):
    """A wait of a set length is cut to none beside an env acting now; a settle is the acting one."""
    monkeypatch.setitem(ORACLES, "fake-settle", lambda obs, mem: Action.settle())
    monkeypatch.setitem(ORACLES, "fake-wait", lambda obs, mem: pause(0.5))
    agent = OracleAgent()
    state = agent.reset(2)
    actions, _ = agent.act([Observation("fake-settle", "", []), Observation("fake-wait", "", [])], state,
                           np.ones(2, bool))
    assert actions == [Action.settle(), Action.wait(0)]


def fingerprint(obs: Observation, action: Action, every_page: bool = False) -> tuple[str, str]:
    """The action by what it targets (tag and text, not element id) and the visible page it was taken on; no page
    for a settle, which by its nature starts from a page in motion (under a heavily loaded CI machine the page
    right after an accordion header's click was seen at different points of the slide)."""
    target = obs.elements[action.element] if action.element is not None else None
    what = f"{action}" if target is None else f"{action.kind} <{target.tag} {target.text[:20]!r}> {action.text or ''}"
    page = repr([(e.tag, e.text, e.bbox) for e in obs.elements if e.visible])
    moving = action.kind == "wait" and action.until_still and not every_page
    return what.replace(f"({action.element}", "("), "" if moving else hashlib.sha1(page.encode()).hexdigest()


def play_oracle(task: str, seeds: list[int], cpu_slowdown: float, settle_ms: float = 0.0,
                every_page: bool = False) -> list[list[tuple[str, str]]]:
    """The oracle's episodes on a fresh page, the browser's CPU throttled by ``cpu_slowdown`` (Chrome's own
    emulation), as (action, page) fingerprints per step (``every_page``: a settle's starting page too)."""
    from zoo.web.env import WebEnv

    env = WebEnv(task, max_episode_steps=16, step_timeout_s=10.0, settle_ms=settle_ms)
    episodes = []
    try:
        env.reset(seed=seeds[0])
        page = env.vec.slots[0].page

        async def throttle() -> None:
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu_slowdown})

        env.vec.loop.run(throttle())
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            mem: dict = {}
            steps = []
            for _ in range(40):
                action = oracle_action(obs, mem)
                steps.append(fingerprint(obs, action, every_page))
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    steps.append(("success", str(info["episode"]["success"])))
                    break
            episodes.append(steps)
    finally:
        env.close()
    return episodes


@pytest.mark.browser
def test_a_settle_returns_once_the_accordion_has_slid_open():
    from zoo.web.env import WebEnv

    env = WebEnv("click-collapsible", max_episode_steps=16, step_timeout_s=10.0)
    try:
        obs, _ = env.reset(seed=5)
        header = next(e for e in obs.elements if e.tag == "h3" and e.visible)
        env.step(Action.click(header.id))
        t0 = time.monotonic()
        settled, *_ = env.step(Action.settle())
        took = time.monotonic() - t0
        later, *_ = env.step(Action.wait(500))
        panel = [e.bbox for e in settled.elements if e.attrs.get("role") == "tabpanel"]
        assert panel == [e.bbox for e in later.elements if e.attrs.get("role") == "tabpanel"]  # nothing moved since
        assert 0.1 < took < 1.5, took  # it waited for the slide (about 0.4 s), not for its 2 s cap
    finally:
        env.close()


@pytest.mark.browser
def test_a_settle_after_typing_waits_for_the_autocompletes_suggestions():
    """use-autocomplete's suggestions open 0.3 s after the typing stops: a settle returns with them shown."""
    from zoo.web.env import WebEnv

    env = WebEnv("use-autocomplete", max_episode_steps=16, step_timeout_s=10.0)
    try:
        obs, _ = env.reset(seed=5)
        field = next(e for e in obs.elements if e.attrs.get("id") == "tags")
        obs, *_ = env.step(Action.type(field.id, obs.instruction.split('"')[1]))
        suggestions = lambda o: [e.text for e in o.elements if e.visible and "ui-menu-item" in e.attrs.get("class", "")]
        assert suggestions(obs) == []  # typing alone opens nothing yet
        t0 = time.monotonic()
        obs, *_ = env.step(Action.settle())
        took = time.monotonic() - t0
        assert suggestions(obs) and 0.2 < took < 1.5, (suggestions(obs), took)
    finally:
        env.close()


@pytest.mark.browser
@pytest.mark.parametrize("task", TIMED)
def test_oracle_recordings_do_not_depend_on_the_machines_speed(task):
    """Before Action.settle (the oracles polled with waits of a set length), a probe playing five seeds of each
    of these tasks again at 8x throttling saw another step count or another page in 20 of 20 episodes."""
    seeds = [11, 7930]
    fast, slow = play_oracle(task, seeds, 1.0), play_oracle(task, seeds, 8.0)
    assert all(e[-1] == ("success", "True") for e in fast)
    assert fast == slow


class FakeVecEnv:
    """Just enough of VecWebEnv for record_demonstrations: slot 1's episodes take three steps, slot 0's one."""

    num_envs, autoreset = 2, True

    def __init__(self):
        self.played = {0: [], 1: []}
        self.left = [0, 0]

    def reset_one(self, i, seed, task):
        self.played[i].append(seed)
        self.left[i] = 1 if i == 0 else 3
        return Observation(task, "", [])

    def step(self, actions):
        self.left = [n - 1 for n in self.left]
        done = np.array([n <= 0 for n in self.left])
        info = [{"episode": {"success": True}} for _ in actions]
        return [Observation("t", "", []) for _ in actions], np.zeros(2), done, np.zeros(2, bool), info


def test_recording_hands_slot_i_jobs_i_plus_multiples_of_n(monkeypatch):
    """Whichever slot is free first does not take the next job: slot 0 plays jobs 0, 2, 4 and slot 1 jobs 1, 3, 5,
    though slot 0 finishes each episode three times as fast."""
    from strategies.compressive_rl import bc

    monkeypatch.setattr(bc, "featurize_in_episode", lambda *a: type("F", (), {"arrays": {}})())
    monkeypatch.setattr(bc, "oracle_slots", lambda fz, act: None)
    monkeypatch.setattr(bc, "placeholder_slots", lambda fz: None)
    env = FakeVecEnv()
    jobs = [("t", s) for s in range(6)]
    demos, stats = bc.record_demonstrations(env, None, jobs)
    assert env.played == {0: [0, 2, 4], 1: [1, 3, 5]}
    assert [d.seed for d in demos] == list(range(6)) and stats.episodes == 6


@pytest.mark.browser
def test_with_env_settle_an_action_is_observed_once_the_page_is_still():
    """env.settle_ms: the step after a typing already shows the suggestions that open 0.3 s later, and the step
    after an accordion header's click shows the panel where it ends (it has not moved half a second on)."""
    from zoo.web.env import WebEnv

    suggestions = lambda o: [e.text for e in o.elements if e.visible and "ui-menu-item" in e.attrs.get("class", "")]
    env = WebEnv("use-autocomplete", max_episode_steps=16, step_timeout_s=10.0, settle_ms=SETTLE_MAX_MS)
    try:
        obs, _ = env.reset(seed=5)
        field = next(e for e in obs.elements if e.attrs.get("id") == "tags")
        obs, *_ = env.step(Action.type(field.id, obs.instruction.split('"')[1]))
        assert suggestions(obs)
    finally:
        env.close()
    env = WebEnv("click-collapsible", max_episode_steps=16, step_timeout_s=10.0, settle_ms=SETTLE_MAX_MS)
    try:
        obs, _ = env.reset(seed=5)
        header = next(e for e in obs.elements if e.tag == "h3" and e.visible)
        t0 = time.monotonic()
        clicked, *_ = env.step(Action.click(header.id))
        took = time.monotonic() - t0
        later, *_ = env.step(Action.wait(500))
        panel = lambda o: [(e.bbox, e.visible) for e in o.elements if e.attrs.get("role") == "tabpanel"]
        assert panel(clicked) == panel(later) and 0.1 < took < 1.5, took
    finally:
        env.close()


@pytest.mark.browser
def test_with_env_settle_book_flights_autocomplete_does_not_race():
    """book-flight's oracle types a city, then presses ArrowDown only if the suggestions have not opened by
    themselves yet: with the page observed once still, every step and every page it sees are the same under 8x
    CPU throttling as without (without env.settle_ms, 4 of 60 such episodes differed between two runs on a busy
    machine)."""
    seeds = [11]
    fast = play_oracle("book-flight", seeds, 1.0, settle_ms=SETTLE_MAX_MS, every_page=True)
    slow = play_oracle("book-flight", seeds, 8.0, settle_ms=SETTLE_MAX_MS, every_page=True)
    assert all(e[-1] == ("success", "True") for e in fast)
    assert not any(step[0].startswith("press('ArrowDown')") for e in fast for step in e)  # the suggestions were there
    assert fast == slow


def test_env_settle_reaches_every_env_a_run_builds(monkeypatch, tmp_path):
    """env.settle_ms is read once, from the run's config, by every place that opens pages: the training envs
    (VecWebEnv.from_config: Strategy 2's recording, cloning and PPO), Strategy 1's recorder and simulators, and
    the scoring; a recording made without it keeps its folder (the key is only written when on)."""
    from strategies.foundation.recording import recording_config
    from strategies.foundation.stages import env_kwargs
    from zoo.config import compose
    from zoo.train import scoring
    from zoo.web import bench, vector

    cfg = compose(["strategy=1", "env.settle_ms=1500"])
    seen: dict = {}
    monkeypatch.setattr(vector.VecWebEnv, "__init__", lambda self, tasks, **kw: seen.update(vec=kw))
    vector.VecWebEnv.from_config(cfg.env, ["click-button"])
    assert seen["vec"]["settle_ms"] == 1500.0
    assert env_kwargs(cfg)["settle_ms"] == 1500.0
    on = recording_config(["click-button"], cfg.foundation.data, cfg.env, 0)
    off = recording_config(["click-button"], cfg.foundation.data, compose(["strategy=1"]).env, 0)
    assert on["settle_ms"] == 1500.0 and "settle_ms" not in off

    def fake_evaluate(agent, tasks, episodes, **kw):
        seen["eval"] = kw
        return {"tasks": {}, "overall": {}, "interrupted": False}

    monkeypatch.setattr(bench, "evaluate", fake_evaluate)
    monkeypatch.setattr("zoo.web.results.write_results", lambda path, results: None)
    scoring.score_agent(cfg, object(), ["click-button"], tmp_path, agent_name="a", results_name="results")
    assert seen["eval"]["settle_ms"] == 1500.0
