"""The behaviour-cloning warm start of ``zoo fit strategy=2`` (``ppo.bc_demos_per_task > 0``) as a Trainer
callback: when training starts, before the first PPO update, it records the oracle demonstrations on the run's
browser env, clones them into the network (bc.py), logs bc/* rows to the run's CSV (step 0) and saves
``checkpoints/ppo/bc.ckpt``.  With ``ppo.bc_val_demos_per_task`` it also records each task's next demonstrations,
scores the cloning on them after every pass (bc/val_*) and writes ``bc_validation.json`` to the run directory.
Its state (done, what it used) travels in every checkpoint, so a resumed run, whether from bc.ckpt or a later PPO
checkpoint, never repeats it.

With ``ppo.bc_coef > 0`` it also hands the demonstrations to the module, which keeps cloning them during PPO
(module.py, ``demonstration_loss``; bc.py, ``replay_draw``).  They are every step's featurized arrays and are not
kept in checkpoints: a resumed run records them again (the same jobs played by the same oracle) without cloning
again.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from strategies.compressive_rl.bc import (behaviour_clone, clone_scores_by_task, demonstration_jobs,
                                          record_demonstrations, validation_jobs)
from zoo.core.io import atomic_write_json

BC_CHECKPOINT = "bc.ckpt"
BC_VALIDATION = "bc_validation.json"  # in the run directory, with ppo.bc_val_demos_per_task


class BehaviourCloningWarmStart(Callback):
    def __init__(self, tasks: list[str], demos_per_task: int, epochs: int, lr: float, seed: int, replay: bool = False,
                 schedule: str = "constant", val_demos_per_task: int = 0, run_dir: Path | None = None,
                 weight_decay: float = 0.0):
        self.tasks, self.demos_per_task = list(tasks), int(demos_per_task)
        self.val_demos_per_task = int(val_demos_per_task)  # scored after every pass, never cloned
        self.run_dir = None if run_dir is None else Path(run_dir)  # where BC_VALIDATION goes
        self.epochs, self.lr, self.seed, self.schedule = int(epochs), float(lr), int(seed), str(schedule)
        self.weight_decay = float(weight_decay)
        self.replay = bool(replay)  # ppo.bc_coef > 0: the module keeps the demonstrations for PPO
        self.done = False
        self.summary: dict[str, float] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"done": self.done, "summary": dict(self.summary)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.done = bool(state_dict.get("done", False))
        self.summary = dict(state_dict.get("summary", {}))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        warm = not self.done and trainer.global_step == 0  # once PPO ran there is nothing to warm
        if self.demos_per_task <= 0 or not (warm or self.replay):
            return
        t0 = time.perf_counter()
        jobs = demonstration_jobs(self.tasks, self.demos_per_task, self.seed)
        demos, stats = record_demonstrations(pl_module._env, pl_module.featurizer, jobs)
        if self.replay:
            pl_module.demonstrations = demos
        if not warm:  # a resumed run with ppo.bc_coef: the demonstrations again, for PPO only
            pl_module.collector.restart()  # the env's running training episodes were cut: start fresh ones
            return
        validation, val_stats = [], None
        if self.val_demos_per_task > 0:
            val_jobs = validation_jobs(self.tasks, self.demos_per_task, self.val_demos_per_task, self.seed)
            validation, val_stats = record_demonstrations(pl_module._env, pl_module.featurizer, val_jobs)
        pl_module.collector.restart()  # the env's running training episodes were cut: start fresh ones
        record_s = time.perf_counter() - t0
        logger = trainer.logger if trainer.is_global_zero else None

        def log(epoch: int, row: dict[str, float]) -> None:
            if logger is not None:
                logger.log_metrics({"bc/epoch": float(epoch), **{f"bc/{k}": v for k, v in row.items()}}, step=0)

        # every process clones the same demonstrations from the same seed, so their weights stay equal
        history = behaviour_clone(pl_module.model, demos, self.epochs, self.lr, self.seed, pl_module.device, log=log,
                                  schedule=self.schedule, validation=validation, weight_decay=self.weight_decay)
        val_summary = {f"val_{k}": v for k, v in val_stats.as_dict().items()} if val_stats is not None else {}
        self.summary = {**stats.as_dict(), **val_summary, "record_s": round(record_s, 2),
                        "wall_s": round(time.perf_counter() - t0, 2), **({f"final_{k}": v for k, v in history[-1].items()}
                                                                         if history else {})}
        if logger is not None:
            logger.log_metrics({f"bc/{k}": v for k, v in self.summary.items()}, step=0)
            logger.save()
        if validation and trainer.is_global_zero and self.run_dir is not None:
            by_task = clone_scores_by_task(pl_module.model, validation, pl_module.device)
            atomic_write_json(self.run_dir / BC_VALIDATION, {
                "demos_per_task": self.demos_per_task, "val_demos_per_task": self.val_demos_per_task,
                "epochs": self.epochs, "passes": history, "summary": self.summary, "tasks": by_task})
        self.done = True
        ckpt = getattr(trainer.checkpoint_callback, "dirpath", None)
        if ckpt:
            trainer.save_checkpoint(Path(ckpt) / BC_CHECKPOINT, weights_only=False)
