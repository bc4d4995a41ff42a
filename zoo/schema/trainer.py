"""Lightning Trainer settings shared by every training stage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class TrainerConfig:
    """accelerator: cpu | gpu | auto.  devices: count or list.  num_nodes: for multi-node runs.
    strategy: auto | ddp | fsdp (GPU) | fsdp_cpu (FSDP2 via ModelParallelStrategy on gloo, for tests).
    precision: Lightning precision string (32-true, bf16-mixed, ...).
    max_steps: optimiser steps (PPO: updates) per training stage.
    max_time_min: optional wall-clock budget per stage, in minutes.
    checkpoint_every: save a checkpoint every N steps (the last one is always kept).
    activation_checkpointing: recompute Block activations in backward (FSDP).
    sharded_checkpoint: fsdp / fsdp_cpu: each rank writes its own shard (a checkpoint directory; no
      gather onto one process) instead of one full file; read either with zoo.training.load_checkpoint.
    progress: show rich progress bars.
    """

    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_steps: int = 200
    max_time_min: Any = None
    checkpoint_every: int = 50
    log_every_n_steps: int = 5
    activation_checkpointing: bool = False
    sharded_checkpoint: bool = False
    gradient_clip_val: float = 0.5
    progress: bool = True


@dataclass
class EvalConfig:
    """Final scoring on the shared benchmark (evaluation seeds, disjoint from training seeds).
    episodes: episodes per task.  suite / tasks: what to score on (empty: the training tasks).
    seed: first evaluation seed; not tied to the run's seed=, so every run (any strategy, any
    training seed) is scored on the same episodes of each task.
    """

    episodes: int = 20
    seed: int = 0
    suite: str = ""
    tasks: Any = None
