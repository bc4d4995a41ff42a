"""``zoo bench ... resume=true``: an interrupted benchmark run continues from its episode log; the kept
episodes are not played again and the finished results equal an uninterrupted run's."""
from __future__ import annotations

import json

import pytest

from zoo.core.errors import ZooError
from zoo.web.agents import RandomAgent
from zoo.web.bench import evaluate, recorded_episodes

pytestmark = pytest.mark.browser
TASKS = ["click-test", "click-button"]


def run(log, resume=False, episodes=3, seed=0):
    return evaluate(RandomAgent(seed=0), TASKS, episodes, seed=seed, num_envs=2, max_episode_steps=4, progress=False,
                    log_path=log, resume=resume)


def outcome(results):
    return sorted((e["task"], e["seed"], e["raw_reward"], e["steps"], e["success"]) for e in results["episodes"])


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    whole = run(tmp_path / "whole.jsonl")
    log = tmp_path / "cut.jsonl"
    lines = (tmp_path / "whole.jsonl").read_text().splitlines()
    log.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # two episodes, then a kill mid-line
    resumed = run(log, resume=True)
    assert resumed["config"]["resumed_episodes"] == 2
    assert len(resumed["episodes"]) == 6 and outcome(resumed) == outcome(whole)
    assert len(log.read_text().splitlines()) == 6  # the torn line was dropped, four new episodes appended
    assert [json.loads(x) for x in log.read_text().splitlines()[:2]] == [json.loads(x) for x in lines[:2]]
    again = run(log, resume=True)  # nothing left to play
    assert again["config"]["resumed_episodes"] == 6 and outcome(again) == outcome(whole)


def test_a_log_of_another_plan_is_one_line(tmp_path):
    log = tmp_path / "other.jsonl"
    run(log, episodes=1, seed=5)
    with pytest.raises(ZooError, match=r"cannot resume from .*: line 1 is episode .* which this run does not plan"):
        recorded_episodes(log, {("click-test", 1)})
    with pytest.raises(ZooError, match="does not plan"):
        run(log, resume=True, episodes=1, seed=0)
