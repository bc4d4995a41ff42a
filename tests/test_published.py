"""Published per-task MiniWoB++ figures, the published task-set suites, and scoring by full credit
(no browser)."""
from __future__ import annotations

import pytest

from zoo.report.gather import rescore_v1, task_scores
from zoo.report.published_tasks import PublishedSystem, PublishedTasks, load, set_mean, table_parts
from zoo.web.results import build_results, partial_credit
from zoo.web.seeds import eval_seed
from zoo.web.slot import data_mode_for, full_credit
try:
    from zoo.web.suites import suite_names, suite_tasks
except ImportError:  # before the suite lookup moved to zoo.web
    from zoo.suites import suite_names, suite_tasks  # type: ignore[no-redef]
from zoo.web.tasks import miniwob_task_names


def test_published_data_is_well_formed_and_consistent_with_the_suites():
    data = load()
    assert "arXiv 2306.07863" in data.source and len(data.systems) == 9
    package = set(miniwob_task_names())
    for task, row in data.scores.items():
        assert task in package, task
        assert all(v is None or 0.0 <= v <= 1.0 for v in row.values()), (task, row)
    for s in data.systems:
        values = data.values(s.key)
        assert 0 < len(values) <= s.set_size and 0.0 < s.mean <= 1.0
        if s.suite in suite_names():  # a system evaluated exactly on its suite's tasks (the rest: n/a)
            members = set(suite_tasks(s.suite))
            assert {t for t in data.scores if t in members} == set(values), s.key


def test_published_means_match_where_a_set_is_complete():
    """Where every task of a system's set is transcribed, the mean recomputed on exactly that set
    equals the mean the source reports (to its rounding); where not, the set is known incomplete."""
    data = load()
    checked = 0
    for s in data.systems:
        values = data.values(s.key)
        if data.complete(s.key):
            mean, missing = set_mean(values, list(values))
            assert not missing and mean == pytest.approx(s.mean, abs=0.0051), s.key
            checked += 1
        else:
            assert len(values) < s.set_size
    assert checked == sum(data.complete(s.key) for s in data.systems)


def test_set_mean_is_over_exactly_the_set():
    values = {"a": 1.0, "b": 0.5, "c": 0.0, "d": None}
    assert set_mean(values, ["a", "b"]) == (0.75, [])
    assert set_mean(values, ["a", "b", "c"]) == (0.5, [])
    assert set_mean(values, ["a", "d", "e"]) == (None, ["d", "e"])  # a partial set has no mean
    assert set_mean(values, []) == (None, [])


def test_table_parts_on_hand_made_data(monkeypatch):
    import zoo.report.published_tasks as pt

    data = PublishedTasks("src", (PublishedSystem("x", "X", 2, 0.75, "two"), PublishedSystem("y", "Y", 3, 0.5, None)),
                          {"a": {"x": 1.0, "y": 0.2}, "b": {"x": 0.5, "y": None}})
    monkeypatch.setattr(pt, "_suite_tasks", lambda name: ["a", "b"] if name == "two" else None)
    heads, cells, rows = table_parts(["a", "c"], [{"a": 1.0, "b": 0.0}, {"a": 1.0}], data)
    assert heads == ["X [published]", "Y [published]"]
    assert cells == {"a": ["100%", "20%"], "c": ["-", "-"]}
    assert rows[0] == ["mean over two (2 tasks)", "50.0%", "scored on 1/2", "75.0%", "-"]
    assert rows[1] == ["published mean over its own set", "-", "-", "75.0% (2 tasks)", "50.0% (3 tasks)"]


def test_published_suites():
    package = miniwob_task_names()
    assert suite_tasks("miniwob-all") == package and len(package) == 130
    pix = suite_tasks("pix2act-59")
    assert len(pix) == 58 and "drag-item" not in pix and set(pix) <= set(package)
    web = suite_tasks("webn-t5-56")
    assert len(web) == len(set(web)) == 56 and set(web) <= set(package)
    from omegaconf import OmegaConf
    from zoo.web.tasks import miniwob_html_dir  # noqa: F401  (same package the suites name)
    from pathlib import Path

    CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

    for name in ("pix2act-59", "webn-t5-56", "cc-net-104"):
        desc = OmegaConf.load(CONFIG_DIR / "suite" / f"{name}.yaml").description
        assert "arXiv" in desc and "et al." in desc  # each names its source
    for name in ("pix2act-59", "cc-net-104"):
        assert "drag-item has no page" in OmegaConf.load(CONFIG_DIR / "suite" / f"{name}.yaml").description


