"""The vectorised env (auto-reset, seed streams, crash recovery across envs) and the scoring
harness (evaluate, `zoo bench` and `zoo bench env` mains)."""
from __future__ import annotations

import asyncio
import json
import os
import signal

import numpy as np
import pytest

from zoo.config import parse_tool_config
from zoo.core.errors import ZooError
from zoo.schema.tools import BenchConfig
from zoo.web.agents import OracleAgent
from zoo.web.bench import evaluate, main, throughput_main
from zoo.web.seeds import eval_seed
from zoo.web.types import Action
from zoo.web.vector import VecWebEnv

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def vec():
    env = VecWebEnv(["click-test", "focus-text"], num_envs=2, max_episode_steps=3, step_timeout_s=4.0)
    yield env
    env.close()


def solve(obs):
    """click-test and focus-text are both solved by clicking their one control."""
    return [Action.click(next(e for e in o.elements if e.tag in ("button", "input")).id) for o in obs]


def test_auto_reset_and_seed_streams(vec):
    obs = vec.reset([10, 20])
    assert [o.task for o in obs] == ["click-test", "focus-text"] and [s.episode.seed for s in vec.slots] == [10, 20]
    new_obs, rewards, term, trunc, infos = vec.step(solve(obs))
    assert term.all() and not trunc.any() and (rewards > 0).all() and rewards.dtype == np.float32
    assert [i["episode"]["seed"] for i in infos] == [10, 20]
    assert [s.episode.seed for s in vec.slots] == [12, 22]  # each env's stream: seed + k * num_envs
    assert all(o.step == 0 for o in new_obs) and infos[0]["final_observation"].step == 1
    # an unfinished episode carries on; noop steps give no reward
    new_obs, rewards, term, trunc, infos = vec.step([Action.noop(), Action.noop()])
    assert not term.any() and (rewards == 0).all() and "episode" not in infos[0]


def test_fewer_envs_than_tasks_rotate_through_every_task():
    """2 envs, 3 tasks: env i's k-th episode runs tasks[(i + 2k) % 3], so none is left out."""
    tasks = ["click-test", "focus-text", "click-button"]
    with VecWebEnv(tasks, num_envs=2, max_episode_steps=1, step_timeout_s=4.0) as env:
        obs = env.reset([10, 20])
        seen = [[o.task for o in obs]]
        for _ in range(2):
            obs, *_ = env.step([Action.noop(), Action.noop()])  # one-step episodes: cut off, auto-reset
            seen.append([o.task for o in obs])
    assert seen == [["click-test", "focus-text"], ["click-button", "click-test"], ["focus-text", "click-button"]]


def test_wrong_action_count_is_a_clear_error(vec):
    with pytest.raises(ZooError, match="needs 2 actions"):
        vec.step([Action.noop()])


def test_browser_killed_mid_episode_ends_both_episodes_and_recovers(vec):
    obs = vec.reset([30, 40])
    os.kill(vec.browser_pid(), signal.SIGKILL)
    obs, rewards, term, trunc, infos = vec.step(solve(obs))
    assert trunc.all() and (rewards == 0).all()
    assert all("browser crashed" in i["error"] for i in infos)
    assert [i["episode"]["seed"] for i in infos] == [30, 40]  # the lost episodes are reported, not dropped
    assert [s.episode.seed for s in vec.slots] == [32, 42] and vec.host.restarts >= 1
    _, rewards, term, _, _ = vec.step(solve(obs))
    assert term.all() and (rewards > 0).all()


