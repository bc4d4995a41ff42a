"""Where Strategy 2's training time goes (browser / model / featurize / other): the per-update split
on hand-made numbers, its sum over a run's CSV, and the report section."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from strategies.compressive_rl.module import time_split
from strategies.compressive_rl.rollout import Rollout
from zoo.report.time_split import PARTS, run_time_split


def rollout(browser_s: float, model_s: float, featurize_s: float) -> Rollout:
    z = np.zeros((1, 1))
    return Rollout(obs={}, starts=z, actions=z, logp=z, values=z, rewards=z, dones=z, init_state=None,
                   last_value=z[0], browser_s=browser_s, model_s=model_s, featurize_s=featurize_s)


def test_one_update_split_adds_up_and_counts_the_gap_before_it():
    start = time.perf_counter() - 10.0  # the update began 10 s ago
    out = time_split(rollout(1.0, 2.0, 0.5), update_s=3.0, start=start, last_end=start - 2.0)
    assert out["time_browser_s"] == 1.0 and out["time_model_s"] == 5.0 and out["time_featurize_s"] == 0.5
    assert out["time_other_s"] == pytest.approx(10.0 - 6.5 + 2.0, abs=0.05)  # the rest + the 2 s gap
    assert sum(out[f"time_{p}_share"] for p in PARTS) == pytest.approx(1.0)
    assert out["time_model_share"] == pytest.approx(5.0 / 12.0, abs=0.01)
    assert out["time_model_act_s"] == 2.0 and out["time_model_update_s"] == 3.0  # the model's 5 s, split
    first = time_split(rollout(1.0, 2.0, 0.5), update_s=3.0, start=start, last_end=None)  # no gap before update 0
    assert first["time_other_s"] == pytest.approx(3.5, abs=0.05)


def write_csv(stage_dir: Path, rows: list[dict[str, float]]) -> None:
    stage_dir.mkdir(parents=True)
    cols = sorted({k for r in rows for k in r})
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    (stage_dir / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_a_runs_split_sums_seconds_over_its_updates(tmp_path):
    row = lambda b, m, s: {"step": s, "train/time_browser_s": b, "train/time_model_s": m,  # noqa: E731
                           "train/time_featurize_s": 0.0, "train/time_other_s": 1.0, "train/env_steps_per_s": 10.0 * (s + 1)}
    write_csv(tmp_path / "run" / "csv" / "ppo", [row(1.0, 3.0, 0), row(3.0, 1.0, 1), {"step": 2, "val/success_rate": 1.0}])
    split = run_time_split(tmp_path / "run")
    assert split == {"browser": 4.0, "model": 4.0, "featurize": 0.0, "other": 2.0, "updates": 2.0, "env_steps_per_s": 15.0}
    write_csv(tmp_path / "s1" / "csv" / "sft", [{"step": 0, "sft/loss": 1.0}])
    assert run_time_split(tmp_path / "s1") is None


@pytest.mark.browser
def test_a_real_fit_logs_the_split_and_the_report_shows_it(tmp_path):
    from zoo.fitting import fit_run
    from zoo.report.gather import gather
    from zoo.report.time_split import time_split as section

    run = fit_run(["strategy=2", "model.dim=32", "model.n_layers=1", "model.n_heads=2", "env.num_envs=1",
                   "env.tasks=[click-button]", "env.max_episode_steps=3", "ppo.rollout_steps=3", "ppo.update_epochs=1",
                   "ppo.minibatches=1", "trainer.max_steps=2", "trainer.progress=false", "eval.episodes=1",
                   "ppo.tokenizer_steps=2", f"run_root={tmp_path / 'runs'}", "name=t"])
    split = run_time_split(run.run_dir)
    assert split is not None and split["updates"] == 2
    assert split["browser"] > 0 and split["model"] > 0 and split["env_steps_per_s"] > 0
    sec = section(gather(tmp_path / "runs", tmp_path / "none", tmp_path / "none"))
    table = sec.blocks[0]
    assert table.rows[0][0].endswith("/t") and table.rows[0][2] == "2"
    assert sum(float(c.rstrip("%")) for c in table.rows[0][4:8]) == pytest.approx(100.0, abs=0.3)
