"""``zoo fit strategy=2``: PPO on the browser env, checkpoints, then scoring on the shared benchmark.

  1. tasks from ``env.tasks`` / ``env.suite``; a VecWebEnv of ``env.num_envs`` browser contexts.
  2. the run's BPE vocabulary: trained on pages a random agent visits (or taken from the checkpoint
     when resuming).
  3. with ``ppo.bc_demos_per_task``: a behaviour-cloning warm start on oracle demonstrations before the
     first PPO update (warm_start.py, bc.py).
  4. the Lightning Trainer from zoo.train.trainer (CSV metrics in csv/ppo/, checkpoints in
     checkpoints/ppo/); one training step = one PPO update; ``trainer.max_steps`` updates.
  5. the final checkpoint is scored with zoo.web.bench.evaluate on evaluation seeds and the
     results written to ``run_dir/results.json``.
"""
from __future__ import annotations

import random
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from strategies.compressive_rl.agent import load_agent
from strategies.compressive_rl.config import check_config
from strategies.compressive_rl.module import PPOModule
from strategies.compressive_rl.seeds import tokenizer_seeds, training_seed_starts
from strategies.compressive_rl.tokenizer import tokenizer_to_json, train_tokenizer
from strategies.compressive_rl.warm_start import BehaviourCloningWarmStart
from zoo.core.checkpoints import checkpoint_exists, read_checkpoint_meta
from zoo.core.errors import ZooError
from zoo.train.distributed import global_rank, processes_per_node
from zoo.train.runs import resume_or_start
from zoo.train.scoring import score_agent, scoring_tasks, training_tasks
from zoo.train.trainer import make_trainer
from zoo.web.types import Action
from zoo.web.vector import VecWebEnv


def set_cpu_threads(cfg: DictConfig) -> None:
    """ppo.cpu_threads on a CPU run (see strategies/compressive_rl/config.py for why one is the default)."""
    if int(cfg.ppo.cpu_threads) > 0 and cfg.trainer.accelerator == "cpu":
        torch.set_num_threads(int(cfg.ppo.cpu_threads))


def make_env(cfg: DictConfig, tasks: list[str]) -> Any:
    """The training env; ``ppo.page_clock`` decides whether the page's own time limit runs in it."""
    return VecWebEnv.from_config(cfg.env, tasks, page_clock=bool(cfg.ppo.page_clock))


def gather_pages(env: Any, seeds: list[int], steps: int, seed: int) -> list[Any]:
    """Observations a random clicker meets in ``steps`` steps per env (texts for the BPE vocabulary)."""
    rng = random.Random(seed)
    pages = list(env.reset(seeds=seeds))
    for _ in range(steps):
        actions = []
        for o in pages[-len(seeds):]:
            ids = [e.id for e in o.elements if e.actionable and e.visible]
            actions.append(Action.click(rng.choice(ids)) if ids else Action.noop())
        pages += env.step(actions)[0]
    return pages


def checkpoint_tokenizer(meta: dict, ckpt: Path) -> str:
    """The run's BPE vocabulary, which travels in its checkpoints: one line when it is missing."""
    tok_json = meta.get("tokenizer_json")
    if not isinstance(tok_json, str):
        raise ZooError(f"cannot resume from {ckpt}: it holds no tokenizer_json (not a strategy-2 (compressive_rl) "
                       "checkpoint)")
    return tok_json


def build_module(cfg: DictConfig, run_dir: Path, env: Any, seeds: list[int], ckpt: Path | None,
                 tasks: list[str] | None = None, tok_json: str | None = None) -> Any:
    if tok_json is not None:
        pass  # given by the caller (read from the checkpoint before the browser started)
    elif ckpt is not None:
        tok_json = checkpoint_tokenizer(read_checkpoint_meta(ckpt), ckpt)
    else:
        # pages for the vocabulary come from their own seeds, not the first training episodes
        pages = gather_pages(env, tokenizer_seeds(len(seeds)), int(cfg.ppo.tokenizer_steps), int(cfg.seed))
        tok_json = tokenizer_to_json(train_tokenizer(pages, int(cfg.model.vocab_size)))
    (run_dir / "tokenizer.json").write_text(tok_json)
    module = PPOModule(cfg, tok_json)
    module.attach_env(env, seeds, tasks)
    return module


