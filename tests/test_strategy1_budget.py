"""Strategy 1's RL stage holds the env-step budget: once its simulators have taken
``foundation.rl.max_env_steps`` steps, no new collection round starts (the updates go on
learning from the episodes already searched); the budget hook sets that cap."""
from __future__ import annotations

from itertools import islice

from strategies.foundation.plugin import budget
from strategies.foundation.rl import SearchReplay
from zoo.config import compose


class StepCountingCollector:
    """Stands in for SearchCollector's bookkeeping: every round costs ``cost`` env steps."""

    def __init__(self, cost: int):
        self.cost, self.env_steps, self.rounds = cost, 0, 0

    def collect(self, policy, episodes_per_task):
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