def test_a_start_that_times_out_is_tried_again_with_fresh_browsers(monkeypatch):
    # the first attempt launches Chromium, then hangs past its limit (an overloaded machine)
    import zoo.web.vector as vector

    monkeypatch.setattr(vector, "OPEN_TIMEOUT_S", 5.0)
    monkeypatch.setattr(vector, "OPEN_TIMEOUT_PER_ENV_S", 0.0)
    opened, hung_pids = [], []
    real_open = VecWebEnv._open

    async def slow_first_open(self):
        opened.append(True)
        await real_open(self)
        if len(opened) == 1:
            hung_pids.append(self.host.pid())
            await asyncio.sleep(60)

    monkeypatch.setattr(VecWebEnv, "_open", slow_first_open)
    with VecWebEnv(["click-test"], num_envs=1, max_episode_steps=2, step_timeout_s=4.0) as env:
        assert env.open_retries == 1 and len(opened) == 2
        assert hung_pids[0] is not None and env.host.pid() != hung_pids[0]  # the first browser was shut down
        assert not os.path.exists(f"/proc/{hung_pids[0]}") or open(f"/proc/{hung_pids[0]}/stat").read().split()[2] == "Z"
        obs = env.reset(seeds=[3])
        assert "Click" in obs[0].instruction


def test_a_start_that_never_finishes_fails_after_three_attempts(monkeypatch):
    import zoo.web.vector as vector

    monkeypatch.setattr(vector, "OPEN_TIMEOUT_S", 0.5)
    monkeypatch.setattr(vector, "OPEN_TIMEOUT_PER_ENV_S", 0.0)
    calls = []

    async def never(self):
        calls.append(True)
        await asyncio.sleep(60)

    monkeypatch.setattr(VecWebEnv, "_open", never)
    with pytest.raises(TimeoutError, match="did not finish within 2s"):  # limits 0.5, 1.0, 1.5 s
        VecWebEnv(["click-test"], num_envs=1)
    assert len(calls) == 3


def test_reset_one_replays_a_seed(vec):
    vec.reset([50, 60])
    a = vec.reset_one(1, 77, task="click-button")
    b = vec.reset_one(1, 77, task="click-button")
    assert a.task == "click-button" and a.instruction == b.instruction
    assert [(e.tag, e.text) for e in a.elements] == [(e.tag, e.text) for e in b.elements]


def test_evaluate_oracle_on_two_tasks(tmp_path):
    log = tmp_path / "eps.jsonl"
    res = evaluate(OracleAgent(), ["click-button", "mp-search-open"], episodes=2, seed=5, num_envs=2,
                   progress=False, log_path=log, suite="custom")
    assert res["schema"] == "actionzoo.bench/2" and res["agent"] == "oracle" and not res["interrupted"]
    for task in ("click-button", "mp-search-open"):
        t = res["tasks"][task]
        assert t["episodes"] == 2 and t["success_rate"]["mean"] == 1.0 and t["errors"] == 0
        assert t["mean_steps"]["ci95"][0] <= t["mean_steps"]["mean"] <= t["mean_steps"]["ci95"][1]
    seeds = sorted({e["seed"] for e in res["episodes"]})
    assert seeds == [eval_seed(5), eval_seed(6)]
    assert len(log.read_text().splitlines()) == 4  # every episode was logged as it finished
    assert res["timing"]["env_steps"] > 0


def test_evaluate_retries_episodes_lost_to_a_killed_browser(tmp_path, monkeypatch):
    import zoo.web.bench as bench_module
    import zoo.web.vector as vector

    envs = []

    class Recorded(VecWebEnv):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            envs.append(self)

    monkeypatch.setattr(vector, "VecWebEnv", Recorded)
    monkeypatch.setattr(bench_module, "VecWebEnv", Recorded)  # evaluate's own reference to the class
    log = tmp_path / "eps.jsonl"
    written = []

    class KillingOracle(OracleAgent):
        calls = 0

        def act(self, observations, state, done_mask):
            self.calls += 1
            if self.calls == 3:  # mid-run: some episodes are already logged, two are running
                written.append(log.read_text())
                os.kill(envs[0].browser_pid(), signal.SIGKILL)
            return super().act(observations, state, done_mask)

    res = evaluate(KillingOracle(), ["click-test", "click-button"], episodes=3, seed=7, num_envs=2, progress=False,
                   log_path=log, suite="custom")
    assert res["env"]["restarts"] >= 1 and not res["interrupted"]
    assert [res["tasks"][t]["successes"] for t in ("click-test", "click-button")] == [3, 3]  # lost ones were rerun
    assert res["overall"]["errors"] == 0 and max(e["attempt"] for e in res["episodes"]) == 2
    final = log.read_text()
    assert written[0] and final.startswith(written[0])  # nothing logged before the crash was lost
    assert len(final.splitlines()) == 6 and sorted((e["task"], e["seed"]) for e in map(json.loads, final.splitlines())) \
        == sorted((t, eval_seed(7 + k)) for t in ("click-test", "click-button") for k in range(3))


