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


def _run(tmp: Path, strategy: str, cell: str, seed: int, train: list[bool], held: list[bool]):
    from zoo.report.gather import Run, Scored, TaskScore

    def scored(outcomes: list[bool]) -> Scored:
        eps = [{"task": "click-test", "seed": 1_000_000 + i, "success": ok} for i, ok in enumerate(outcomes)]
        return Scored(cell, {"episodes": eps}, {"click-test": TaskScore(sum(outcomes), len(outcomes))})

    run = Run(tmp / strategy / f"{cell}-s{seed}", strategy, "xl", None, scored(train))
    run.heldout = scored(held)
    run.budget = {"cell": cell, "seed": seed, "strategy": strategy, "train_suite": "small-train",
                  "heldout_suite": "small-heldout", "demos_per_task": 8, "env_steps_used": 100.0}
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
    assert "held-out split (zero-shot), a is ahead of b by 0.0 points" in note.text or \
        "held-out split (zero-shot), a and b scored the same" in note.text


def test_no_compare_runs_says_what_to_run(tmp_path):
    from zoo.report import comparison
    from zoo.report.gather import Gathered

    sec = comparison.comparison(None, Gathered())
    assert sec.blocks[0].missing and "zoo compare config=" in sec.blocks[0].text
