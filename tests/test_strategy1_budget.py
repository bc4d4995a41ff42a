"""Strategy 1's RL stage holds the env-step budget: once its simulators have taken
``foundation.rl.max_env_steps`` steps, no new collection round starts (the updates go on
learning from the episodes already searched), within a round (one episode per task) no new
episode starts, and the search that reaches the cap stops at it (the episode is dropped); the
budget hook sets that cap."""
from __future__ import annotations

from itertools import islice
from types import SimpleNamespace

import pytest

from strategies.foundation.plugin import budget
from strategies.foundation.rl import SEARCH_SEED_BASE, SearchCollector, SearchReplay
from strategies.foundation.search import BrowserSimulator, BudgetSpent, ReplayEnv
from zoo.core.errors import ZooError
from zoo.web.seeds import train_seed
from zoo.web.types import Action
from zoo.config import compose


class StepCountingCollector:
    """Stands in for SearchCollector's bookkeeping: every round costs ``cost`` env steps."""

    def __init__(self, cost: int):
        self.cost, self.env_steps, self.rounds = cost, 0, 0

    def collect(self, policy, episodes_per_task, max_env_steps=0):
        self.rounds += 1
        self.env_steps += self.cost
        return []


def updates(max_env_steps: int, n: int, cost: int = 10) -> StepCountingCollector:
    collector = StepCountingCollector(cost)
    replay = SearchReplay([], None, collector, lambda: None, batch_size=2, updates_per_round=1,
                          episodes_per_round=1, max_env_steps=max_env_steps)
    replay.sample = lambda: "batch"  # the batches themselves are not what this test is about
    assert list(islice(iter(replay), n)) == ["batch"] * n  # the updates never stop
    return collector


def test_no_round_starts_once_the_env_step_cap_is_reached():
    capped = updates(max_env_steps=25, n=8)
    assert capped.rounds == 3 and capped.env_steps == 30  # 0, 10, 20 < 25 started a round; 30 did not
    assert updates(max_env_steps=0, n=8).rounds == 7  # no cap: a round after every update (the 8th not yet)


def test_the_budget_hook_caps_the_simulators_env_steps():
    cfg = compose(["strategy=1"])
    out = budget(cfg, demos_per_task=3, env_steps=3000)
    assert "foundation.rl.max_env_steps=3000" in out and "foundation.data.episodes_per_task=3" in out
    assert compose(["strategy=1", *out]).foundation.rl.max_env_steps == 3000


def test_under_the_budget_hook_every_demonstration_trains():
    """Strategy 2 clones every demonstration it is given; Strategy 1 must not hold some out for its metrics."""
    from strategies.foundation.data import split

    def recorded(task: str, i: int):
        return SimpleNamespace(meta={"task": task, "agent": "oracle", "seed": i})

    recs = [recorded(t, i) for t in ("click-test", "click-button") for i in range(5)]
    cfg = compose(["strategy=1"])
    train, val = split(recs, cfg.foundation.data.val_fraction)
    assert (len(train), len(val)) == (8, 2)  # outside zoo compare: one of five per task held out
    cfg = compose(["strategy=1", *budget(cfg, demos_per_task=5, env_steps=3000)])
    assert cfg.foundation.data.episodes_per_task == 5
    train, val = split(recs, cfg.foundation.data.val_fraction)
    assert (len(train), len(val)) == (10, 0)


class CountingReplay:
    steps = 0
    closed = False

    def close(self):
        self.closed = True


class CostlyEpisodes(SearchCollector):
    """SearchCollector with episodes that cost ``cost`` simulator steps each and no browser."""

    def __init__(self, tasks, cost):
        super().__init__(tasks, search_cfg=None, env_kwargs={}, gamma=0.9)
        self.cost, self.played = cost, []
        self.replays = {"sim": CountingReplay()}

    def play(self, policy, task, seed):
        self.replays["sim"].steps += self.cost
        self.played.append(task)
        return task, {"task": task, "seed": seed, "success": False, "steps": 1, "expansions": 0}


