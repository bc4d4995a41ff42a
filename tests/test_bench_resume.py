"""``zoo bench ... resume=true``: an interrupted benchmark run continues from its episode log; the kept
episodes are not played again and the finished results equal an uninterrupted run's."""
from __future__ import annotations

import json

import pytest
import torch

from zoo.core.errors import ZooError
from zoo.train.scoring import agent_fingerprint
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


class StopsAfter(RandomAgent):
    """A random agent whose user presses Ctrl-C at its ``stop_at``-th action (0: never); ``weight`` fills the
    weights of a small module it holds, standing for a checkpoint (random play does not read it)."""

    def __init__(self, stop_at: int = 0, weight: float | None = None):
        super().__init__(seed=0)
        self.calls, self.stop_at = 0, stop_at
        if weight is not None:
            self.policy = Holder(weight)

    def act(self, observations, state, done_mask):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super().act(observations, state, done_mask)


class Holder:
    """A policy object holding a model one attribute down, as Strategy 1's agent does."""

    def __init__(self, weight: float):
        self.model = torch.nn.Linear(3, 2)
        torch.nn.init.constant_(self.model.weight, weight)
        torch.nn.init.zeros_(self.model.bias)


def test_the_fingerprint_follows_the_weights_and_the_name():
    same, other = agent_fingerprint(StopsAfter(weight=0.5), "a"), agent_fingerprint(StopsAfter(weight=0.25), "a")
    assert same == agent_fingerprint(StopsAfter(weight=0.5), "a") and len(same) == 16
    assert other != same and agent_fingerprint(StopsAfter(weight=0.5), "b") != same
    assert agent_fingerprint(RandomAgent(seed=0), "a") is None  # no weights: its name and the plan say all
    tagged = StopsAfter(weight=0.5)
    tagged.fingerprint = "v7"
    assert agent_fingerprint(tagged, "a") == "v7"


def test_a_run_scoring_stopped_by_ctrl_c_keeps_its_partial_score_and_stops_then_continues(tmp_path):
    """``score_agent`` (every strategy's scoring) writes the partial score marked interrupted and lets the
    interrupt reach its caller; with ``eval.resume=true`` the logged episodes are kept and only the rest played."""
    from zoo.config import compose
    from zoo.train.scoring import score_agent
    from zoo.web.results import finished_results

    over = ["strategy=compressive_rl", f"env.tasks=[{','.join(TASKS)}]", "env.num_envs=2", "env.max_episode_steps=4",
            "eval.episodes=3", "trainer.progress=false"]
    with pytest.raises(KeyboardInterrupt):
        score_agent(compose(over), StopsAfter(stop_at=3), TASKS, tmp_path, agent_name="random", results_name="results")
    partial = json.loads((tmp_path / "results.json").read_text())
    logged = (tmp_path / "results.episodes.jsonl").read_text().splitlines()
    assert partial["interrupted"] and 0 < len(partial["episodes"]) == len(logged) < 6
    assert finished_results(tmp_path / "results.json") is None  # a partial score never counts as finished

    whole = score_agent(compose(over + ["eval.resume=true"]), RandomAgent(seed=0), TASKS, tmp_path,
                        agent_name="random", results_name="results")
    assert not whole["interrupted"] and whole["config"]["resumed_episodes"] == len(logged)
    assert len(whole["episodes"]) == 6 and finished_results(tmp_path / "results.json") == whole
    assert (tmp_path / "results.episodes.jsonl").read_text().splitlines()[: len(logged)] == logged


def test_a_resumed_score_plays_again_the_episodes_other_weights_played(tmp_path):
    """A run trained further after an interrupted score (its saved config keeps ``eval.resume=true``) must not
    count the old weights' episodes: every logged episode carries the agent's fingerprint, and on resume an
    episode logged under another one is played again; a finished score of other weights is not kept either."""
    from zoo.config import compose
    from zoo.train.scoring import score_agent
    from zoo.web.results import finished_results

    over = ["strategy=compressive_rl", f"env.tasks=[{','.join(TASKS)}]", "env.num_envs=2", "env.max_episode_steps=4",
            "eval.episodes=3", "trainer.progress=false", "eval.resume=true"]
    old_id = agent_fingerprint(StopsAfter(weight=0.5), "random")
    with pytest.raises(KeyboardInterrupt):
        score_agent(compose(over), StopsAfter(stop_at=3, weight=0.5), TASKS, tmp_path, agent_name="random",
                    results_name="results")
    logged = [json.loads(x) for x in (tmp_path / "results.episodes.jsonl").read_text().splitlines()]
    assert logged and all(e["agent_id"] == old_id for e in logged)

    new = score_agent(compose(over), StopsAfter(weight=0.25), TASKS, tmp_path, agent_name="random",
                      results_name="results")
    assert new["config"]["resumed_episodes"] == 0 and len(new["episodes"]) == 6
    new_id = agent_fingerprint(StopsAfter(weight=0.25), "random")
    assert new["config"]["agent_id"] == new_id and all(e["agent_id"] == new_id for e in new["episodes"])
    assert len((tmp_path / "results.episodes.jsonl").read_text().splitlines()) == 6  # the old lines are gone
    assert finished_results(tmp_path / "results.json", new_id) == new
    assert finished_results(tmp_path / "results.json", old_id) is None
