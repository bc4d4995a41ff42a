"""``zoo search`` with real trials: each one a ``zoo fit strategy=2`` run on the browser benchmark."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from zoo.config import compose

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]

TINY_SPACE = """\
strategy: 2
metric: val/success_rate
fixed:
  trainer.max_steps: 1
  ppo.val_every: 1
  ppo.val_episodes: 1
  trainer.progress: false
  trainer.log_every_n_steps: 1
  env.tasks: [click-test]
  env.num_envs: 1
  ppo.rollout_steps: 4
  ppo.update_epochs: 1
  ppo.minibatches: 1
  eval.episodes: 2
  model.dim: 32
params:
  model.attention: {type: categorical, choices: [xl, dense]}
  ppo.lr: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}
"""


def zoo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for var in ("ZOO_RUN_DIR", "ZOO_RUN_DIR_PID"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-m", "zoo", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=400)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def test_real_trials_score_on_the_benchmark_and_give_a_fit_config(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    zoo("search", "strategy=2", "trials=2", f"space={space}", "study=real", f"out={tmp_path / 'search'}",
        f"run_root={tmp_path / 'runs'}")
    study = json.loads((tmp_path / "search/real/study.json").read_text())
    assert [t["state"] for t in study["trials"]] == ["COMPLETE", "COMPLETE"]
    assert (tmp_path / "search/optuna.db").is_file()  # the default SQLite storage
    for t in study["trials"]:
        run_dir = Path(t["run_dir"])
        assert run_dir.parent == tmp_path / "runs/search/real/compressive_rl"
        results = json.loads((run_dir / "results.json").read_text())
        assert t["values"] == [results["overall"]["success_rate"]["mean"]]  # objective = benchmark success
        assert results["overall"]["episodes"] == 2
        assert t["n_params"] > 0
        assert list(t["intermediate"]) == ["1"]  # val/success_rate, reported after the one update's validation
        cfg = OmegaConf.load(run_dir / "config.yaml")
        assert cfg.model.attention.name == t["params"]["model.attention"] and cfg.trainer.max_steps == 1
    best = tmp_path / "search/real/best.yaml"
    cfg = compose([f"config={best}"])  # `zoo fit config=best.yaml` composes the best trial's config
    assert cfg.model.attention.name == study["best"]["params"]["model.attention"]
    assert cfg.ppo.lr == pytest.approx(study["best"]["params"]["ppo.lr"])
    # ... and that config trains and scores
    zoo("fit", f"config={best}", "trainer.max_steps=1", f"run_root={tmp_path / 'fit'}", "name=best")
    results = json.loads((tmp_path / "fit/compressive_rl/best/results.json").read_text())
    assert results["overall"]["episodes"] == 2 and results["run"]["attention"] == cfg.model.attention.name
