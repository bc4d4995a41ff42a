"""``zoo compare`` on a CI-sized matrix: one Strategy-2 cell (tiny model, one seed) trained on ci-train, scored
there, zero-shot on ci-heldout and few-shot (k=1) on ci-heldout; every result in the actionzoo.bench schema; a
re-run skips everything; a deleted held-out result is re-scored alone, an interrupted training-split score
finished from its episode log; a bad matrix fails in one line before
any run directory exists; dry_run lists the cells."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo.core.errors import ZooError

TINY = ["model.dim=32", "model.n_layers=1", "model.n_heads=2", "model.vocab_size=300", "model.max_elements=24",
        "env.num_envs=2", "env.max_episode_steps=4", "ppo.rollout_steps=2", "ppo.update_epochs=1",
        "ppo.minibatches=1", "ppo.tokenizer_steps=2", "ppo.bc_epochs=5", "eval.episodes=2",
        "trainer.checkpoint_every=1"]


def write_matrix(path: Path, **changes) -> Path:
    spec = {"description": "CI matrix", "train_suite": "ci-train", "heldout_suite": "ci-heldout", "seeds": [0],
            "demos_per_task": 2, "env_steps": 8, "fewshot": [1], "overrides": TINY,
            "cells": [{"label": "xl", "strategy": "compressive_rl", "overrides": ["model.attention=xl"]}]}
    spec.update(changes)
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def run(matrix: Path, root: Path, dry_run: bool = False, seeds: list[int] | None = None,
        cells: list[str] | None = None) -> list[dict]:
    from zoo.compare import main
    from zoo.config import parse_tool_config
    from zoo.schema.tools import CompareConfig

    args = [f"config={matrix}", f"run_root={root}", f"dry_run={str(dry_run).lower()}"]
    args += [f"seeds={seeds}"] if seeds is not None else []
    args += [f"cells=[{','.join(cells)}]"] if cells is not None else []
    return main(parse_tool_config(CompareConfig, args))


def files_with_times(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


@pytest.mark.browser
def test_ci_matrix_trains_scores_fewshot_and_resumes(tmp_path, capsys):
    matrix, root = write_matrix(tmp_path / "ci.yaml", pairs_with="ci-other-half"), tmp_path / "runs"
    records = run(matrix, root)
    run_dir = root / "ci" / "compressive_rl" / "xl-s0"
    assert [r["run_dir"] for r in records] == [str(run_dir)]
    expected = {"results.json": "ci-train", "heldout/results.json": "ci-heldout",
                "fewshot-k1/results.json": "ci-heldout"}
    for rel, suite in expected.items():
        res = json.loads((run_dir / rel).read_text())
        assert res["schema"] == "actionzoo.bench/2" and res["suite"] == suite, rel
        assert res["agent"].startswith("strategy2") and res["run"]["strategy"] == "compressive_rl", rel
    assert set(json.loads((run_dir / "heldout/results.json").read_text())["tasks"]) == {"click-link"}

    budget = json.loads((run_dir / "budget.json").read_text())
    assert budget["params"] > 0 and budget["demos_per_task"] == 2 and budget["env_steps_used"] == 8
    assert any("ppo.bc_demos_per_task=2" == o for o in budget["overrides"])  # the budget hook gave it the demos
    assert budget["settings"] == [*TINY, "model.attention=xl"]  # the matrix's and the cell's own overrides
    assert budget["pairs_with"] == "ci-other-half"  # the report's partner while the matrix has no matrix.json yet
    fewshot = json.loads((run_dir / "fewshot-k1" / "budget.json").read_text())
    assert fewshot["demos_per_task"] == 1 and fewshot["demos_recorded"] == 1 and fewshot["wall_s"] > 0
    fs_cfg = (run_dir / "fewshot-k1" / "config.yaml").read_text()
    assert "suite: ci-heldout" in fs_cfg
    assert json.loads((root / "ci" / "matrix.json").read_text())["notes"] == []

    # a re-run finds everything finished: nothing new, nothing rewritten
    before = files_with_times(root / "ci" / "compressive_rl")
    t0 = time.perf_counter()
    run(matrix, root)
    assert time.perf_counter() - t0 < 60
    assert files_with_times(root / "ci" / "compressive_rl") == before

    # a lost held-out result is scored again, and only it
    (run_dir / "heldout" / "results.json").unlink()
    run(matrix, root)
    after = files_with_times(root / "ci" / "compressive_rl")
    assert (run_dir / "heldout" / "results.json").is_file()
    for rel in ("results.json", "fewshot-k1/results.json", "fewshot-k1/budget.json", "checkpoints/ppo/last.ckpt"):
        assert after[f"xl-s0/{rel}"] == before[f"xl-s0/{rel}"], rel

    # a training-split score stopped by Ctrl-C (partial, marked interrupted): the cell is not done; a re-run
    # finishes that score from its episode log, without training again
    partial = json.loads((run_dir / "results.json").read_text())
    log_lines = (run_dir / "results.episodes.jsonl").read_text().splitlines()
    partial.update(interrupted=True, episodes=partial["episodes"][:1])
    (run_dir / "results.json").write_text(json.dumps(partial))
    (run_dir / "results.episodes.jsonl").write_text(log_lines[0] + "\n")
    capsys.readouterr()
    run(matrix, root, dry_run=True)
    assert "todo  compressive_rl/xl-s0" in capsys.readouterr().err
    run(matrix, root)
    rescored = json.loads((run_dir / "results.json").read_text())
    assert not rescored["interrupted"] and rescored["config"]["resumed_episodes"] == 1
    assert len(rescored["episodes"]) == len(log_lines) and rescored["suite"] == "ci-train"
    assert (run_dir / "results.episodes.jsonl").read_text().splitlines()[0] == log_lines[0]
    again = files_with_times(root / "ci" / "compressive_rl")
    for rel in ("heldout/results.json", "fewshot-k1/results.json", "checkpoints/ppo/last.ckpt"):
        assert again[f"xl-s0/{rel}"] == after[f"xl-s0/{rel}"], rel

    capsys.readouterr()
    run(matrix, root, dry_run=True)
    out = capsys.readouterr().err
    assert "done  compressive_rl/xl-s0" in out and "done  few-shot k=1" in out


@pytest.mark.browser
def test_cells_with_their_own_demonstrations_make_a_curve_in_the_report(tmp_path):
    """Two cells differing only in demonstrations per task (``xl-d1``, ``xl-d2``): each gets its own budget, and
    ``zoo report`` on the folder of matrices draws and tabulates success vs demonstrations."""
    from zoo.config import parse_tool_config
    from zoo.report.build import build_report
    from zoo.schema.tools import ReportConfig

    cells = [{"label": f"xl-d{n}", "strategy": "compressive_rl", "demos_per_task": n,
              "overrides": ["model.attention=xl"]} for n in (1, 2)]
    root = tmp_path / "runs"
    records = run(write_matrix(tmp_path / "ci.yaml", cells=cells), root)
    assert [(r["cell"], r["demos_per_task"]) for r in records] == [("xl-d1", 1), ("xl-d2", 2)]
    for r, n in zip(records, (1, 2)):
        assert f"ppo.bc_demos_per_task={n}" in r["overrides"]
        assert json.loads((Path(r["run_dir"]) / "budget.json").read_text())["demos_per_task"] == n

    index = build_report(parse_tool_config(ReportConfig, [f"runs={root}", f"out={tmp_path / 'reports'}",
                                                          f"bench={tmp_path / 'none'}", f"search={tmp_path / 'none'}"]))
    summary = json.loads((index.parent / "report.json").read_text())
    section = next(s for s in summary["sections"] if s["id"] == "comparison")
    assert "curve_demos.png" in section["images"] and (index.parent / "curve_demos.png").is_file()
    readme = (index.parent / "README.md").read_text()
    assert "Success (full credit) vs recorded demonstrations per training task" in readme
    assert "| xl | Strategy 2 | 1 | 1 |" in readme and "| xl | Strategy 2 | 2 | 1 |" in readme


def test_dry_run_lists_cells_and_runs_nothing(tmp_path, capsys):
    matrix = write_matrix(tmp_path / "ci.yaml", seeds=[0, 1], fewshot=[1, 5])
    assert run(matrix, tmp_path / "runs", dry_run=True) == []
    out = capsys.readouterr().err
    for line in ("todo  compressive_rl/xl-s0", "todo  compressive_rl/xl-s1", "todo  few-shot k=5"):
        assert line in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.browser
def test_a_matrix_split_by_seed_is_recorded_whole_by_the_run_that_finishes_it(tmp_path, capsys):
    """Two processes (here: two calls) sharing a run root, each owning a seed: the first trains only its seed and
    leaves matrix.json unwritten; the second, finding the other seed done, records the whole matrix."""
    matrix, root = write_matrix(tmp_path / "ci.yaml", seeds=[0, 1], fewshot=[]), tmp_path / "runs"
    first = run(matrix, root, seeds=[1])
    assert [r["seed"] for r in first] == [1]
    assert not (root / "ci" / "compressive_rl" / "xl-s0").exists() and not (root / "ci" / "matrix.json").exists()
    assert "matrix.json waits for xl-s0" in capsys.readouterr().err
    second = run(matrix, root, seeds=[0])
    assert [r["seed"] for r in second] == [0, 1]  # the whole matrix, in the matrix's order
    recorded = json.loads((root / "ci" / "matrix.json").read_text())["cells"]
    assert [(c["seed"], c["run_dir"]) for c in recorded] == [(s, str(root / "ci" / "compressive_rl" / f"xl-s{s}"))
                                                            for s in (0, 1)]


def test_dry_run_of_some_seeds_lists_only_them(tmp_path, capsys):
    matrix = write_matrix(tmp_path / "ci.yaml", seeds=[0, 1, 2])
    assert run(matrix, tmp_path / "runs", dry_run=True, seeds=[2, 0]) == []
    out = capsys.readouterr().err
    assert "todo  compressive_rl/xl-s0" in out and "todo  compressive_rl/xl-s2" in out
    assert "xl-s1" not in out and "2 cells x seeds of 3 (seeds 2, 0)" in out


TWO_CELLS = [{"label": "xl", "strategy": "compressive_rl", "overrides": ["model.attention=xl"]},
             {"label": "dense", "strategy": "compressive_rl", "overrides": ["model.attention=dense"]}]


def test_dry_run_of_some_cells_lists_only_them(tmp_path, capsys):
    matrix = write_matrix(tmp_path / "ci.yaml", seeds=[0, 1], cells=TWO_CELLS)
    assert run(matrix, tmp_path / "runs", dry_run=True, seeds=[1], cells=["dense"]) == []
    out = capsys.readouterr().err
    assert "todo  compressive_rl/dense-s1" in out and "xl-s" not in out and "dense-s0" not in out
    assert "1 cells x seeds of 4 (seeds 1; cells dense)" in out


def test_a_cell_the_matrix_lacks_is_one_line_before_any_run(tmp_path):
    with pytest.raises(ZooError) as err:
        run(write_matrix(tmp_path / "ci.yaml", cells=TWO_CELLS), tmp_path / "runs", cells=["dens"])
    message = str(err.value)
    assert "bad value for 'cells': 'dens'" in message and "did you mean 'dense'?" in message
    assert "its cells: xl, dense" in message and "\n" not in message and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"fewshots": [1]}, "unknown key 'fewshots'"),
    ({"fewshot": [0]}, "bad value for 'fewshot'"),
    ({"fewshot": [1, 1]}, "bad value for 'fewshot'"),
    ({"fewshot": ["many"]}, "bad comparison matrix"),
    ({"heldout_suite": "ci-heldou"}, "ci-heldout"),
    ({"demos_per_task": -1}, "demos_per_task"),
    ({"cells": [{"label": "xl", "strategy": "compressive_rl", "demos_per_task": -2}]},
     "bad value for 'demos_per_task' of cell 'xl'"),
    ({"cells": [{"label": "xl", "strategy": "compressive_rl", "demos_per_task": "few"}]}, "bad comparison matrix"),
    ({"cells": [{"label": "xl", "strategy": "compressive_rl", "demo_per_task": 1}]}, "bad comparison matrix"),
    ({"pairs_with": "bad"}, "bad value for 'pairs_with'"),  # names itself
    ({"pairs_with": "configs/compare/x.yaml"}, "bad value for 'pairs_with'"),
])
def test_bad_matrix_is_one_line_before_any_run(tmp_path, changes, message):
    with pytest.raises(ZooError) as err:
        run(write_matrix(tmp_path / "bad.yaml", **changes), tmp_path / "runs")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_a_seed_the_matrix_lacks_is_one_line_before_any_run(tmp_path):
    with pytest.raises(ZooError) as err:
        run(write_matrix(tmp_path / "ci.yaml", seeds=[0, 1]), tmp_path / "runs", seeds=[3])
    assert "bad value for 'seeds': 3" in str(err.value) and "its seeds: 0, 1" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "runs").exists()


def test_bad_matrix_exits_2_from_the_command_line(tmp_path):
    matrix = write_matrix(tmp_path / "bad.yaml", fewshot=[0])
    zoo = Path(sys.executable).with_name("zoo")
    proc = subprocess.run([str(zoo), "compare", f"config={matrix}", f"run_root={tmp_path / 'runs'}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "fewshot" in proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parent.parent.glob("configs/compare/*.yaml")),
                         ids=lambda p: p.stem)
def test_every_committed_matrix_plans_and_composes_every_cell(path, tmp_path):
    """A committed matrix config (the command its results name) still loads, and every cell and few-shot run
    composes with today's config schema (a dry run: nothing is written)."""
    run(path, tmp_path, dry_run=True)
    assert not any(tmp_path.iterdir())
