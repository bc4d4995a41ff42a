"""Web benchmark pieces that need no browser: types, seeds, keys, file serving, registry,
suites, statistics and the bench config."""
from __future__ import annotations

import numpy as np
import pytest

import zoo.web  # noqa: F401  (registers the tasks)
from zoo.config import parse_tool_config
from zoo.core.errors import ZooError
from zoo.core.registry import family
from zoo.schema.tools import BenchConfig
from zoo.web.suites import resolve_tasks, suite_tasks
from zoo.web.agents import OracleAgent, RandomAgent
from zoo.web.bench import make_agent, results_path
from zoo.web.tasks.oracle import ORACLES
from zoo.web.results import build_results, mean_ci, t_quantile, wilson
from zoo.web.seeds import EVAL_BASE, advance, eval_seed, is_eval_seed, train_seed
from zoo.web.site import Site
from zoo.web.action_checks import check_key
from zoo.web.tasks import ORIGIN, miniwob_task_names
from zoo.web.types import Action, Element, Observation, instruction_spans


def test_action_constructors_and_copy_span():
    assert Action.click(3) == Action("click", element=3)
    assert Action.type(1, "Ada").text == "Ada"
    assert Action.select(2, "Pro").option == "Pro"
    assert Action.press("Enter").key == "Enter"
    assert Action.noop().kind == "noop"
    instr = 'Enter "Kevin Lee" into the text field.'
    start, end = instruction_spans(instr)[0]
    assert instr[start:end] == "Kevin Lee"  # quoted spans come first
    assert Action.copy(0, instr, start, end) == Action.type(0, "Kevin Lee")


def test_observation_helpers():
    els = [Element(0, "div", "", {}, (0, 0, 10, 10), -1, 0, True, "style", False),
           Element(1, "button", "Go", {"id": "go"}, (0, 0, 5, 5), 0, 1, True, "action", True),
           Element(2, "button", "Hidden", {}, (0, 0, 0, 0), 0, 1, False, "action", True)]
    obs = Observation("t", "Click Go.", els)
    assert obs.action_mask().tolist() == [False, True, False]
    assert obs.find(text="Go", tag="button")[0].id == 1
    assert [e.id for e in obs.ancestors(1)] == [0]
    assert [e.id for e in obs.children(0)] == [1, 2]


def test_seed_ranges_are_disjoint():
    assert train_seed(0) == 0 and train_seed(EVAL_BASE + 5) == 5
    assert eval_seed(0) == EVAL_BASE and is_eval_seed(eval_seed(123))
    train = {train_seed(i) for i in range(1000)}
    assert not train & {eval_seed(i) for i in range(1000)}
    # a stream stays inside the range it started in
    assert not is_eval_seed(advance(EVAL_BASE - 1, 3, 4)) and is_eval_seed(advance(2 * EVAL_BASE - 1, 3, 4))


@pytest.mark.parametrize("key", ["Enter", "a", "Control+a", "Shift+Tab", "ArrowDown"])
def test_press_accepts_keys(key):
    assert check_key(key) is None


@pytest.mark.parametrize("key", ["", "Foo", "Hyper+a", None, "Control+Foo"])
def test_press_rejects_unknown_keys(key):
    assert check_key(key)


