"""The scripted oracle solves every task of the default suites through our observation and
action space (a few seeds each; the full run writes reports/bench/oracle-*.json)."""
from __future__ import annotations

import pytest

from zoo.web.suites import suite_tasks
from zoo.web.agents import OracleAgent
from zoo.web.bench import evaluate

pytestmark = pytest.mark.browser

TASKS = sorted(set(suite_tasks("miniwob-core")) | set(suite_tasks("multipage")))
EPISODES = 3


class CheckedOracle(OracleAgent):
    """The oracle, recording any action aimed at an element the observation does not offer."""

    def __init__(self):
        self.violations = []

    def act(self, observations, state, done_mask):
        actions, state = super().act(observations, state, done_mask)
        for obs, a in zip(observations, actions):
            if a.element is not None and not (obs.elements[a.element].actionable and obs.elements[a.element].visible):
                self.violations.append((obs.task, str(a)))
            if a.kind == "type" and a.text not in obs.instruction:
                self.violations.append((obs.task, f"{a} types text not in this instruction"))
        return actions, state


@pytest.fixture(scope="module")
def oracle():
    return CheckedOracle()


@pytest.fixture(scope="module")
def results(oracle):
    # seed 500: seeds other than the benchmark run's, so the two checks are independent
    return evaluate(oracle, TASKS, EPISODES, seed=500, num_envs=2, progress=False)


@pytest.mark.parametrize("task", TASKS)
def test_oracle_solves(results, task):
    stats = results["tasks"][task]
    failures = [e for e in results["episodes"] if e["task"] == task and not e["success"]]
    assert stats["episodes"] == EPISODES and stats["errors"] == 0
    assert not failures, failures
    assert stats["mean_reward"]["mean"] > 0.5  # solved quickly: the time-decayed reward stays high


def test_oracle_uses_only_offered_elements_and_instruction_text(results, oracle):
    # mp-remember-code types a code from an earlier page's instruction: that is the point of the task
    assert [v for v in oracle.violations if v[0] != "mp-remember-code"] == []
