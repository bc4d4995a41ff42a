"""Distributed training on CPU: 2 gloo processes per run, end to end through ``zoo fit``.

For each strategy's trainable model, under FSDP2 (``trainer.strategy=fsdp_cpu``: every Block a
shard unit, the rest in the root unit) and under DDP: train a few steps on the real browser env /
recorded episodes, write one full checkpoint from the sharded model, score it on the benchmark,
then reload it here in a single process with the strategy's ``load_agent``.  The runs go through
``tests/distributed_probe.py``, which records on every rank how its parameters are held (DTensor
shards or whole tensors) and which ranks scored.
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

from zoo.train.runs import last_checkpoint
from zoo.core.checkpoints import is_sharded_checkpoint, load_checkpoint
from zoo.web.results import SCHEMA

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


def zoo_fit(args: list[str], probe_dir: Path, timeout: float = 420) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for var in ("ZOO_RUN_DIR", "ZOO_RUN_DIR_PID", "WORLD_SIZE", "LOCAL_RANK", "RANK"):
        env.pop(var, None)
    return subprocess.run([sys.executable, str(ROOT / "tests" / "distributed_probe.py"), str(probe_dir), "fit", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def assert_agent_holds(agent, state: dict[str, torch.Tensor]) -> None:
    """The reloaded agent acts with exactly the checkpoint's trained weights (the LightningModule's
    ``model``): same names, equal values."""
    model = agent.policy.model if hasattr(agent, "policy") else agent.model
    reloaded = model.state_dict()
    trained = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    assert trained and set(trained) == set(reloaded)
    assert all(torch.equal(trained[k].cpu(), reloaded[k].cpu()) for k in trained)


def check_sharding(probe_dir: Path, sharded: bool) -> None:
    """FSDP2: on both ranks every parameter is a DTensor sharded on dim 0 over the 2-rank mesh, the two
    ranks' pieces add up to each whole tensor and each rank holds about half the model.
    DDP: both ranks hold every parameter whole."""
    ranks = [json.loads((probe_dir / f"shards-rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys() and ranks[0]
    total = sum(p["full"] for p in ranks[0].values())
    for name, p0 in ranks[0].items():
        p1 = ranks[1][name]
        assert p0["full"] == p1["full"]
        if sharded:
            assert p0["dtensor"] and p1["dtensor"], name
            assert p0["placements"] == p1["placements"] == ["shard0"] and p0["mesh"] == p1["mesh"] == 2, name
            assert p0["local"] + p1["local"] == p0["full"], name  # disjoint pieces of one tensor
        else:
            assert not p0["dtensor"] and not p1["dtensor"] and p0["local"] == p1["local"] == p0["full"], name
    for r in ranks:
        held = sum(p["local"] for p in r.values()) / total
        assert (0.4 < held < 0.6) if sharded else held == 1.0, held


def test_shard_units_are_the_outermost_blocks_and_layers_without_tied_weights():
    from torch import nn
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    from components.block import Block
    from zoo.train.fsdp import shard_units

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.blocks = nn.ModuleList([checkpoint_wrapper(Block(8, 2)), Block(8, 2)])
            self.mha = nn.MultiheadAttention(8, 2)
            self.inner = nn.Sequential(nn.Linear(8, 8), Block(8, 2))
            self.head = nn.Linear(8, 10)
            self.head.weight = self.embed.weight  # tied at the root: no unit involved
            self.out = nn.Linear(32, 8)
            self.out.weight = self.blocks[1].mlp[2].weight  # a Block's weight used outside it

    # the wrapper (not the Block inside it) is the unit; a nested Block is found; the Block holding a
    # tied weight stays in the root; embeddings, heads and plain layers are never units
    assert shard_units(Net()) == ["inner.1", "mha", "blocks.0"]


@pytest.mark.distributed
@pytest.mark.browser
@pytest.mark.parametrize(("strategy", "trainer_strategy", "extra"), CASES,
                         ids=[f"strategy{s}-{t}" for s, t, _ in CASES])
def test_two_process_fit_then_reload(tmp_path, episodes_root, strategy, trainer_strategy, extra):
    args = [f"strategy={strategy}", "name=dist", f"run_root={tmp_path}", f"trainer.strategy={trainer_strategy}",
            f"foundation.data.root={episodes_root}" if strategy == 1 else "seed=0", *TINY,
            *STRATEGY_ARGS[strategy], *extra]
    probe_dir = tmp_path / "probe"
    proc = zoo_fit(args, probe_dir)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "MEMBER: 2/2" in log  # Lightning brought up the second rank
    check_sharding(probe_dir, trainer_strategy == "fsdp_cpu")
    runs = list((tmp_path / {1: "foundation", 2: "compressive_rl"}[strategy]).iterdir())
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
    from zoo.config import load_plugins
    from zoo.train.plugin import get_strategy

    load_plugins()  # the strategies register themselves on import
    agent = get_strategy(strategy).make_agent(ckpt_path)
    assert_agent_holds(agent, state)

    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema"] == SCHEMA
    assert results["overall"]["episodes"] == 1
    # rank 0 scores, the other rank only trains (one scoring per variant: Strategy 1 scores two)
    scored = sorted(p.name for p in probe_dir.glob("scored-*"))
    assert scored == [f"scored-rank0-{k}" for k in range({1: 2, 2: 1}[strategy])], scored
    metrics = list(csv.DictReader(next(run_dir.glob("csv/*/metrics.csv")).open()))
    assert any(row.get("time/wall_s") for row in metrics)