def test_site_serves_task_files_only():
    site = Site()
    status, body, ctype = site.lookup(ORIGIN + "miniwob/click-test.html")
    assert status == 200 and b"genProblem" in body and ctype == "text/html; charset=utf-8"
    assert site.lookup(ORIGIN + "zoo/core/zoo-core.js")[0] == 200
    for bad in ("miniwob/../../../../etc/passwd", "core/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "nope/x.html", "zoo/"):
        assert site.lookup(ORIGIN + bad)[0] == 404
    assert site.allowed(ORIGIN + "x") and not site.allowed("https://example.com/")
    assert not site.allowed("http://actionzoo.local:8080/") and not site.allowed("file:///etc/passwd")


def test_every_miniwob_task_and_ours_are_registered():
    names = family("task").names()
    assert len(miniwob_task_names()) > 100
    assert set(miniwob_task_names()) <= set(names)
    assert {"mp-search-open", "mp-form-wizard", "mp-remember-code", "mp-shop-find"} <= set(names)
    with pytest.raises(ZooError, match="did you mean 'click-button'"):
        resolve_tasks("miniwob-core", ["click-buton"])


def test_default_suites_are_covered_by_the_oracle():
    core = suite_tasks("miniwob-core")
    assert 10 <= len(core) <= 20
    for suite in ("miniwob-core", "multipage", "rl-default"):
        assert set(suite_tasks(suite)) <= set(ORACLES), suite
        assert resolve_tasks(suite, None) == suite_tasks(suite)


def test_wilson_interval():
    lo, hi = wilson(10, 10)
    assert hi == 1.0 and 0.65 < lo < 0.75
    lo, hi = wilson(5, 10)
    assert lo < 0.5 < hi
    assert wilson(0, 0) == [0.0, 1.0]


def test_mean_ci_t_interval():
    values = [1.0, 0.5, -1.0, 0.9, 0.8, 1.0, -1.0, 0.7]
    res = mean_ci(values)
    half = t_quantile(7) * np.std(values, ddof=1) / np.sqrt(8)
    assert res["mean"] == pytest.approx(np.mean(values))
    assert res["ci95"] == pytest.approx([np.mean(values) - half, np.mean(values) + half])
    assert t_quantile(9) == pytest.approx(2.262, abs=0.01) and t_quantile(1000) == pytest.approx(1.96, abs=0.01)
    assert mean_ci([2.0, 2.0])["ci95"] == [2.0, 2.0] and mean_ci([3.0])["ci95"] == [3.0, 3.0]


def test_episode_stats_is_a_mergeable_torchmetrics_metric():
    from torchmetrics import Metric

    from zoo.web.results import EpisodeStats

    rows = np.array([[0.9, 1.0, 2.0, 1.0, 0.0], [-1.0, -1.0, 5.0, 0.0, 1.0], [0.5, 1.0, 3.0, 1.0, 0.0]])
    a, b = EpisodeStats(columns=5), EpisodeStats(columns=5)
    a.update(rows[:2])
    b.update(rows[2:])
    a.merge_state(b)  # how "overall" pools the per-task metrics
    out = a.compute()
    assert isinstance(a, Metric) and out["n"] == 3
    assert np.allclose(out["mean"].numpy(), rows.mean(0)) and np.allclose(out["var"].numpy(), rows.var(0, ddof=1))


def test_results_schema_fields():
    eps = [{"task": "a", "seed": eval_seed(k), "raw_reward": 1.0 if k else -1.0, "reward": 0.9 if k else -1.0,
            "success": bool(k), "steps": 2, "error": None} for k in range(4)]
    res = build_results(eps, ["a", "b"], agent="x", suite="s", config={"episodes": 4, "seed": 0}, timing={}, env={})
    assert res["schema"] == "actionzoo.bench/2"
    assert res["tasks"]["a"]["success_rate"]["mean"] == 0.75
    assert res["tasks"]["b"]["episodes"] == 0
    assert res["overall"]["episodes"] == 4 and res["seeds"]["first"] == EVAL_BASE


def test_bench_config_and_agent_choice():
    cfg = parse_tool_config(BenchConfig, ["agent=oracle", "suite=multipage", "episodes=2"])
    agent, label = make_agent(cfg)
    assert isinstance(agent, OracleAgent) and label == "oracle"
    assert str(results_path(cfg, label, "multipage")).endswith("reports/bench/oracle-multipage.json")
    assert isinstance(make_agent(parse_tool_config(BenchConfig, []))[0], RandomAgent)
    with pytest.raises(ZooError, match="valid choices: checkpoint, oracle, random"):
        make_agent(parse_tool_config(BenchConfig, ["agent=smart"]))
    with pytest.raises(ZooError, match="checkpoint not found"):
        make_agent(parse_tool_config(BenchConfig, ["checkpoint=/nonexistent/last.ckpt"]))


def test_random_agent_targets_only_live_elements():
    els = [Element(0, "input", "", {"type": "text"}, (0, 0, 9, 9), -1, 0, True, "input", True),
           Element(1, "button", "Go", {}, (0, 0, 9, 9), -1, 0, False, "action", True),
           Element(2, "div", "x", {}, (0, 0, 9, 9), -1, 0, True, "text", False)]
    obs = Observation("t", 'Type "abc".', els)
    agent = RandomAgent(seed=1, p_key=0, p_noop=0)
    actions, _ = agent.act([obs] * 50, agent.reset(50), np.ones(50, bool))
    assert {a.element for a in actions} == {0}
    assert {a.kind for a in actions} == {"type"}
    assert all(a.text in obs.instruction for a in actions)
