"""One place that turns ``cfg.trainer`` into a Lightning Trainer, for every strategy and stage.

``trainer.strategy``:
  auto      single process (CPU or one GPU)
  ddp       DistributedDataParallel (gloo on CPU, NCCL on GPU)
  fsdp      Lightning FSDP on GPUs, the transformer ``Block`` as wrap unit (+ activation checkpointing)
  fsdp_cpu  FSDP2 through ``ModelParallelStrategy`` (zoo.train.fsdp); each LightningModule's
            ``configure_model`` calls ``shard_for_model_parallel(self)``, which ``fully_shard``s every
            Block then the root.  Works on CPU processes over gloo, so sharded training is testable
            without GPUs.

Extra callbacks (``zoo search``'s pruning callback) are handed in as arguments, by the caller, down
through the strategy's ``fit``; nothing is kept in module state.
"""
from __future__ import annotations

import logging
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig

from zoo.core.errors import ZooError
from zoo.train.distributed import global_rank
from zoo.train.fsdp import ManualRootRefresh, ShardedCPUStrategy, block_classes, reshard_all
from zoo.train.metrics import start_segment
from zoo.train.resumable import RandomState

# Quiet two messages every run would print that say nothing about the run: Lightning's advert for
# its hosted logger, and a torch-internal pytree deprecation raised inside Lightning itself.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
# CSVLogger's "previous log files ... will be deleted" is not true here: start_segment moved them aside first
warnings.filterwarnings("ignore", message=r".*Previous log files in this directory will be deleted.*")


class WallClock(Callback):
    """Logs ``time/wall_s``: training seconds so far, carried through checkpoints so a resumed run's
    curve continues where it stopped (``zoo report`` plots success against it)."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter() - self.elapsed

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._start is not None:
            self.elapsed = time.perf_counter() - self._start
            pl_module.log("time/wall_s", self.elapsed, on_step=True, on_epoch=False, batch_size=1, rank_zero_only=True)

    def state_dict(self) -> dict[str, float]:
        return {"elapsed": self.elapsed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.elapsed = float(state_dict.get("elapsed", 0.0))


class RunCheckpoint(ModelCheckpoint):
    """``last.ckpt`` always holds the final step, also when training stops between two periodic saves
    (``max_steps`` not a multiple of ``checkpoint_every``, ``max_time``); Lightning's own end-of-training
    save is skipped once any ``last.ckpt`` was written, so evaluation would score stale weights."""

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        reshard_all(trainer.lightning_module)  # save from the sharded layout, never half-gathered units
        super()._save_checkpoint(trainer, filepath)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and self._last_global_step_saved < trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        else:
            super().on_train_end(trainer, pl_module)


def build_strategy(tc: DictConfig) -> Any:
    name = tc.strategy
    if name == "auto":
        return "auto"
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        backend = "nccl" if tc.accelerator in ("gpu", "cuda") else "gloo"
        return DDPStrategy(process_group_backend=backend, find_unused_parameters=True)
    if name == "fsdp":
        if tc.accelerator not in ("gpu", "cuda", "auto") or not torch.cuda.is_available():
            raise ZooError("trainer.strategy=fsdp needs CUDA GPUs; on CPU use trainer.strategy=fsdp_cpu (FSDP2 over gloo)")
        from lightning.pytorch.strategies import FSDPStrategy

        blocks = block_classes()
        return FSDPStrategy(
            auto_wrap_policy=blocks,
            activation_checkpointing_policy=blocks if tc.activation_checkpointing else None,
            state_dict_type="sharded" if tc.sharded_checkpoint else "full",
            use_orig_params=True,
        )
    if name == "fsdp_cpu":
        return ShardedCPUStrategy(
            activation_checkpointing=bool(tc.activation_checkpointing),
            data_parallel_size=int(tc.devices) * int(tc.num_nodes),
            tensor_parallel_size=1,
            save_distributed_checkpoint=bool(tc.sharded_checkpoint),  # default: one full file, loadable anywhere
            process_group_backend="gloo",
        )
    raise ZooError(f"unknown value for 'trainer.strategy' '{name}'; valid choices: auto, ddp, fsdp, fsdp_cpu")


def make_trainer(
    cfg: DictConfig,
    run_dir: str | Path,
    stage: str = "",
    max_steps: int | None = None,
    callbacks: list[Callback] | None = None,
    checkpoint: bool = True,
    **overrides: Any,
) -> L.Trainer:
    """A Trainer whose logs and checkpoints live inside ``run_dir`` (under ``stage`` when given);
    ``callbacks`` are added to the zoo's own (wall clock, checkpoints, progress bar)."""
    tc = cfg.trainer
    run_dir = Path(run_dir)
    if global_rank(tc.devices) == 0:  # a resumed stage: its earlier rows go to a segment file first
        start_segment(run_dir / "csv" / (stage or "main"))
    cbs: list[Callback] = list(callbacks or []) + [WallClock(), RandomState()]
    if tc.strategy == "fsdp_cpu":
        cbs.append(ManualRootRefresh())
    if checkpoint:
        cbs.append(
            RunCheckpoint(
                dirpath=run_dir / "checkpoints" / stage if stage else run_dir / "checkpoints",
                filename="step{step:06d}",
                auto_insert_metric_name=False,
                every_n_train_steps=max(1, int(tc.checkpoint_every)),
                save_last=True,
                save_top_k=1,
            )
        )
    if tc.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        cbs.append(RichProgressBar(leave=True))
    kwargs: dict[str, Any] = dict(
        accelerator="gpu" if tc.accelerator == "cuda" else tc.accelerator,
        devices=tc.devices,
        num_nodes=tc.num_nodes,
        strategy=build_strategy(tc),
        precision=tc.precision,
        max_steps=int(max_steps if max_steps is not None else tc.max_steps),
        max_time=timedelta(minutes=float(tc.max_time_min)) if tc.max_time_min else None,
        logger=CSVLogger(save_dir=str(run_dir), name="csv", version=stage or "main"),  # rows kept: start_segment
        callbacks=cbs,
        log_every_n_steps=int(tc.log_every_n_steps),
        enable_progress_bar=bool(tc.progress),
        enable_model_summary=False,
        default_root_dir=str(run_dir),
        deterministic=False,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)
