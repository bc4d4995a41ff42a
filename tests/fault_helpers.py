"""Shared by the hardening tests (test_faults.py, test_faults_runs.py, and the exact-resume tests): the tiny
Strategy-2 config, the CLI called in-process, hand-made run directories and checkpoints, and a kill at a step."""
from __future__ import annotations

import os
from pathlib import Path

# zoo first: its torchvision guard must run before Lightning loads (test_faults_runs' toy child has no conftest)
import zoo  # noqa: F401, I001
import lightning as L
import torch
from omegaconf import OmegaConf

from zoo.config import compose
from zoo.train.runs import save_config

ROOT = Path(__file__).resolve().parents[1]


class Killed(Exception):
    pass


class KillBeforeStep(L.Callback):
    """Raises ``Killed`` before step ``step`` trains, as a kill would: the checkpoint of the step before is on disk."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise Killed
TINY = ["strategy=2", "model.dim=32", "model.n_layers=2", "model.n_heads=2", "model.vocab_size=300",
        "model.max_elements=24", "env.num_envs=1", "env.tasks=[click-button]", "env.max_episode_steps=4",
        "ppo.rollout_steps=4", "ppo.update_epochs=2", "ppo.minibatches=1", "trainer.max_steps=3",
        "trainer.checkpoint_every=1", "trainer.progress=false", "eval.episodes=1", "ppo.tokenizer_steps=2"]


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run ``zoo ARGS`` through the real entry point; (exit code, stderr)."""
    from zoo.cli import main

    capsys.readouterr()
    rc = main(list(args))
    return rc, capsys.readouterr().err


def one_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"zoo {command}: error: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


class RunsCode:
    """A pickle that runs a shell command when loaded: what a crafted checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def tiny_run_dir(tmp_path: Path, *extra: str) -> Path:
    """A Strategy-2 run directory as ``zoo fit`` leaves it (config.yaml, checkpoints/ppo/), no training."""
    cfg = compose(TINY + [f"run_root={tmp_path / 'runs'}", "name=r", *extra])
    run_dir = tmp_path / "runs" / "compressive_rl" / "r"
    (run_dir / "checkpoints" / "ppo").mkdir(parents=True)
    save_config(cfg, run_dir)
    return run_dir


def fake_strategy2_checkpoint(path: Path, **extra) -> Path:
    """The fields of a Strategy-2 checkpoint (a tiny config, no weights), plus ``extra``."""
    cfg = OmegaConf.to_container(compose(TINY), resolve=True)
    torch.save({"state_dict": {}, "global_step": 1, "hyper_parameters": {"strategy": 2, "cfg": cfg}, **extra}, path)
    return path
