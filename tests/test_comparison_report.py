"""The comparison-matrix report: paired statistics on hand-made numbers, and a verdict written from them."""
from pathlib import Path

import pytest

from zoo.core.stats import mcnemar_exact_p, mean_t_interval, sign_flip_p


def test_paired_statistics_on_hand_made_numbers():
    assert sign_flip_p([0.1, 0.2, 0.3]) == 0.25  # three seeds, all one way: 2 of 8 sign patterns as extreme
    assert sign_flip_p([0.1, -0.1]) == 1.0
    assert mcnemar_exact_p(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact_p(5, 5) == 1.0 and mcnemar_exact_p(0, 0) == 1.0
    mean, lo, hi = mean_t_interval([0.2, 0.4, 0.6])
    assert mean == pytest.approx(0.4) and hi - mean == pytest.approx(4.303 * 0.2 / 3 ** 0.5, rel=1e-3)


def _run(tmp: Path, strategy: str, cell: str, seed: int, train: list[bool], held: list[bool], demos: int = 8,
         fewshot: dict[int, list[bool]] | None = None, suite: str = "small", tasks: int = 1, created: str = ""):
    """A compare run whose episodes are spread round-robin over ``tasks`` tasks of suite ``<suite>-train``."""
    from zoo.report.gather import Run, Scored, TaskScore

    def scored(outcomes: list[bool]) -> Scored:
        names = ["click-test", *(f"task-{j}" for j in range(1, tasks))]
        eps = [{"task": names[i % tasks], "seed": 1_000_000 + i, "success": ok} for i, ok in enumerate(outcomes)]
        per_task = {t: TaskScore(sum(e["success"] for e in eps if e["task"] == t),
                                 sum(e["task"] == t for e in eps)) for t in names}
        return Scored(cell, {"episodes": eps, **({"created": created} if created else {})}, per_task)

    run = Run(tmp / strategy / f"{cell}-s{seed}", strategy, "xl", None, scored(train))
    run.heldout = scored(held)
    run.fewshot = {k: scored(v) for k, v in (fewshot or {}).items()}
    run.budget = {"cell": cell, "seed": seed, "strategy": strategy, "train_suite": f"{suite}-train",
                  "heldout_suite": f"{suite}-heldout", "demos_per_task": demos, "env_steps_budget": 3000,
                  "env_steps_used": 100.0}
    run.params = 1000
    return run


def test_the_verdict_names_the_winner_where_the_evidence_is_clear(tmp_path):
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = []
    for seed in range(3):  # a: 18/20 trained, b: 4/20; held-out: both 10/20 (a tie)
        runs.append(_run(tmp_path, "foundation", "a", seed, [True] * 18 + [False] * 2, [True, False] * 10))
        runs.append(_run(tmp_path, "compressive_rl", "b", seed, [True] * 4 + [False] * 16, [False, True] * 10))
    sec = comparison.comparison(None, Gathered(runs=runs))
    cells_table, pairs_table, note = sec.blocks
    assert [row[0] for row in cells_table.rows] == ["a", "b"]
    assert cells_table.rows[0][2].startswith("90.0%") and cells_table.rows[1][2].startswith("20.0%")
    train_pair = next(r for r in pairs_table.rows if r[1] == comparison.SPLIT_TITLE["train"])
    assert train_pair[3] == "+70.0" and train_pair[6] == "42 / 0"
    assert "On the training split, a beats b by 70.0 points" in note.text
    # the tie on the held-out split is in the table, and the verdict only counts it
    assert "held-out" not in note.text and "The other 1 paired comparisons in the table show no clear" in note.text


def test_one_seed_says_it_has_no_seed_interval(tmp_path):
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = [_run(tmp_path, "foundation", "a", 0, [True] * 18 + [False] * 2, [True, False] * 10),
            _run(tmp_path, "compressive_rl", "b", 0, [True] * 4 + [False] * 16, [False, True] * 10)]
    _, pairs_table, note = comparison.comparison(None, Gathered(runs=runs)).blocks
    train_pair = next(r for r in pairs_table.rows if r[1] == comparison.SPLIT_TITLE["train"])
    assert train_pair[2] == "1" and train_pair[4] == "- (one seed)"
    assert "a beats b by 70.0 points (one seed, so no interval over seeds; episodes solved by only one: 14 vs 0" in note.text
    assert "inf" not in note.text and "1 seeds" not in note.text


def test_matrices_with_both_strategies_are_compared_within_themselves(tmp_path):
    """Two self-contained matrices at the same budget: their cells pair within each matrix, not across; two
    one-strategy matrices (the halves of one comparison) pair with each other."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = []
    for matrix in ("m1", "m2"):
        for seed in range(2):
            runs.append(_run(tmp_path / matrix, "foundation", "a", seed, _hits(9), _hits(5)))
            runs.append(_run(tmp_path / matrix, "compressive_rl", "b", seed, _hits(3), _hits(5)))
    sec = comparison.comparison(None, Gathered(runs=runs))
    pairs = {row[0] for row in sec.blocks[1].rows}
    assert pairs == {"m1/a - m1/b", "m2/a - m2/b"}
    halves = [_run(tmp_path / "h1", "foundation", "a", s, _hits(9), _hits(5)) for s in range(2)]
    halves += [_run(tmp_path / "h2", "compressive_rl", "b", s, _hits(3), _hits(5)) for s in range(2)]
    sec = comparison.comparison(None, Gathered(runs=halves))
    assert {row[0] for row in sec.blocks[1].rows} == {"a - b"}


def test_a_half_that_names_its_partner_pairs_with_that_one_only(tmp_path):
    """Three one-strategy matrices: s1-new names s2-new as its other half, so it pairs with s2-new and not with
    s2-old (run on another action space); s2-old, naming nobody and named by nobody, pairs with nobody."""
    import json

    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = []
    for matrix, strategy, cell, partner in (("s1-new", "foundation", "a", "s2-new"), ("s2-new", "compressive_rl", "b", ""),
                                            ("s2-old", "compressive_rl", "c", "")):
        runs += [_run(tmp_path / matrix, strategy, cell, s, _hits(9 if cell == "a" else 3), _hits(5)) for s in range(2)]
        (tmp_path / matrix).mkdir()
        (tmp_path / matrix / "matrix.json").write_text(json.dumps({"matrix": matrix, "spec": {"pairs_with": partner}}))
    sec = comparison.comparison(None, Gathered(runs=runs))
    assert {row[0] for row in sec.blocks[1].rows} == {"a - b"}


def test_a_half_without_matrix_json_pairs_with_the_partner_its_runs_name(tmp_path):
    """A one-strategy matrix with one seed of three scored has no matrix.json yet: its runs' budget.json names the
    partner (s2-new), so it pairs with that matrix only, not with every one-strategy matrix that names nobody."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = [_run(tmp_path / "s1-new", "foundation", "a", 1, _hits(9), _hits(5))]
    runs[0].budget["pairs_with"] = "s2-new"
    for matrix, cell in (("s2-new", "b"), ("s2-old", "c"), ("s2-other", "d")):
        runs += [_run(tmp_path / matrix, "compressive_rl", cell, s, _hits(3), _hits(5)) for s in range(3)]
    rows = comparison.comparison(None, Gathered(runs=runs)).blocks[1].rows
    assert {row[0] for row in rows if row[0].startswith("a ")} == {"a - b"}
    runs[0].budget["pairs_with"] = ""  # naming nobody, it pairs with every half that names nobody (the old reading)
    rows = comparison.comparison(None, Gathered(runs=runs)).blocks[1].rows
    assert {row[0] for row in rows if row[0].startswith("a ")} == {"a - b", "a - c", "a - d"}


def test_a_half_that_names_a_matrix_of_both_strategies_pairs_with_its_other_strategy(tmp_path):
    """A one-strategy re-run (s2-again) naming a matrix of both strategies (both) pairs with that matrix's other
    strategy's cell, seed by seed; the matrix of both still pairs within itself, and a one-strategy matrix naming
    nobody (s2-other) pairs with neither."""
    import json

    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = []
    for s in range(2):
        runs += [_run(tmp_path / "both", "foundation", "a", s, _hits(9), _hits(5)),
                 _run(tmp_path / "both", "compressive_rl", "b", s, _hits(3), _hits(5)),
                 _run(tmp_path / "s2-other", "compressive_rl", "d", s, _hits(4), _hits(5))]
    runs.append(_run(tmp_path / "s2-again", "compressive_rl", "c", 0, _hits(8), _hits(5)))  # one seed of two
    (tmp_path / "s2-again").mkdir()
    (tmp_path / "s2-again" / "matrix.json").write_text(json.dumps({"matrix": "s2-again", "spec": {"pairs_with": "both"}}))
    rows = comparison.comparison(None, Gathered(runs=runs)).blocks[1].rows
    assert {row[0] for row in rows} == {"a - b", "a - c"}
    train = next(r for r in rows if r[0] == "a - c" and r[1] == comparison.SPLIT_TITLE["train"])
    assert train[2] == "1" and train[3] == "+10.0"  # paired on the seed both have


def test_no_compare_runs_says_what_to_run(tmp_path):
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    sec = comparison.comparison(None, Gathered())
    assert sec.blocks[0].missing and "zoo compare config=" in sec.blocks[0].text


def _hits(n: int, of: int = 10) -> list[bool]:
    return [True] * n + [False] * (of - n)


def test_series_names_strip_only_the_matching_demos_suffix():
    from zoo.report.comparison import series_of

    assert series_of("xl-d3", 3) == "xl" and series_of("xl-d3", 6) == "xl-d3"
    assert series_of("foundation", 6) == "foundation" and series_of("s1-d12", 12) == "s1"


def test_success_vs_demonstrations_curve_across_two_matrices(tmp_path):
    """cpu-demos-like cells at 1 and 3 demonstrations plus a cpu-small-like one at 6 (another matrix folder):
    one series per strategy with three points; pairs only between equal budgets; the figure is drawn."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered
    from zoo.report.sections import Ctx

    runs = []
    for seed in (0, 1):
        for demos, s1, s2 in ((1, 4, 1), (3, 6, 2), (6, 8, 3)):
            root = tmp_path / ("small" if demos == 6 else "demos")
            suffix = "" if demos == 6 else f"-d{demos}"
            runs.append(_run(root, "foundation", f"foundation{suffix}", seed, _hits(s1 + seed), _hits(seed), demos,
                             {1: _hits(s1), 5: _hits(s1 + 1)} if demos < 6 else {1: _hits(s1)}))
            if (seed, demos) != (1, 1):  # xl at one demonstration: seed 0 only
                runs.append(_run(root, "compressive_rl", f"xl{suffix}", seed, _hits(s2 + seed), _hits(0), demos))
    sec = comparison.comparison(Ctx(tmp_path, 0.95), Gathered(runs=runs))
    cells_table, pairs_table, _, curve_table, image = sec.blocks
    assert len(cells_table.rows) == 6
    assert {r[0] for r in pairs_table.rows} == {"foundation - xl", "foundation-d1 - xl-d1", "foundation-d3 - xl-d3"}
    assert curve_table.headers[-2:] == ["few-shot k=1", "few-shot k=5"]
    by_point = {(r[0], r[2]): r for r in curve_table.rows}
    assert sorted(by_point) == [("foundation", "1"), ("foundation", "3"), ("foundation", "6"),
                                ("xl", "1"), ("xl", "3"), ("xl", "6")]
    f1, f6 = by_point[("foundation", "1")], by_point[("foundation", "6")]
    assert f1[3] == "2" and f1[4].startswith("45.0%") and f1[5].startswith("5.0%")  # trained 4/10, 5/10; held 0, 1
    assert f1[6].startswith("40.0%") and f1[7].startswith("50.0%")  # few-shot k=1, k=5
    assert f6[4].startswith("85.0%") and f6[7] == "-"  # no k=5 at 6 demonstrations
    assert by_point[("xl", "3")][4].startswith("25.0%") and "(2 seeds)" in by_point[("xl", "3")][4]
    xl1 = by_point[("xl", "1")]  # one seed: 1/10 with the Wilson interval over its 10 episodes
    assert xl1[3] == "1" and xl1[4] == "10.0% [1.8, 40.4] (1 seed; Wilson over 10 episodes)"
    assert image.file == "curve_demos.png" and (tmp_path / "curve_demos.png").stat().st_size > 10_000


def _with_settings(run, *overrides: str):
    run.budget["overrides"] = ["strategy=compressive_rl", "env.suite=scale-train", "env.tasks=[]", "eval.suite=",
                               "eval.tasks=null", *overrides, f"seed={run.budget['seed']}", "name=x", "run_root=/r"]
    return run


def test_a_curve_joins_only_cells_with_the_same_settings(tmp_path):
    """xl at 5 demonstrations with key presses off (one matrix) and on (another), and xl-d20 with them on: the
    curve is the key-presses-on pair; the lone key-presses-off point makes no curve.  Settings are read from
    the overrides between the suites and the seed (the order given does not matter)."""
    from zoo.report.cells import cells_of, settings_of
    from zoo.report.demos_curve import demos_curve

    keys_on = ("model.attention=xl", "ppo.press_keys=true")
    runs = [_with_settings(_run(tmp_path / "scale-xl", "compressive_rl", "xl", 0, _hits(3), _hits(1), 5,
                                suite="scale"), "model.attention=xl"),
            _with_settings(_run(tmp_path / "actions-xl", "compressive_rl", "xl", 0, _hits(4), _hits(1), 5,
                                suite="scale"), *keys_on),
            _with_settings(_run(tmp_path / "demos-xl", "compressive_rl", "xl-d20", 0, _hits(7), _hits(2), 20,
                                suite="scale"), *reversed(keys_on))]
    assert settings_of(runs[1]) == settings_of(runs[2]) == (*keys_on, "env_steps=3000")
    assert settings_of(runs[0]) != settings_of(runs[1])
    points = demos_curve(cells_of(runs), ["train"])
    assert [(pt.series, pt.demos) for pt in points] == [("xl", 5), ("xl", 20)]
    assert [pt.text("train")[:5] for pt in points] == ["40.0%", "70.0%"]
    # a second curve of the same name (key presses off at 20 too) is told apart by its matrices
    runs.append(_with_settings(_run(tmp_path / "demos-xl-nokeys", "compressive_rl", "xl-d20", 0, _hits(5),
                                    _hits(2), 20, suite="scale"), "model.attention=xl"))
    names = sorted({pt.series for pt in demos_curve(cells_of(runs), ["train"])})
    assert names == ["xl (actions-xl+demos-xl)", "xl (demos-xl-nokeys+scale-xl)"]
    # budget.json's own record of the settings, where a run has one, is read instead of the overrides
    runs[0].budget["settings"] = list(reversed(keys_on))
    assert settings_of(runs[0]) == settings_of(runs[1])


def test_a_point_measured_by_two_matrices_is_the_one_scored_last_not_twice_the_seeds(tmp_path):
    """cpu-scale's and cpu-scale-actions' Strategy 1 at 5 have the same settings (the action space is code):
    seeds 0-1 of each are not four seeds; the later matrix is the point, and the caption names the other."""
    from zoo.report.cells import cells_of
    from zoo.report.demos_curve import demos_curve, demos_curve_blocks

    runs = [_run(tmp_path / m, "foundation", "foundation", seed, _hits(hits), _hits(1), 5, suite="scale",
                 created=when) for m, hits, when in (("narrow", 2, "2026-11-01T00:00:00Z"),
                                                     ("actions", 6, "2026-12-01T00:00:00Z")) for seed in (0, 1)]
    runs.append(_run(tmp_path / "demos", "foundation", "foundation-d20", 0, _hits(8), _hits(2), 20, suite="scale"))
    points = demos_curve(cells_of(runs), ["train"])
    assert [(pt.demos, pt.matrix, pt.superseded, len(pt.scores["train"])) for pt in points] == [
        (5, "actions", ("narrow",), 2), (20, "demos", (), 1)]
    assert points[0].text("train").startswith("60.0%") and "(2 seeds)" in points[0].text("train")
    table = demos_curve_blocks(None, cells_of(runs), [])[0]
    assert "foundation at 5: actions (not narrow)" in table.caption


def test_no_curve_when_every_series_has_one_demonstrations_count(tmp_path):
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = [_run(tmp_path, "foundation", "a", 0, _hits(5), _hits(1)), _run(tmp_path, "compressive_rl", "b", 0,
                                                                           _hits(2), _hits(1), demos=3)]
    sec = comparison.comparison(None, Gathered(runs=runs))
    assert len(sec.blocks) == 2  # the cells table and the verdict: different budgets are not paired, no curve
    assert "No two cells" in sec.blocks[1].text


def test_ablations_pair_each_changed_cell_with_its_matrix_reference(tmp_path):
    """Same strategy, same matrix, same budget: each ablation is paired with the unchanged cell (named after
    the strategy); cells of another matrix or another budget are not drawn in."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    abl = tmp_path / "cpu-ablations"
    runs = [_run(abl, "foundation", "foundation", 0, _hits(9), _hits(3)),
            _run(abl, "foundation", "s1-no-video", 0, _hits(7), _hits(3)),
            _run(abl, "foundation", "s1-text", 0, _hits(9), _hits(8)),
            _run(abl, "foundation", "s1-more-demos", 0, _hits(10), _hits(3), demos=20),  # another budget
            _run(tmp_path / "other", "foundation", "foundation-x", 0, _hits(1), _hits(1))]
    sec = comparison.comparison(None, Gathered(runs=runs))
    tables = [b for b in sec.blocks if isinstance(b, comparison.Table) and b.caption.startswith("Ablations")]
    assert len(tables) == 1
    rows = {(r[0], r[1]): r for r in tables[0].rows}
    train, held = comparison.SPLIT_TITLE["train"], comparison.SPLIT_TITLE["heldout"]
    assert set(rows) == {("s1-no-video - foundation", train), ("s1-no-video - foundation", held),
                         ("s1-text - foundation", train), ("s1-text - foundation", held)}
    assert rows[("s1-no-video - foundation", train)][3] == "-20.0"
    assert rows[("s1-text - foundation", held)][3] == "+50.0" and rows[("s1-text - foundation", held)][6] == "5 / 0"
    note = next(b for b in sec.blocks if isinstance(b, comparison.Note) and b.text.startswith("Ablations"))
    assert "s1-text is ahead of foundation by 50.0 points" in note.text


def test_the_verdict_leads_with_the_pair_trained_on_the_most_tasks(tmp_path):
    """Two comparisons: a small one with a clear difference, and one on three times the tasks whose
    held-out difference is not clear.  The verdict opens with the larger one, every split of it, then the
    clear differences elsewhere; the cost names only the cells the verdict talks about."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = []
    for seed in range(3):
        runs.append(_run(tmp_path / "small", "foundation", "a", seed, _hits(18, 20), _hits(9, 20)))
        runs.append(_run(tmp_path / "small", "compressive_rl", "b", seed, _hits(4, 20), _hits(10, 20)))
        runs.append(_run(tmp_path / "big-s1", "foundation", "foundation", seed, _hits(12 + seed, 30), _hits(6, 30),
                         suite="scale", tasks=3))
        runs.append(_run(tmp_path / "big-s2", "compressive_rl", "xl", seed, _hits(3, 30), _hits(6 + seed, 30),
                         suite="scale", tasks=3))
        runs.append(_run(tmp_path / "small", "foundation", "c", seed, _hits(10, 20), _hits(9, 20), demos=2))
    sec = comparison.comparison(None, Gathered(runs=runs))
    cells_table, _, note = sec.blocks[:3]
    text = note.text
    assert text.startswith("Verdict (generated from the tables above): Headline, the pair trained on the most tasks "
                           "(foundation vs xl, 3 training tasks): On the training split, foundation beats xl by 33.3")
    head, elsewhere = text.split("Elsewhere:")
    assert "On the held-out split (zero-shot), xl is ahead of foundation by 3.3 points, but that is not a clear" in head
    assert "On the training split, a beats b by 70.0 points" in elsewhere
    assert "held-out" not in elsewhere.split("Cost:")[0]
    cost = text.split("Cost:")[1]
    assert all(f"{c}:" in cost for c in ("a", "b", "foundation", "xl")) and "c:" not in cost
    # the cells are trained on different suites, so the table names each cell's suites
    assert cells_table.headers[2:5] == ["suites (training / held-out)", "trained", "held-out"]
    assert {r[0]: r[2] for r in cells_table.rows}["xl"] == "scale-train / scale-heldout"


@pytest.mark.parametrize("newer_first", [True, False])
def test_between_pairs_equal_in_tasks_and_seeds_the_verdict_leads_with_the_one_scored_last(tmp_path, newer_first):
    """The same comparison run twice (e.g. before and after the action space was widened): both pairs train on
    3 tasks over 3 seeds; the headline is the later one, whatever order the runs were read in."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    def pair(matrix: str, s1: str, s2: str, s1_hits: int, created: str) -> list:
        return [run for seed in range(3) for run in (
            _run(tmp_path / f"{matrix}-a", "foundation", s1, seed, _hits(s1_hits, 30), _hits(6, 30), suite="scale",
                 tasks=3, created=created),
            _run(tmp_path / f"{matrix}-b", "compressive_rl", s2, seed, _hits(3, 30), _hits(6, 30), suite="scale",
                 tasks=3, created=created))]

    old = pair("old", "foundation-old", "xl-old", 12, "2026-12-02T10:00:00Z")
    new = pair("new", "foundation-new", "xl-new", 15, "2026-12-03T10:00:00Z")
    note = comparison.comparison(None, Gathered(runs=new + old if newer_first else old + new)).blocks[2]
    head, elsewhere = note.text.split("Elsewhere:")
    assert "Headline, the pair trained on the most tasks (foundation-new vs xl-new, 3 training tasks)" in head
    assert "foundation-new beats xl-new by 40.0 points" in head
    assert "foundation-old beats xl-old by 30.0 points" in elsewhere  # the earlier pair's clear difference follows


@pytest.mark.parametrize("old_first", [True, False])
def test_a_cell_scored_last_heads_beside_the_newer_of_two_partners(tmp_path, old_first):
    """Strategy 1's cell scored last of all, beside two Strategy 2 cells on the same tasks and seeds, one scored
    long before (the run before a change) and one since: the headline is the pair with the newer partner,
    whatever order the runs were read in (both pairs' latest score is Strategy 1's)."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    def cell(strategy: str, label: str, hits: int, created: str) -> list:
        return [_run(tmp_path / "m", strategy, label, seed, _hits(hits, 30), _hits(6, 30), suite="scale", tasks=3,
                     created=created) for seed in range(3)]

    s1 = cell("foundation", "f", 15, "2026-12-05T10:00:00Z")
    s2_old = cell("compressive_rl", "x-before", 3, "2026-12-01T10:00:00Z")
    s2_new = cell("compressive_rl", "x-since", 15, "2026-12-04T10:00:00Z")
    runs = s1 + (s2_old + s2_new if old_first else s2_new + s2_old)
    head = comparison.comparison(None, Gathered(runs=runs)).blocks[2].text.split("Elsewhere:")[0]
    assert "Headline, the pair trained on the most tasks (f vs x-since, 3 training tasks)" in head


def test_a_demonstrations_curve_holds_its_suites_fixed(tmp_path):
    """foundation at 1 and 3 demonstrations on one suite and at 5 on another: the point on the other suite
    is not on the curve (one point there, so no curve of its own); with points on both suites, each is its
    own series named after its training suite."""
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    runs = [_run(tmp_path / "demos", "foundation", f"foundation-d{n}", 0, _hits(n), _hits(1), demos=n)
            for n in (1, 3)]
    runs.append(_run(tmp_path / "scale", "foundation", "foundation", 0, _hits(2), _hits(1), demos=5, suite="scale"))
    curve = next(b for b in comparison.comparison(None, Gathered(runs=runs)).blocks
                 if isinstance(b, comparison.Table) and b.caption.startswith("Success (full credit) vs"))
    assert [(r[0], r[2]) for r in curve.rows] == [("foundation", "1"), ("foundation", "3")]
    runs.append(_run(tmp_path / "scale", "foundation", "foundation-d9", 0, _hits(4), _hits(1), demos=9, suite="scale"))
    curve = next(b for b in comparison.comparison(None, Gathered(runs=runs)).blocks
                 if isinstance(b, comparison.Table) and b.caption.startswith("Success (full credit) vs"))
    assert [(r[0], r[2]) for r in curve.rows] == [("foundation on scale-train", "5"), ("foundation on scale-train", "9"),
                                                  ("foundation on small-train", "1"), ("foundation on small-train", "3")]


def test_the_one_minute_answer_puts_strategy_1_first_and_names_a_winner_only_where_clear(tmp_path):
    """Strategy 2's cell sorts first here ("a"), so the pair's differences are flipped into Strategy 1 - Strategy 2;
    trained: Strategy 1 18/20 vs 4/20 on all 3 seeds (clear); zero-shot a tie; few-shot k=5 ahead on 2 seeds of 3 (-20, +40, +40 points)."""
    from zoo.config import load_plugins
    from zoo.report import answer
    from zoo.report.gather import Gathered, Scored, TaskScore

    load_plugins()  # the strategies' labels, as gather() loads them for a report

    runs = []
    for seed in range(3):
        few = {5: _hits(8 if seed else 2)}
        runs.append(_run(tmp_path, "foundation", "b", seed, _hits(18, 20), [True, False] * 10, fewshot=few, tasks=2))
        runs.append(_run(tmp_path, "compressive_rl", "a", seed, _hits(4, 20), [False, True] * 10, fewshot={5: _hits(4)},
                         tasks=2))
        runs[-2].budget["env_steps_used"], runs[-1].budget["env_steps_used"] = 3000.0, 2990.0
    # the random agent: click-test 1/4 in one suite's file, 3/4 in another's with more episodes; task-1 0/2
    randoms = [Scored("random (s1)", {}, {"click-test": TaskScore(1, 4), "task-1": TaskScore(0, 2)}),
               Scored("random (s2)", {}, {"click-test": TaskScore(6, 8), "other": TaskScore(1, 1)}),
               Scored("oracle (s1)", {}, {"task-1": TaskScore(2, 2)})]
    sec = answer.answer(Gathered(runs=runs, baselines=randoms))
    table, note = sec.blocks
    assert table.headers[1] == "Strategy 1 (b)" and table.headers[2] == "Strategy 2 (a)"
    trained, zero, few, cost = table.rows
    assert trained[0] == "the tasks it trained on (2 tasks)" and trained[1].startswith("90.0%")
    assert trained[3] == "37.5%"  # (6/8 + 0/2) / 2
    assert trained[4].startswith("+70.0 [") and trained[5].endswith("(42 / 0)") and trained[6] == "Strategy 1, clearly"
    assert zero[0].startswith("unseen tasks, instruction only") and zero[6] == "neither (the same score)"
    assert few[0] == "unseen tasks, k=5 demonstrations per task, then a short fine-tune (2 tasks)"
    assert few[4] == "+20.0 [-66.1, +106.1]" and few[6] == "no clear winner (Strategy 1 ahead)"
    assert cost[1].startswith("1k parameters, 3k env steps") and cost[2].startswith("1k parameters, 2.99k env steps")
    assert "the pair trained on the most tasks, 2, over 3 seeds" in note.text


def test_no_pair_of_strategies_means_no_one_minute_answer(tmp_path):
    from zoo.report import answer
    from zoo.report.gather import Gathered

    runs = [_run(tmp_path, "foundation", "a", s, _hits(9), _hits(5)) for s in range(2)]
    assert answer.answer(Gathered(runs=runs)) is None and answer.answer(Gathered()) is None


def test_the_one_minute_answer_lists_pairs_scored_after_the_headline_on_fewer_seeds(tmp_path):
    """The headline pair (3 seeds, Strategy 1 clearly ahead) was scored first; a re-run on the same tasks scored
    later on 1 seed (Strategy 2 ahead) is listed under it, newest first; an older 1-seed pair and a newer pair on
    fewer tasks are not."""
    from zoo.config import load_plugins
    from zoo.report import answer
    from zoo.report.gather import Gathered

    load_plugins()
    runs = []
    for seed in range(3):
        runs += [_run(tmp_path / "head", "foundation", "f", seed, _hits(18, 20), _hits(5), tasks=2, created="2026-01-01"),
                 _run(tmp_path / "head", "compressive_rl", "x", seed, _hits(4, 20), _hits(5), tasks=2, created="2026-01-01")]
    for matrix, created, s1, s2, tasks in (("new", "2026-03-01", 4, 18, 2), ("newer", "2026-04-01", 10, 10, 2),
                                           ("old", "2025-12-01", 10, 2, 2), ("few-tasks", "2026-05-01", 1, 19, 1),
                                           ("half-new", "2026-06-01", 10, 10, 2)):
        runs += [_run(tmp_path / matrix, "foundation", "f", 0, _hits(s1, 20), _hits(5), tasks=tasks, created=created),
                 _run(tmp_path / matrix, "compressive_rl", "x", 0, _hits(s2, 20), _hits(5), tasks=tasks,
                      created="2025-11-01" if matrix == "half-new" else created)]
    table, note, newer, why = answer.answer(Gathered(runs=runs)).blocks
    assert table.rows[0][6] == "Strategy 1, clearly" and "over 3 seeds" in note.text
    # half-new: one cell scored last of all beside one scored before the headline: listed, but after the pairs
    # whose both cells are newer
    assert [r[0] for r in newer.rows] == ["newer/f vs newer/x", "new/f vs new/x", "half-new/f vs half-new/x"]
    assert newer.headers[2:] == ["the tasks it trained on", "unseen tasks, instruction only"]
    assert newer.rows[0][1] == "1" and newer.rows[0][2].startswith("+0.0, p = 1: neither")
    assert newer.rows[1][2] == "-70.0, p = 0.00012: Strategy 2, clearly"  # 14 episodes only Strategy 2 solved: 2 / 2**14
    assert "fewer seeds" in why.text
    # the verdict paragraph says the same: the newer pairs right after the headline, not again under "Elsewhere"
    from zoo.report import comparison
    text = comparison.comparison(None, Gathered(runs=runs)).blocks[2].text
    newer_part, elsewhere = text.split(" Cost: ")[0].split(
        "Scored after it on as many tasks, so far on fewer seeds (newest first):")[1].split("Elsewhere:")
    assert "new/x beats new/f by 70.0 points" in newer_part and "newer/f and newer/x scored the same" in newer_part
    assert "new/x" not in elsewhere and "old/f beats old/x by 40.0 points" in elsewhere