def test_a_round_over_many_tasks_stops_at_the_cap():
    """At 49 tasks a round is 49 episodes: the cap is checked before each episode, so a capped round stops
    after the episode that crossed it (the scale cell's round once ran 12k steps past a 10k budget)."""
    collector = CostlyEpisodes([f"t{i}" for i in range(10)], cost=10)
    sim = collector.replays["sim"]
    assert len(collector.collect(None, 1, max_env_steps=25)) == 3  # 0, 10, 20 < 25 started an episode
    assert collector.played == ["t0", "t1", "t2"] and collector.env_steps == 30
    assert sim.closed and collector.replays == {}  # spent: the simulators' browsers are shut
    assert collector.collect(None, 1, max_env_steps=25) == [] and collector.env_steps == 30  # spent: none
    uncapped = CostlyEpisodes([f"t{i}" for i in range(10)], cost=10)
    assert len(uncapped.collect(None, 2)) == 20 and uncapped.env_steps == 200
    assert not uncapped.replays["sim"].closed  # no cap: kept for the next round


class StepwiseEpisodes(CostlyEpisodes):
    """Episodes of ``cost`` single steps, each checked against the replays' budget as the browser
    simulator checks it (BrowserSimulator.step_to)."""

    def play(self, policy, task, seed):
        replay = self.replays["sim"]
        for _ in range(self.cost):
            if replay.budget is not None and replay.budget() <= 0:
                raise BudgetSpent
            replay.steps += 1
        self.played.append(task)
        return task, {"task": task, "seed": seed, "success": False, "steps": self.cost, "expansions": 0}


def test_the_episode_that_runs_out_of_budget_is_cut_and_dropped():
    collector = StepwiseEpisodes([f"t{i}" for i in range(10)], cost=10)
    assert collector.collect(None, 1, max_env_steps=25) == ["t0", "t1"]  # the third was cut at step 5
    assert collector.env_steps == 25 and collector.next_seed - SEARCH_SEED_BASE == 3  # its seed is used up
    assert collector.collect(None, 1, max_env_steps=25) == [] and collector.env_steps == 25


class FlakyEpisodes(CostlyEpisodes):
    """One simulator per task; the tasks in ``broken`` fail to start an episode (the harness's ZooError
    after its retries) once they have taken ``cost`` steps."""

    def __init__(self, tasks, cost, broken):
        super().__init__(tasks, cost)
        self.broken, self.replays = set(broken), {}

    def play(self, policy, task, seed):
        replay = self.replays.setdefault(task, CountingReplay())
        replay.steps += self.cost
        if task in self.broken:
            raise ZooError(f"task '{task}': could not start an episode after 3 attempts: timeout")
        self.played.append(task)
        return task, {"task": task, "seed": seed, "success": True, "steps": 1, "expansions": 0}


def test_a_search_episode_whose_browser_fails_is_dropped_not_the_run():
    """The failing task's simulator is closed and its steps still count; the round records the failure;
    a round in which every episode failed is an error (a broken setup, not a flaky page)."""
    collector = FlakyEpisodes(["t0", "t1", "t2"], cost=10, broken={"t1"})
    assert collector.collect(None, 1) == ["t0", "t2"] and collector.env_steps == 30
    assert set(collector.replays) == {"t0", "t2"}  # t1's simulator is made anew for its next episode
    (failure,) = collector.rounds[-1]["failed"]
    assert failure["task"] == "t1" and failure["seed"] == train_seed(SEARCH_SEED_BASE + 1)
    assert "could not start" in failure["reason"] and collector.rounds[-1]["episodes"] == 2
    capped = FlakyEpisodes(["t0", "t1", "t2"], cost=10, broken={"t1"})
    assert capped.collect(None, 1, max_env_steps=15) == ["t0"] and capped.env_steps == 20  # t1's steps count
    with pytest.raises(ZooError, match="every search episode of the round failed; the first, task 't0'"):
        FlakyEpisodes(["t0", "t1"], cost=10, broken={"t0", "t1"}).collect(None, 1)


class CountingEnv:
    def reset(self, seed=None):
        return SimpleNamespace(page="p"), {}

    def step(self, action):
        return SimpleNamespace(page="p"), 0.0, False, False, {}


def test_the_simulator_takes_no_step_past_the_budget():
    replay = ReplayEnv(CountingEnv())
    replay.budget = lambda: 3 - replay.steps
    sim = BrowserSimulator(replay, seed=1)
    prefix = tuple(Action.click(i) for i in range(5))
    with pytest.raises(BudgetSpent):
        sim.step_to(prefix)
    assert replay.steps == 3
    assert not sim.step_to(prefix[:2]).terminal  # what it reached stays cached: no step needed
    assert replay.steps == 3