def test_cc_net_104_suite_is_the_listed_set_less_the_page_the_package_lacks():
    """cc-net-104: the 104 names of its source less drag-item (no page in the package); no -nodelay
    copy (CC-Net's set has none); and it holds every task the other published sets compare with
    CC-Net on (WebN-T5's 56, Pix2Act's 59 with a -nodelay task read as its base task)."""
    from pathlib import Path

    from omegaconf import OmegaConf

    cc = suite_tasks("cc-net-104")
    package = set(miniwob_task_names())
    assert len(cc) == len(set(cc)) == 103 and "drag-item" not in cc and set(cc) <= package
    assert not [t for t in cc if t.endswith("-nodelay")]
    desc = OmegaConf.load(Path(__file__).resolve().parents[1] / "configs" / "suite" / "cc-net-104.yaml").description
    assert "posgnu/rci-agent" in desc and "ef646f8f281ae593d9d0033d34b5ffc1c0de17e2" in desc
    assert "inferred" in desc  # the source does not name itself CC-Net's set; the file says so
    assert set(suite_tasks("webn-t5-56")) <= set(cc)
    assert {t.removesuffix("-nodelay") for t in suite_tasks("pix2act-59")} <= set(cc)
    # the published human / CC-Net columns now have their suite, and every transcribed row is in it
    data = load()
    for key in ("human", "ccnet", "ccnet_bc"):
        assert data.system(key).suite == "cc-net-104" and set(data.values(key)) <= set(cc)


def test_table_parts_has_a_mean_row_for_each_published_suite():
    heads, _cells, rows = table_parts(["click-test"], [{"click-test": 1.0}])
    labels = [r[0] for r in rows]
    assert "mean over cc-net-104 (103 tasks)" in labels and "mean over pix2act-59 (58 tasks)" in labels
    cc_row = rows[labels.index("mean over cc-net-104 (103 tasks)")]
    assert cc_row[1] == "scored on 1/103"  # a partial set gets a count, never a mean
    assert cc_row[2:5] == ["93.5%", "93.5%", "30.5%"] and len(heads) == len(cc_row) - 2


def test_success_is_full_credit_and_partial_credit_is_counted_beside_it():
    assert full_credit(1.0) and not full_credit(0.74) and not full_credit(-1.0)
    assert partial_credit(0.44) and not partial_credit(1.0) and not partial_credit(0.0) and not partial_credit(-0.5)
    raws = [1.0, 0.6, 0.2, -1.0]
    eps = [{"task": "a", "seed": eval_seed(k), "raw_reward": r, "reward": r * 0.9, "success": full_credit(r),
            "steps": 1, "error": None} for k, r in enumerate(raws)]
    res = build_results(eps, ["a"], agent="x", suite="s", config={"episodes": 4, "seed": 0}, timing={}, env={})
    a = res["tasks"]["a"]
    assert res["schema"] == "actionzoo.bench/2"
    assert a["successes"] == 1 and a["success_rate"]["mean"] == 0.25
    assert a["partial_credits"] == 2 and a["partial_credit_rate"]["mean"] == 0.5
    assert a["mean_raw_reward"]["mean"] == pytest.approx(0.2)
    assert res["overall"]["partial_credits"] == 2


def test_data_mode_follows_the_seed_range():
    assert data_mode_for(eval_seed(0)) == "test" and data_mode_for(eval_seed(999)) == "test"
    assert data_mode_for(0) == "train" and data_mode_for(123) == "train"


def test_v1_results_are_rescored_by_full_credit():
    v1 = {"schema": "actionzoo.bench/1", "agent": "random", "suite": "s",
          "tasks": {"a": {"episodes": 3, "successes": 2, "success_rate": {"mean": 0.67}}},
          "overall": {"success_rate": {"mean": 0.67}},
          "episodes": [{"task": "a", "raw_reward": 1.0, "reward": 0.9, "success": True},
                       {"task": "a", "raw_reward": 0.5, "reward": 0.4, "success": True},  # partial: not success
                       {"task": "a", "raw_reward": -1.0, "reward": -1.0, "success": False}]}
    rescored = rescore_v1(v1)
    assert rescored is not None and "overall" not in rescored
    scores = task_scores(rescored)
    assert scores["a"].successes == 1 and scores["a"].episodes == 3
    assert rescore_v1({"schema": "actionzoo.bench/1", "tasks": {}}) is None
