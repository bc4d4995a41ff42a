"""Running the three stages: each a Lightning ``fit`` through ``zoo.train.trainer.make_trainer``.

Checkpoints of stage S live in ``run_dir/checkpoints/S/``: ``last.ckpt`` (periodic, for resuming a
partly trained stage) and ``final.ckpt`` (written when the stage completes).  A stage whose
final checkpoint exists is skipped; a stage starts from the previous stage's final weights.
``resume=`` naming a checkpoint file of an unfinished stage continues that stage from that very file.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from rich.console import Console
from torch.utils.data import DataLoader

from strategies.foundation.data import EpisodeDataModule, tokens_per_frame
from strategies.foundation.metrics import instruction_metrics
from strategies.foundation.module import FoundationModule
from strategies.foundation.plugin import named_stage_checkpoint
from strategies.foundation.policy import Policy
from strategies.foundation.rl import SearchCollector, SearchReplay
from zoo.core.checkpoints import checkpoint_exists, load_checkpoint, load_weights
from zoo.core.io import atomic_write_json
from zoo.train.runs import last_checkpoint, resume_checkpoint
from zoo.train.trainer import make_trainer

STAGES = ("pretrain", "sft", "rl")
console = Console(stderr=True)
# the RL stage has no validation data by design (the run is scored on the benchmark after it); the module's
# validation_step serves the pretraining and SFT stages, so Lightning's notice about it says nothing
warnings.filterwarnings("ignore", message=r".*You defined a `validation_step` but have no `val_dataloader`.*")


def final_checkpoint(run_dir: Path, stage: str) -> Path:
    return Path(run_dir) / "checkpoints" / stage / "final.ckpt"


def last_stage_checkpoint(run_dir: Path, stage: str, resume: Any = None) -> Path | None:
    """The checkpoint an unfinished stage continues from: the file ``resume=`` names when it is one of this
    stage's (it must load), else the stage's newest loadable checkpoint (a corrupt ``last.ckpt`` falls back
    to the periodic one before it, and says so); None for a stage not started."""
    named = named_stage_checkpoint(resume)
    if named is not None and named[0] == stage:
        return resume_checkpoint(str(named[1]), run_dir, stage)
    return last_checkpoint(run_dir, stage, explain=lambda msg: console.print(f"[yellow]stage {stage}[/]: {msg}"))


def env_kwargs(cfg: Any) -> dict[str, Any]:
    """WebEnv options of the simulator browsers: the benchmark's episode rules, except the page's own
    time limit: a simulated episode waits on the tree search between its steps, so with the page clock
    on, how fast the machine searched would decide whether an episode timed out."""
    return dict(max_episode_steps=int(cfg.env.max_episode_steps), screenshot=bool(cfg.model.use_screen),
                screenshot_size=int(cfg.env.screenshot_size), step_timeout_s=float(cfg.env.step_timeout_s),
                invalid_action_penalty=float(cfg.env.invalid_action_penalty), headless=bool(cfg.env.headless),
                page_clock=False, settle_ms=float(cfg.env.get("settle_ms", 0.0)))


def build_module(cfg: Any, stage: str, dm: EpisodeDataModule, init_from: Path | None) -> FoundationModule:
    text_tok = dm.builder.text_tok
    module = FoundationModule(cfg, stage, dm.builder.vocab_size, dm.tokenizer.pad_id,
                              tokenizer_json=dm.tokenizer.tok.to_str(),
                              text_tokenizer_json=None if text_tok is None else text_tok.to_str())

    if init_from is not None and checkpoint_exists(init_from):
        load_weights(module, load_checkpoint(init_from)["state_dict"], init_from)
    return module


def steps_for_passes(epochs: float, episodes: int, batch_size: int) -> int:
    """Optimiser steps for ``epochs`` passes over ``episodes`` training episodes in batches of ``batch_size``."""
    return max(1, math.ceil(epochs * episodes / batch_size))


def with_stage_steps(cfg: Any, stage: str, episodes: int) -> Any:
    """``cfg`` itself, or a copy whose stage ``max_steps`` is ``epochs`` passes over ``episodes`` when the
    stage sets ``epochs`` > 0 (``EpisodeStageConfig``): the Trainer, the learning-rate schedule and the
    checkpoint's saved config then all read the same step count."""
    epochs = float(cfg.foundation[stage].get("epochs", 0) or 0)
    if epochs <= 0:
        return cfg
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.foundation[stage].max_steps = steps_for_passes(epochs, episodes, int(cfg.foundation[stage].batch_size))
    return out


def trainer_for(cfg: Any, run_dir: Path, stage: str, steps_per_epoch: int = 1, callbacks: Sequence[Any] = (),
                validate: bool = True) -> Any:
    """validate: False when no episode is held out (every demonstration trains): no val/ metrics at all
    rather than ones computed on a training episode."""
    steps = int(cfg.foundation[stage].max_steps)
    extra: dict[str, Any] = {"num_sanity_val_steps": 0}
    if not validate:
        extra["limit_val_batches"] = 0
    elif stage != "rl":  # validate about four times per stage (epochs are a handful of batches)
        extra["check_val_every_n_epoch"] = max(1, int(math.ceil(steps / max(1, steps_per_epoch) / 4)))
    if cfg.trainer.strategy in ("auto", "ddp"):  # FSDP2 shards clip through their own strategy
        extra["gradient_clip_val"] = float(cfg.trainer.gradient_clip_val)
    return make_trainer(cfg, run_dir, stage=stage, max_steps=steps, callbacks=list(callbacks), **extra)