def test_bench_main_writes_results_json(tmp_path):
    cfg = parse_tool_config(BenchConfig, ["agent=random", "tasks=[click-test]", "episodes=3", "num_envs=1",
                                          f"out={tmp_path}", "progress=false"])
    res = main(cfg)
    path = tmp_path / "random-custom.json"
    assert res["path"] == str(path) and path.is_file()
    data = json.loads(path.read_text())
    assert data["tasks"]["click-test"]["episodes"] == 3 and len(data["episodes"]) == 3
    with pytest.raises(ZooError, match="no oracle for task"):
        main(parse_tool_config(BenchConfig, ["agent=oracle", "tasks=[hover-shape]", f"out={tmp_path}"]))


def test_env_throughput_report(tmp_path):
    """One repetition of every setting at 1 context: harness on one task and on a mixed list, the raw loop
    doing the harness's page work, and with and without the DOM read; ratios and the goal table come out of
    the same run."""
    cfg = parse_tool_config(BenchConfig, ["contexts=[1]", "steps=10", "repeats=1", "selenium=false",
                                          "tasks=[click-test,click-button]", "single_task=click-test", f"out={tmp_path}"])
    report = throughput_main(cfg)
    names = [(r["name"], r["contexts"], r["browsers"]) for r in report["runs"]]
    assert names == [("harness/single", 1, 1), ("harness/mixed", 1, 1), ("raw+obs", 1, 1), ("raw+obs/mixed", 1, 1),
                     ("raw+dom", 1, 1), ("raw+dom/mixed", 1, 1), ("raw", 1, 1)]
    assert all(r["env_steps"] >= 40 and r["env_steps_per_s"] > 0 and "error" not in r for r in report["runs"])
    assert all(r["cpu_ms_per_step"] > 0 and r["cpu_cores_used"] > 0 for r in report["runs"])  # own process tree
    for r in report["runs"]:  # split by process: the harness's Python, Playwright's driver, the browser, the pages
        split = r["cpu_ms_per_step_by_process"]
        assert split["python"] > 0 and split["driver"] > 0 and split["renderer"] > 0
        assert abs(sum(split.values()) - r["cpu_ms_per_step"]) < 0.01
    assert report["command"].startswith("zoo bench env contexts=[1] steps=10 repeats=1")
    mixed = report["runs"][1]
    assert mixed["page_loads_timed"] == 0 and mixed["tasks_started"] == 2  # preloaded pages: resets in place
    assert report["ratios"]["single_vs_raw_dom"]["n"] == 1 and report["ratios"]["single_vs_selenium"] is None
    assert report["ratios"]["single_vs_raw_obs"]["n"] == 1 and report["ratios"]["cpu_single_vs_raw_obs"]["n"] == 1
    # the fair reference plays the harness's policy: its episodes are about as long (click-test ends at the
    # first click on its one button, so both average a few steps)
    lengths = {r["name"]: r["env_steps"] / r["episodes"] for r in report["runs"] if r["name"] in ("harness/single", "raw+obs")}
    assert 0.5 < lengths["harness/single"] / lengths["raw+obs"] < 2.0
    text = (tmp_path / "env_throughput.md").read_text()
    assert "## Goals (issue 13)" in text and "| harness/mixed | 1 | 1 |" in text
    assert "CPU ms per env step by process" in text and "| raw+obs | 1 | 1 |" in text
    assert json.loads((tmp_path / "env_throughput.json").read_text())["schema"] == "actionzoo.env-throughput/2"


