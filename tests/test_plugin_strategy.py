"""A third strategy joins the zoo by registering itself, and nothing else: a package written into a temporary
folder, named in ZOO_PLUGINS, is listed, composed, trained, scored and reported like the built-in two."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TOY_PACKAGE = '''
"""A toy strategy: a one-parameter Lightning model trained for a few steps, scored by an agent that clicks
the first element it may click."""
from dataclasses import dataclass, field

import lightning as L
import torch

from zoo.schema.checks import at_least
from zoo.schema.run import RunConfig
from zoo.train.plugin import Strategy, register_strategy
from zoo.train.scoring import score_agent, scoring_tasks, training_tasks
from zoo.train.trainer import make_trainer
from zoo.web.types import Action


@dataclass
class ToySettings:
    width: int = field(default=4, metadata=at_least(1))


@dataclass
class ToyRunConfig(RunConfig):
    strategy: str = "toy"
    toy: ToySettings = field(default_factory=ToySettings)


class ToyModule(L.LightningModule):
    def __init__(self, width: int):
        super().__init__()
        self.save_hyperparameters({"strategy": "toy", "width": width})
        self.w = torch.nn.Parameter(torch.ones(width))

    def training_step(self, batch, _):
        loss = (batch[0] @ self.w - 1.0).pow(2).mean()
        self.log("train/success_rate", torch.exp(-loss), on_step=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class FirstClickAgent:
    name = "toy"

    def reset(self, n_envs):
        return None

    def act(self, observations, state, done_mask):
        actions = []
        for obs in observations:
            ids = [e.id for e in obs.elements if e.actionable and e.visible]
            actions.append(Action.click(ids[0]) if ids else Action.noop())
        return actions, state


def fit(cfg, run_dir, callbacks):
    tasks = training_tasks(cfg)
    data = torch.utils.data.TensorDataset(torch.randn(32, int(cfg.toy.width)))
    trainer = make_trainer(cfg, run_dir, stage="toy", callbacks=callbacks)
    trainer.fit(ToyModule(int(cfg.toy.width)), torch.utils.data.DataLoader(data, batch_size=8))
    return score_agent(cfg, FirstClickAgent(), scoring_tasks(cfg, tasks), run_dir, agent_name="toy",
                       results_name="results", run_info={"attention": "none"})


def load_agent(checkpoint):
    return FirstClickAgent()


register_strategy(Strategy(name="toy", label="Toy strategy", config=ToyRunConfig, fit="toy_strategy:fit",
                           load_agent="toy_strategy:load_agent", success_columns=("train/success_rate",),
                           description="a registered plug-in used by the tests"))
'''


@pytest.fixture
def toy_env(tmp_path):
    pkg = tmp_path / "plugins" / "toy_strategy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(TOY_PACKAGE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_RUN_DIR")}  # not a rank of an earlier run
    env = dict(env, ZOO_PLUGINS="toy_strategy",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def zoo(env, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=timeout,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.mark.browser
def test_a_registered_strategy_is_listed_composed_trained_scored_and_reported(toy_env, tmp_path):
    listed = zoo(toy_env, "list", "strategy").stdout
    assert "toy" in listed and "foundation" in listed and "compressive_rl" in listed

    cfg = zoo(toy_env, "config", "strategy=toy", "toy.width=3").stdout
    assert "strategy: toy" in cfg and "width: 3" in cfg
    bad = subprocess.run([sys.executable, "-m", "zoo", "config", "strategy=toy", "toy.width=0"], capture_output=True,
                         text=True, env=toy_env, cwd=ROOT)
    assert bad.returncode == 2 and "bad value for 'toy.width': 0 (must be >= 1)" in bad.stderr

    runs = tmp_path / "runs"
    zoo(toy_env, "fit", "strategy=toy", "name=t", f"run_root={runs}", "env.tasks=[click-test]", "env.num_envs=1",
        "eval.episodes=2", "trainer.max_steps=3", "trainer.progress=false", "trainer.log_every_n_steps=1")
    results = json.loads((runs / "toy" / "t" / "results.json").read_text())
    assert results["agent"] == "toy" and results["overall"]["episodes"] == 2
    assert results["run"]["strategy"] == "toy"

    out = tmp_path / "reports"
    zoo(toy_env, "report", "name=r", f"runs={runs}", f"out={out}", f"bench={tmp_path / 'nobench'}",
        f"search={tmp_path / 'nosearch'}")
    report = (out / "r" / "README.md").read_text()
    assert "toy/t" in report and "Toy strategy" in report