def run_stage(cfg: Any, run_dir: Path, stage: str, tasks: list[str], init_from: Path | None,
              callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train one stage to its final checkpoint; returns the stage's summary (time, metrics)."""
    t0 = time.time()
    dm = EpisodeDataModule(cfg, run_dir, stage, tasks)
    dm.prepare_data()
    dm.setup("fit")
    cfg = with_stage_steps(cfg, stage, len(dm.train_examples))  # the data module needs no max_steps
    resume = last_stage_checkpoint(run_dir, stage, cfg.get("resume"))
    module = build_module(cfg, stage, dm, None if resume else init_from)
    steps_per_epoch = math.ceil(len(dm.train_examples) / dm.batch_size())
    trainer = trainer_for(cfg, run_dir, stage, steps_per_epoch, callbacks, validate=bool(dm.val_episodes))
    start = (f", resuming from {resume}" if resume else f", from the {init_from.parent.name} stage" if init_from
             else ", from scratch" + ("" if stage == "pretrain" else " (no earlier stage's final checkpoint in this run)"))
    console.print(f"[bold]stage {stage}[/]: {len(dm.train_episodes)} training episodes, "
                  f"{len(dm.val_episodes)} held out{start}")
    summary: dict[str, Any] = {"train_episodes": len(dm.train_episodes), "val_episodes": len(dm.val_episodes)}
    if stage == "rl":
        rl_cfg = cfg.foundation.rl
        collector = SearchCollector(tasks, cfg.foundation.search, env_kwargs(cfg), float(cfg.foundation.search.gamma),
                                    int(cfg.foundation.data.frames_per_step), seed=int(cfg.seed),
                                    fps=float(cfg.foundation.data.fps))
        top_k = int(cfg.foundation.search.top_k)
        make_policy = lambda: Policy(module.model, dm.builder, top_k, module.device)  # noqa: E731
        module.search_rounds = collector.rounds  # logged by the module as rounds complete
        replay = SearchReplay(dm.train_examples, dm.builder, collector, make_policy, int(rl_cfg.batch_size),
                              int(rl_cfg.updates_per_round), int(rl_cfg.episodes_per_round), seed=int(cfg.seed),
                              max_env_steps=int(rl_cfg.max_env_steps))
        module.replay = replay  # its state (search buffer, rounds, next seed) is saved in and restored from checkpoints
        loader = DataLoader(replay, batch_size=None, num_workers=0, generator=torch.Generator())  # not the global one
        try:
            trainer.fit(module, train_dataloaders=loader, ckpt_path=resume, weights_only=True)
        finally:
            collector.close()
        summary["search_rounds"] = collector.rounds
    else:
        trainer.fit(module, datamodule=dm, ckpt_path=resume, weights_only=True)
        summary["validation"] = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    final = final_checkpoint(run_dir, stage)
    trainer.save_checkpoint(final, weights_only=False)  # full state (explicit: no Lightning notice)
    if stage in ("sft", "rl") and trainer.is_global_zero:
        policy = Policy(module.model, dm.builder, int(cfg.foundation.search.top_k), module.device)
        summary["instructions"] = instruction_metrics(policy, dm.val_episodes)
    summary.update(steps=int(trainer.global_step), max_steps=int(cfg.foundation[stage].max_steps),
                   seconds=round(time.time() - t0, 1), checkpoint=str(final))
    if trainer.is_global_zero:
        write_json(Path(run_dir) / f"{stage}_summary.json", summary)
    return summary


def write_json(path: Path, data: Any) -> None:
    atomic_write_json(path, data, indent=1)


def run_stages(cfg: Any, run_dir: Path, tasks: list[str], callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run the requested stage(s) in order, skipping completed ones; returns per-stage summaries.
    ``callbacks`` (e.g. a search's pruning callback) join every stage's Trainer."""
    wanted = STAGES if cfg.stage == "all" else (cfg.stage,)
    if cfg.foundation.cpu_threads and cfg.trainer.accelerator == "cpu":
        torch.set_num_threads(int(cfg.foundation.cpu_threads))
    out: dict[str, Any] = {}
    previous: Path | None = None
    for stage in STAGES:
        final = final_checkpoint(run_dir, stage)
        if stage in wanted:
            if checkpoint_exists(final):
                console.print(f"[bold]stage {stage}[/]: done already ({final}), skipped")
                saved = Path(run_dir) / f"{stage}_summary.json"
                out[stage] = json.loads(saved.read_text()) if saved.is_file() else {"checkpoint": str(final)}
            else:
                out[stage] = run_stage(cfg, run_dir, stage, tasks, previous, callbacks)
        if checkpoint_exists(final):
            previous = final
    out["final_checkpoint"] = str(previous) if previous else None
    return out


__all__ = ["STAGES", "env_kwargs", "final_checkpoint", "run_stages", "steps_for_passes", "tokens_per_frame"]