def test_envs_can_share_one_browser():
    from zoo.web.env import WebEnv

    a = WebEnv("click-test", share_browser=True)
    b = WebEnv("enter-text", share_browser=True)
    try:
        pid = a.browser_pid()
        assert pid is not None and b.browser_pid() == pid
        obs_a, _ = a.reset(seed=1)
        obs_b, _ = b.reset(seed=1)
        assert obs_a.task == "click-test" and obs_b.task == "enter-text"
        a.close()
        _, r, term, _, _ = b.step(Action.click(obs_b.find(text="Submit")[0].id))  # still running after a closed
        assert term and r < 0
    finally:
        a.close()
        b.close()
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"


def test_evaluate_traces_what_the_agent_did(tmp_path):
    """trace=True: every episode's record holds its instruction and one line per action, naming the element
    each action hit; the typed text is in the line; without trace the records have none."""
    log = tmp_path / "eps.jsonl"
    res = evaluate(OracleAgent(), ["click-button", "login-user"], episodes=1, seed=3, num_envs=2, progress=False,
                   log_path=log, suite="custom", trace=True)
    by_task = {e["task"]: e for e in map(json.loads, log.read_text().splitlines())}
    assert by_task.keys() == {"click-button", "login-user"}
    for ep in by_task.values():
        assert ep["success"] and len(ep["trace"]["actions"]) == ep["steps"]
    click = by_task["click-button"]["trace"]
    word = click["instruction"].split('"')[1] if '"' in click["instruction"] else click["instruction"].split()[-1]
    assert click["actions"][0].startswith("click [") and " button " in click["actions"][0]
    assert word.strip(".") in click["actions"][0]  # the button the instruction names
    login = by_task["login-user"]["trace"]
    typed = [a for a in login["actions"] if a.startswith("type [")]
    assert len(typed) == 2 and all("input" in a and "text=" in a for a in typed)
    assert any(a.startswith("click [") and "Login" in a for a in login["actions"])
    assert res["episodes"][0]["trace"] == by_task[res["episodes"][0]["task"]]["trace"]
    plain = evaluate(OracleAgent(), ["click-button"], episodes=1, seed=3, num_envs=1, progress=False, suite="custom")
    assert "trace" not in plain["episodes"][0]


def test_describe_action_names_the_element_and_what_the_action_carries():
    from zoo.web.trace import describe_action
    from zoo.web.types import Action, Element, Observation

    box = Element(0, "input", "", {"type": "checkbox"}, (0, 0, 10, 10), -1, 0, True, "input", True)
    field = Element(1, "input", "", {"type": "text", "value": "bob"}, (0, 20, 50, 10), -1, 0, True, "input", True)
    obs = Observation("t", "Select it", [box, field])
    assert describe_action(Action("click", element=0), obs) == 'click [0] input "" type=checkbox'
    assert describe_action(Action("type", element=1, text="alice"), obs) == "type [1] input \"bob\" type=text text='alice'"
    assert describe_action(Action("click", element=7), obs) == "click [7] (not on the page)"
    assert describe_action(Action("press", key="Enter"), obs) == "press key='Enter'"
    assert describe_action(Action("click_at", x=3.2, y=4.9), obs) == "click_at at=(3, 5)"


def test_tracer_follows_episodes_and_the_instructions_they_showed():
    """Two envs: env 0's page changes its instruction mid-episode (the describe function sees the earlier
    one), env 1 is idle on the second step; a fresh env starts a new trace."""
    from zoo.web.trace import Tracer
    from zoo.web.types import Action, Observation

    seen = []
    tracer = Tracer(2, lambda a, o, earlier: seen.append(earlier) or a.kind)
    first, second, other = Observation("t", "page one", []), Observation("t", "page two", []), Observation("u", "u", [])
    tracer.step([first, other], [Action("click", element=0), Action("noop")], [True, True], [False, False])
    tracer.step([second, other], [Action("type", element=0, text="x"), Action("click")], [False, False], [False, True])
    assert seen == [(), (), ("page one",)]
    assert tracer.finish(0) == {"instruction": "page one", "actions": ["click", "type"]}
    assert tracer.finish(1) == {"instruction": "u", "actions": ["noop"]}
    tracer.step([second, other], [Action("noop"), Action("noop")], [True, True], [False, False])
    assert tracer.finish(0) == {"instruction": "page two", "actions": ["noop"]}
