"""The fields every training run has, whatever its strategy; each strategy's run config subclasses
``RunConfig`` (in its own package) and is registered with the strategy (zoo.train.plugin)."""
from __future__ import annotations

from dataclasses import dataclass, field

from zoo.schema.env import EnvConfig
from zoo.schema.model import ModelConfig
from zoo.schema.trainer import EvalConfig, TrainerConfig


@dataclass
class RunConfig:
    """strategy: registered strategy name (``zoo list strategy``; ``1`` / ``2`` are aliases of the two
    built-in ones).  name: run folder name (default: a timestamp).  seed: seeds everything of the run.
    run_root: where ``runs/<strategy>/<name>/`` is created.  resume: a run dir or checkpoint to continue.
    """

    strategy: str = "compressive_rl"
    name: str | None = None
    seed: int = 0
    run_root: str = "runs"
    resume: str | None = None
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