def validation_options(cfg: DictConfig) -> dict[str, Any]:
    """Trainer options for the periodic greedy validation (ppo.val_every updates; 0: none)."""
    every = int(cfg.ppo.val_every)
    if every <= 0:
        return {"limit_val_batches": 0, "num_sanity_val_steps": 0}
    return {"val_check_interval": every, "check_val_every_n_epoch": None, "num_sanity_val_steps": 0}


def warm_start(cfg: DictConfig, tasks: list[str], run_dir: Path | None = None) -> list[Any]:
    """The behaviour-cloning warm start callback (ppo.bc_demos_per_task > 0), else nothing."""
    if int(cfg.ppo.bc_demos_per_task) <= 0:
        return []

    return [BehaviourCloningWarmStart(tasks, int(cfg.ppo.bc_demos_per_task), int(cfg.ppo.bc_epochs),
                                      float(cfg.ppo.bc_lr), int(cfg.seed), replay=float(cfg.ppo.bc_coef) > 0,
                                      schedule=str(cfg.ppo.bc_schedule),
                                      val_demos_per_task=int(cfg.ppo.bc_val_demos_per_task),
                                      run_dir=run_dir, weight_decay=float(cfg.ppo.bc_weight_decay))]


def score_checkpoint(cfg: DictConfig, run_dir: Path, ckpt: Path, tasks: list[str]) -> dict:
    """Score a checkpoint on ``tasks`` and write ``run_dir/results.json`` (the registered scoring hook)."""
    return evaluate_checkpoint(cfg, Path(ckpt), tasks, Path(run_dir))


def evaluate_checkpoint(cfg: DictConfig, ckpt: Path, tasks: list[str], run_dir: Path) -> dict:
    return score_agent(cfg, load_agent(ckpt), scoring_tasks(cfg, tasks), run_dir,
                       agent_name=f"strategy2-{cfg.model.attention.name}", results_name="results",
                       run_info={"checkpoint": str(ckpt), "attention": cfg.model.attention.name,
                                 "train_tasks": list(tasks)})


def fit(cfg: DictConfig, run_dir: Path, callbacks: Sequence[Any] = ()) -> dict:
    """Train (``callbacks`` join the Trainer, e.g. a search's pruning callback), then score the final
    checkpoint on the benchmark."""
    check_config(cfg)
    set_cpu_threads(cfg)
    run_dir = Path(run_dir)
    tasks = training_tasks(cfg)
    ckpt = resume_or_start(str(cfg.resume), run_dir, "ppo", explain=lambda msg: print(f"zoo fit: {msg}", file=sys.stderr)) \
        if cfg.resume else None
    torch.manual_seed(int(cfg.seed))
    # every rank its own block of seeds; a resumed run continues past the seeds it may have used

    meta = {} if ckpt is None else read_checkpoint_meta(ckpt)
    tok_json = None if ckpt is None else checkpoint_tokenizer(meta, ckpt)  # checked before any browser starts
    resumed_step = int(meta.get("global_step", 0))
    world = processes_per_node(cfg.trainer.devices) * int(cfg.trainer.num_nodes)
    seeds = training_seed_starts(cfg, global_rank(cfg.trainer.devices), world, resumed_step)
    # the checkpoint after the update is exactly what we want to keep; Lightning warns about it anyway
    warnings.filterwarnings("ignore", message=".*ModelCheckpoint with manual optimization.*")
    env = make_env(cfg, tasks)
    try:
        module = build_module(cfg, run_dir, env, seeds, ckpt, tasks, tok_json=tok_json)
        trainer = make_trainer(cfg, run_dir, stage="ppo", callbacks=[*callbacks, *warm_start(cfg, tasks, run_dir)],
                               **validation_options(cfg))
        trainer.fit(module, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
        final = run_dir / "checkpoints" / "ppo" / "last.ckpt"
        saved_step = read_checkpoint_meta(final)["global_step"] if checkpoint_exists(final) else -1
        if saved_step != trainer.global_step:  # the checkpoint cadence missed the final update
            trainer.save_checkpoint(final, weights_only=False)  # full state (explicit: no Lightning notice)
    finally:
        env.close()
    if not trainer.is_global_zero:
        return {}
    return evaluate_checkpoint(cfg, final, tasks, run_dir)
