"""Configs of the non-training commands: ``zoo bench``, ``zoo search``, ``zoo report``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BenchConfig:
    """zoo bench [harness|env|attention] key=value ...

    agent: random | oracle | checkpoint (with checkpoint=PATH).  suite / tasks: what to run.
    episodes: evaluation episodes per task (fixed evaluation seeds).  num_envs: concurrent browser contexts.
    out: results file or directory (default: reports/bench/).  seed: base of the evaluation seeds.
    contexts: env throughput benchmark: context counts to time.  steps: env steps per timing.
    seq_lens / variants / dim / n_heads / device: attention benchmark sweep.
    """

    agent: str = "random"
    checkpoint: str | None = None
    suite: str = "miniwob-core"
    tasks: list[str] = field(default_factory=list)
    episodes: int = 10
    num_envs: int = 4
    max_episode_steps: int = 8
    out: str | None = None
    seed: int = 0
    contexts: list[int] = field(default_factory=lambda: [1, 2, 4])
    steps: int = 100
    seq_lens: list[int] = field(default_factory=lambda: [1024, 2048, 4096, 8192, 16384, 32768, 65536])
    variants: list[str] = field(default_factory=list)
    dim: int = 256
    n_heads: int = 4
    device: str = "cpu"
    timeout_s: float = 120.0


@dataclass
class StudyConfig:
    """zoo search strategy=1|2 trials=N space=configs/search/<file>.yaml

    storage: Optuna storage: sqlite path/URL (default reports/search/optuna.db), any RDB URL, or a .log journal file.
    study: study name (re-running with the same name continues the study).
    objective: success | success+params | success+time.  pruner: median | none.
    overrides: extra key=value applied to every trial's run config.
    """

    strategy: int = 2
    trials: int = 4
    space: str = "configs/search/strategy2.yaml"
    storage: str | None = None
    study: str | None = None
    objective: str = "success"
    pruner: str = "median"
    seed: int = 0
    timeout_min: Any = None
    out: str = "reports/search"
    overrides: list[str] = field(default_factory=list)


@dataclass
class ReportConfig:
    """zoo report name=NAME runs=DIR bench=DIR: gather results JSON and write reports/<name>/."""

    name: str = "latest"
    runs: str = "runs"
    bench: str = "reports"
    out: str = "reports"
