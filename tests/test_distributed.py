"""Distributed training on CPU: 2 gloo processes per run, end to end through ``zoo fit``.

For each strategy's trainable model, under FSDP2 (``trainer.strategy=fsdp_cpu``: every Block and
every parameter-owning layer a shard unit) and under DDP: train a few steps on the real browser
env / recorded episodes, write one full checkpoint from the sharded model, score it on the
benchmark, then reload it here in a single process with the strategy's ``load_agent``.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.runs import last_checkpoint
from zoo.training import is_sharded_checkpoint, load_checkpoint

pytestmark = [pytest.mark.distributed, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[1]

TINY = ["trainer.devices=2", "trainer.progress=false", "trainer.checkpoint_every=1", "trainer.log_every_n_steps=1",
        "model.dim=32",
        "env.tasks=[click-test]", "env.num_envs=1", "eval.episodes=1"]
STRATEGY_ARGS = {
    2: ["trainer.max_steps=2", "ppo.rollout_steps=4", "ppo.minibatches=1"],
    1: ["stage=sft", "foundation.sft.max_steps=2", "foundation.sft.batch_size=2",
        "foundation.data.episodes_per_task=2", "foundation.search.simulations=2"],
}
CASES = [  # (strategy, trainer.strategy, extra)
    # strategy 2's default: xl memory with the BPTT replay (its memory rows are taken inside each
    # Block's forward); a sharded checkpoint directory, reloaded below in one process
    (2, "fsdp_cpu", ["trainer.activation_checkpointing=true", "ppo.update_epochs=2", "model.attention=xl",
                     "ppo.bptt=true", "trainer.sharded_checkpoint=true"]),
    (2, "ddp", ["ppo.update_epochs=2"]),
    (1, "fsdp_cpu", ["trainer.activation_checkpointing=true"]),
    (1, "ddp", []),
]


@pytest.fixture(scope="module")
def episodes_root(tmp_path_factory) -> Path:
    """Strategy 1's recorded episodes, shared by its runs (recorded by the first one)."""
    return tmp_path_factory.mktemp("episodes")


def zoo_fit(args: list[str], timeout: float = 420) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for var in ("ZOO_RUN_DIR", "ZOO_RUN_DIR_PID", "WORLD_SIZE", "LOCAL_RANK", "RANK"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "zoo", "fit", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize(("strategy", "trainer_strategy", "extra"), CASES,
                         ids=[f"strategy{s}-{t}" for s, t, _ in CASES])
def test_two_process_fit_then_reload(tmp_path, episodes_root, strategy, trainer_strategy, extra):
    args = [f"strategy={strategy}", "name=dist", f"run_root={tmp_path}", f"trainer.strategy={trainer_strategy}",
            f"foundation.data.root={episodes_root}" if strategy == 1 else "seed=0", *TINY,
            *STRATEGY_ARGS[strategy], *extra]
    proc = zoo_fit(args)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "MEMBER: 2/2" in log  # Lightning brought up the second rank
    runs = list((tmp_path / f"strategy{strategy}").iterdir())
    assert [r.name for r in runs] == ["dist"]  # both ranks wrote to rank 0's run dir
    run_dir = runs[0]

    ckpt_path = last_checkpoint(run_dir)
    sharded = "trainer.sharded_checkpoint=true" in extra
    assert ckpt_path is not None
    assert is_sharded_checkpoint(ckpt_path) if sharded else ckpt_path.is_file()  # a folder of shards / one file
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt["global_step"] == 2
    state = ckpt["state_dict"]
    assert state and all(type(v) is torch.Tensor and bool(torch.isfinite(v).all()) for v in state.values()
                         if v.is_floating_point())

    # reload in this single process, the way `zoo bench agent=checkpoint` does
    from strategies import strategy_module

    agent = strategy_module(strategy).load_agent(ckpt_path)
    model = agent.model if strategy == 2 else agent.policy.model  # the LightningModule's `model`
    reloaded = model.state_dict()
    trained = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    assert trained and set(trained) == set(reloaded)
    assert all(torch.equal(trained[k], reloaded[k]) for k in trained)  # the agent acts with these weights

    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema"] == "actionzoo.bench/1"
    assert results["overall"]["episodes"] == 1  # each rank scores on its own: nothing summed across ranks
    metrics = list(csv.DictReader(next(run_dir.glob("csv/*/metrics.csv")).open()))
    assert any(row.get("time/wall_s") for row in metrics)
