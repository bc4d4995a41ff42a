"""Lightning Trainer settings shared by every training stage."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.schema.checks import at_least, greater_than, one_of

ACCELERATORS = ("cpu", "gpu", "cuda", "auto", "mps")
TRAINER_STRATEGIES = ("auto", "ddp", "fsdp", "fsdp_cpu")
# Lightning's precision names (lightning.fabric.utilities.types._PRECISION_INPUT_STR)
PRECISIONS = ("32-true", "32", "16-mixed", "16", "bf16-mixed", "bf16", "16-true", "bf16-true", "64-true", "64",
              "transformer-engine", "transformer-engine-float16")


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
      gather onto one process) instead of one full file; read either with zoo.core.checkpoints.load_checkpoint.
    progress: show rich progress bars.
    """

    accelerator: str = field(default="cpu", metadata=one_of(*ACCELERATORS))
    devices: Any = 1
    num_nodes: int = field(default=1, metadata=at_least(1))
    strategy: str = field(default="auto", metadata=one_of(*TRAINER_STRATEGIES))
    precision: str = field(default="32-true", metadata=one_of(*PRECISIONS))
    max_steps: int = field(default=200, metadata=at_least(1))
    max_time_min: Any = field(default=None, metadata=greater_than(0))
    checkpoint_every: int = field(default=50, metadata=at_least(1))
    log_every_n_steps: int = field(default=5, metadata=at_least(1))
    activation_checkpointing: bool = False
    sharded_checkpoint: bool = False
    gradient_clip_val: float = field(default=0.5, metadata=at_least(0))
    progress: bool = True


@dataclass
class EvalConfig:
    """Final scoring on the shared benchmark (evaluation seeds, disjoint from training seeds).
    episodes: episodes per task.  suite / tasks: what to score on (empty: the training tasks).
    seed: first evaluation seed; not tied to the run's seed=, so every run (any strategy, any
    training seed) is scored on the same episodes of each task.
    resume: keep the episodes an interrupted scoring of this run's final checkpoint left in its
    ``<results>.episodes.jsonl`` and play only the others (``zoo compare`` sets it when it rescores); an
    episode logged with other weights (the run trained further since: ``agent_id`` differs) is played again.
    """

    episodes: int = field(default=20, metadata=at_least(1))
    seed: int = field(default=0, metadata=at_least(0))
    suite: str = ""
    tasks: Any = None
    resume: bool = False
