"""The README's per-task baseline table from hand-made results (no browser)."""
from zoo.report.bench_task_table import at_least, below, render
from zoo.report.published_tasks import PublishedSystem, PublishedTasks
from zoo.web.results import build_results


def _results(agent: str, outcomes: dict[str, list[float]]) -> dict:
    episodes = [{"task": t, "seed": 1_000_000 + k, "raw_reward": raw, "reward": raw, "success": raw == 1.0,
                 "steps": 1} for t, raws in outcomes.items() for k, raw in enumerate(raws)]
    return build_results(episodes, list(outcomes), agent=agent, suite="custom", config={"episodes": 4},
                         timing={}, env={})


PUBLISHED = PublishedTasks("test", (PublishedSystem("human", "Human", 2, 0.9, None),
                                    PublishedSystem("ccnet", "CC-Net", 2, 0.8, None)),
                           {"a": {"human": 0.97, "ccnet": 1.0}})


def test_threshold_is_compared_on_counts():
    res = _results("oracle", {"a": [1.0] * 19 + [0.5], "b": [1.0] * 18 + [0.0, 0.0]})
    assert at_least(res, 0.95) == ["a"]  # 19/20 = 0.95 exactly counts
    assert below(res, 0.95) == ["b"]


def test_render_rows_and_summary():
    oracle = _results("oracle", {"a": [1.0, 1.0, 1.0, 0.5], "b": [1.0, 1.0, 1.0, 1.0]})
    random = _results("random", {"a": [0.0, 1.0, -1.0, 0.0], "b": [0.0] * 4, "c": [0.2] * 4})
    text = render(oracle, random, ["a", "b", "c"], 0.95, PUBLISHED)
    lines = text.splitlines()
    assert lines[2] == "| a | 3/4 (75.0%) | 1/4 | 0.875 | 1/4 | 97% | 100% |"
    assert lines[3] == "| b | 4/4 (100.0%) | 0/4 | 1.000 | 0/4 | - | - |"
    assert lines[4] == "| c | no oracle | - | - | 0/4 | - | - |"
    assert "| tasks with full credit >= 95% | 1/2 | 0/3 |" in lines
    assert "| full credit, all episodes | 7/8 (87.5%) | 1/12 (8.3%) |" in lines
    assert "| partial credit, all episodes | 1/8 (12.5%) | 4/12 (33.3%) |" in lines
    assert lines[-1] == "Oracle tasks below 95% full credit (1): a 3/4 (75.0%)."


def test_a_recheck_replaces_its_tasks_rows_and_the_overall_figures():
    oracle = _results("oracle", {"a": [1.0, 1.0, 1.0, 0.5], "b": [1.0, 1.0, 1.0, 1.0]})
    recheck = _results("oracle", {"a": [1.0] * 4})
    text = render(oracle, None, ["a", "b"], 0.95, PUBLISHED, rechecks=[("re/a.json", recheck)])
    lines = text.splitlines()
    assert lines[2] == "| a * | 4/4 (100.0%) | 0/4 | 1.000 | - | 97% | 100% |"
    assert "\\* rows from a later run of the task in `re/`, after its oracle changed: a (a.json)." in lines
    assert "| tasks with full credit >= 95% | 2/2 | - |" in lines
    assert "| full credit, all episodes | 8/8 (100.0%) | - |" in lines
    assert lines[-1] == "Oracle tasks below 95% full credit (0): none."
