"""``zoo report``: generation from fixture results, missing inputs, intervals, and the page in Chromium."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from zoo.config import parse_tool_config
from zoo.core.errors import ZooError
from zoo.report import build_report
from zoo.report.curves import learning_curve
from zoo.report.gather import gather
from zoo.core.stats import wilson
from zoo.schema.tools import ReportConfig

sys.path.insert(0, str(Path(__file__).parent))
from report_fixtures import STEPS_PER_UPDATE, TASKS, make_inputs  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference.md"  # the team's sheet, beside the repo


def launch_chromium(playwright):
    """The browser the benchmark uses (zoo/web/browser.py): ``$ZOO_CHROMIUM``, else /usr/bin/chromium
    when present, falling back to Playwright's own Chromium build."""
    import os

    from playwright.sync_api import Error as PlaywrightError

    from zoo.web.browser import CHROMIUM_ARGS, DEFAULT_CHROMIUM

    exe = os.environ.get("ZOO_CHROMIUM") or (DEFAULT_CHROMIUM if Path(DEFAULT_CHROMIUM).exists() else None)
    for path in ([exe, None] if exe else [None]):
        try:
            return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        except PlaywrightError:
            if path is None:
                raise


def report_cfg(paths: dict[str, Path], *extra: str):
    return parse_tool_config(ReportConfig, [f"runs={paths['runs']}", f"bench={paths['bench']}",
                                            f"search={paths['search']}", f"out={paths['out']}", *extra])


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    """One report built from every kind of input (shared: building it is the slow part)."""
    tmp = tmp_path_factory.mktemp("report")
    index = build_report(report_cfg(make_inputs(tmp), "name=full"))
    return index


def test_wilson_interval_matches_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    lo, hi = wilson(0, 10)  # never zero width at the boundary
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.2775, abs=1e-3)
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(10, 10)[0] < 1.0
    narrow, wide = wilson(50, 100), wilson(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert wilson(5, 10, 0.99)[0] < wilson(5, 10)[0]  # more confidence, wider interval


def test_gather_reads_runs_baselines_studies(full_report):
    root = full_report.parents[2]
    g = gather(root / "runs", root / "reports/bench", root / "reports/search")
    assert sorted(r.name for r in g.runs) == ["compressive_rl/dense-seed0", "compressive_rl/infini-seed0",
                                             "compressive_rl/xl-seed0", "foundation/dense-old", "foundation/sliding-seed0"]
    assert sorted(b.label for b in g.baselines) == ["oracle", "random"]
    for r in g.runs:
        assert r.scored is not None and set(r.scored.tasks) == set(TASKS) and r.scored.episodes == 32
        assert r.params and r.curve
    assert [s["study"] for s in g.studies] == ["compressive_rl-compressive_rl"]
    assert not g.problems


def test_learning_curve_lays_stages_end_to_end(full_report):
    root = full_report.parents[2]
    from omegaconf import OmegaConf

    s1 = root / "runs/foundation/sliding-seed0"
    pts = learning_curve(s1, OmegaConf.load(s1 / "config.yaml"))
    assert len(pts) == 8 and pts[0]["step"] == 10 + 4  # SFT's 10 steps first; RL's success from its first round
    assert pts[0]["wall_s"] > 17.0  # ... and so does its wall time
    assert {p["metric"] for p in pts} == {"rl/search_success"}
    assert [p["env_steps"] for p in pts] == [30 * (k // 4) for k in range(4, 12)]  # the search's browser steps
    s2 = root / "runs/compressive_rl/xl-seed0"
    pts = learning_curve(s2, OmegaConf.load(s2 / "config.yaml"))
    assert [p["env_steps"] for p in pts] == [STEPS_PER_UPDATE * (k + 1) for k in range(20)]  # the cumulative
    assert {p["metric"] for p in pts} == {"train/success_rate"}  # column, never train/env_steps_per_s
    old = root / "runs/compressive_rl/dense-seed0"  # logged before train/env_steps existed
    cfg = OmegaConf.load(old / "config.yaml")
    pts = learning_curve(old, cfg)
    per_update = cfg.ppo.rollout_steps * cfg.env.num_envs  # derived from the config
    assert [p["env_steps"] for p in pts[:2]] == [per_update, 2 * per_update]
    g = gather(root / "runs", root / "reports/bench", root / "reports/search")
    env_cell = {r.name: r.last("env_steps") for r in g.runs}
    assert env_cell["foundation/sliding-seed0"] == 60 and env_cell["compressive_rl/xl-seed0"] == 20 * STEPS_PER_UPDATE
    assert env_cell["foundation/dense-old"] is None
    html = full_report.read_text()
    assert "Not on the env-steps plot" in html and "foundation/dense-old" in html


def test_report_files_tables_and_figures(full_report):
    out = full_report.parent
    html = full_report.read_text()
    readme = (out / "README.md").read_text()
    summary = json.loads((out / "report.json").read_text())
    ids = [s["id"] for s in summary["sections"]]
    assert ids == ["overview", "strategies", "tasks", "variants", "published", "curves", "time-split", "scaling", "throughput",
                   "runs", "search"]
    for s in summary["sections"]:
        assert not s["missing"], s  # every input was there
        for img in s["images"]:
            data = (out / img).read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
            assert f'src="{img}"' in html and f"]({img})" in readme
    pngs = {p.name for p in out.glob("*.png")}
    assert {"curve_env_steps.png", "curve_wall_time.png", "attention_time.png", "attention_memory.png",
            "throughput.png", "strategies.png", "study_compressive_rl_compressive_rl_history.png",
            "study_compressive_rl_compressive_rl_importance.png"} <= pngs
    # per-task table: every task, each cell a rate with its interval and episode count
    for task in TASKS:
        assert f"<td>{task}</td>" in html and f"| {task} |" in readme
    s1 = json.loads((full_report.parents[2] / "runs/foundation/sliding-seed0/results.json").read_text())
    wins, n = s1["overall"]["successes"], s1["overall"]["episodes"]
    lo, hi = wilson(wins, n)
    assert f"{100 * wins / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] (n={n})" in html  # overall, with its interval
    assert html.count("[published]") >= 5 and "Shaw et al. 2023" in readme and "Koh et al. 2024" in html
    assert "Strategy 2 · infini" in html and "baseline: oracle" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched: viewable offline


def test_missing_inputs_become_notes(tmp_path):
    paths = make_inputs(tmp_path, with_bench=False, with_study=False)
    index = build_report(report_cfg(paths))
    summary = {s["id"]: s for s in json.loads((index.parent / "report.json").read_text())["sections"]}
    for sid, command in (("scaling", "zoo bench attention"), ("throughput", "zoo bench env"), ("search", "zoo search")):
        assert not summary[sid]["images"] and command in summary[sid]["missing"][0]
    assert summary["strategies"]["images"] and summary["curves"]["images"]  # the rest is still there
    html = index.read_text()
    assert html.count('class="missing"') == 3


def test_rebuild_replaces_the_old_report(tmp_path):
    paths = make_inputs(tmp_path, with_bench=True, with_study=False)
    first = build_report(report_cfg(paths))
    assert (first.parent / "throughput.png").is_file()
    (paths["bench"] / "env_throughput.json").unlink()
    second = build_report(report_cfg(paths))
    assert second == first and not (second.parent / "throughput.png").exists()  # no stale figure
    assert not list(paths["out"].glob(".*building"))


def test_bad_report_config_is_one_line(tmp_path, capsys):
    from zoo.cli import main

    with pytest.raises(ZooError, match="nothing to report"):
        build_report(parse_tool_config(ReportConfig, [f"runs={tmp_path / 'no'}", f"bench={tmp_path / 'no'}",
                                                      f"search={tmp_path / 'no'}"]))
    assert main(["report", "name=a/b", f"runs={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "zoo report: error: bad value for 'name': 'a/b' (a folder name, e.g. name=latest)"


@pytest.mark.skipif(not REFERENCE.is_file(), reason="no ../shared/reference.md here (CI has only the copy)")
def test_published_figures_match_the_reference_sheet():
    """zoo/report/published.py keeps a copy of the sheet's table (so CI needs no ../shared); it must
    not drift from the sheet."""
    from zoo.report.published import PUBLISHED

    lines = [ln.strip() for ln in REFERENCE.read_text().splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["system", "benchmark", "result", "training data", "source"]
    rows = [tuple(c.strip() for c in ln.strip("|").split("|")) for ln in lines[2:]]  # after the |---| line
    assert rows == [(p.system, p.benchmark, p.result, p.training_data, p.source) for p in PUBLISHED]


@pytest.mark.browser
def test_report_renders_in_headless_chromium(full_report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(full_report.resolve().as_uri(), wait_until="load")
            tables = page.eval_on_selector_all("table", "ts => ts.map(t => t.querySelectorAll('tbody tr').length)")
            images = page.eval_on_selector_all(
                "img", "is => is.map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))")
            headings = page.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
        finally:
            browser.close()
    assert len(tables) >= 9 and all(n > 0 for n in tables)
    assert len(images) >= 10 and all(i["ok"] for i in images), images
    assert "Strategies compared" in headings and "Per-task success" in headings
    assert not failed


def test_strategies_are_compared_on_the_tasks_both_were_scored_on(tmp_path):
    """Runs scored on different task sets: the comparison picks the pair with the most tasks in
    common and counts success on those tasks only; variants are grouped per task set."""
    from zoo.report import sections
    from zoo.report.gather import Gathered, Run, Scored, TaskScore

    def run(strategy: int, name: str, attention: str, scores: dict[str, tuple[int, int]]) -> Run:
        tasks = {t: TaskScore(w, n) for t, (w, n) in scores.items()}
        return Run(tmp_path / name, {1: "foundation", 2: "compressive_rl"}[strategy], attention, None,
                   Scored(name, {}, tasks))

    s1 = run(1, "s1", "sliding", {"click-test": (10, 10), "enter-text": (5, 10), "login-user": (0, 10)})
    s2_default = run(2, "s2-default", "xl", {t: (9, 10) for t in TASKS})  # rl-default
    s2_memory = run(2, "s2-memory", "xl", {"mp-recall-word": (10, 10)})  # best overall, nothing in common with s1
    g = Gathered(runs=[s1, s2_memory, s2_default])
    best, shared = sections.comparable_pair(g.runs)
    assert best == {"foundation": s1, "compressive_rl": s2_default} and shared == {"click-test", "enter-text"}
    assert sections.scored_on(s2_default) == "rl-default" and sections.scored_on(s2_memory) == "rl-memory"
    assert sections.scored_on(s1) == "3 tasks"

    ctx = sections.Ctx(tmp_path, 0.95)
    s2_default.budget = {"demos_per_task": 20}  # a zoo compare run: its demonstrations are shown beside its cost
    table = sections.strategies(ctx, g).blocks[0]
    rows = {row[0]: dict(zip(table.headers, row)) for row in table.rows}
    assert table.headers[5] == "success on the 2 shared tasks"
    assert rows["Strategy 2"]["demos / task"] == "20" and rows["Strategy 1"]["demos / task"] == "-"
    assert rows["Strategy 1"]["success on the 2 shared tasks"].startswith("75.0% ")  # 15 of 20, not 15 of 30
    assert rows["Strategy 2"]["run"] == "compressive_rl/s2-default"
    assert rows["Strategy 2"]["success on the 2 shared tasks"].startswith("90.0% ")

    variants = sections.attention_variants(ctx, g).blocks[0]
    assert [(r[1], r[2]) for r in variants.rows if r[0] == "Strategy 2"] == [("xl", "rl-default"), ("xl", "rl-memory")]
    columns = sections.per_task(ctx, g).blocks[0].headers
    assert "Strategy 2 · xl (rl-memory)" in columns and "Strategy 2 · xl (rl-default)" in columns

    no_overlap = Gathered(runs=[s1, s2_memory])
    notes = [b for b in sections.strategies(ctx, no_overlap).blocks if isinstance(b, sections.Note)]
    assert any("share no scored task" in n.text for n in notes)


def test_throughput_section_reads_zoo_bench_env_runs_and_goals(tmp_path):
    """The current ``zoo bench env`` file: per-repetition runs (median per context count, harness on one
    task, one browser) and the goals table."""
    from zoo.report.bench_sections import harness_points, harness_throughput
    from zoo.report.sections import Ctx

    runs = [{"name": "harness/single", "contexts": c, "browsers": 1, "repeat": k, "env_steps_per_s": rate}
            for c, rates in ((1, (60.0, 70.0, 80.0)), (4, (40.0, 50.0, 90.0))) for k, rate in enumerate(rates)]
    runs += [{"name": "harness/single", "contexts": 4, "browsers": 4, "repeat": 0, "env_steps_per_s": 999.0},
             {"name": "raw+dom", "contexts": 1, "browsers": 1, "repeat": 0, "env_steps_per_s": 500.0}]
    data = {"runs": runs, "goals": [{"goal": "4 contexts >= 1.6x 1 context", "target": 1.6, "measured": 0.714, "met": False}]}
    assert harness_points(data) == [(1.0, 70.0), (4.0, 50.0)]
    sec = harness_throughput(Ctx(tmp_path, 0.95), data, "env_throughput.json")
    tables = [b for b in sec.blocks if hasattr(b, "rows")]
    assert tables[0].rows == [["1", "70.0", "70.0"], ["4", "50.0", "12.5"]]
    assert tables[1].rows == [["4 contexts >= 1.6x 1 context", "0.71x", "no"]]
