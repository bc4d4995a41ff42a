"""Configs of the non-training commands: ``zoo bench``, ``zoo search``, ``zoo report``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.schema.checks import at_least, between, greater_than


@dataclass
class BenchConfig:
    """zoo bench [harness|env|attention|actions|batches] key=value ...

    agent: random | oracle | checkpoint (with checkpoint=PATH; a checkpoint alone implies agent=checkpoint).
    suite / tasks: what to run (explicit tasks win over the suite).
    episodes: evaluation episodes per task, on seeds eval_seed(seed + k), disjoint from training seeds.
    num_envs: concurrent browser contexts.  browsers: Chromium processes they are spread over (0: one per
    context, so contexts share no clipboard).  max_episode_steps: actions before an episode is cut off (a failure).
    out: results .json file or directory (default: reports/bench/<agent>-<suite>.json; env: reports/bench/).
    seed: base of the evaluation seeds (and the random agent's seed).
    retries: extra attempts for an episode lost to a browser crash or hang before it is scored as failed.
    resume: continue an interrupted run: the episodes its <results>.episodes.jsonl holds are kept and only
    the missing (task, seed) pairs are played (the same agent, tasks, seed and episodes; otherwise one line).
    step_timeout_s: a browser call slower than this counts as a hung page (the context is replaced).
    headless: run Chromium headless.  progress: rich progress bar.  screenshot: force screenshots in
    observations (otherwise only when the agent asks for them; env: time with screenshots).
    trace: write each episode's instruction and actions (with the elements they hit) into its record.
    settle_ms: observe each page once it is still, at most this long after an action (env.settle_ms; 0: at once).
    A checkpoint is not scored with its run's env.settle_ms unless it is given here (the run's own scoring is).
    derived: actions: count texts worked out from the page as typable (the agents' read_derived option).
    contexts: env throughput benchmark (zoo/web/throughput.py): context counts to time, each with one
    browser and with one browser per context.  steps: env steps per timing (at least 40 per context).
    repeats: interleaved repetitions.  single_task: the one-task setting's task (the suite is the mixed
    one).  selenium: also time miniwob's Selenium env when chromedriver is installed.
    seq_lens / variants / dim / n_heads / device: attention benchmark sweep (1K..64K tokens; the
    design note's minute of video at 3 fps is ~46K).  timeout_s: per-point cap; a point whose
    estimate from the previous length exceeds it is recorded as skipped with the estimate.
    run / stage / length_groups / train_steps / threads: batches benchmark (``zoo bench batches``,
    strategies/foundation/batch_bench.py): a Strategy-1 run directory whose recorded episodes are batched, the
    stage (pretrain | sft), the ``foundation.<stage>.length_groups`` settings to compare (0: random batches),
    optimiser steps timed per setting and repetition, torch threads (0: torch's default).
    """

    agent: str = "random"
    checkpoint: str | None = None
    suite: str = "miniwob-core"
    tasks: list[str] = field(default_factory=list)
    episodes: int = field(default=10, metadata=at_least(1))
    num_envs: int = field(default=4, metadata=at_least(1))
    browsers: int = field(default=0, metadata=at_least(0))
    max_episode_steps: int = field(default=8, metadata=at_least(1))
    out: str | None = None
    seed: int = 0
    retries: int = field(default=2, metadata=at_least(0))
    resume: bool = False
    step_timeout_s: float = field(default=10.0, metadata=greater_than(0))
    headless: bool = True
    progress: bool = True
    screenshot: bool = False
    trace: bool = False
    settle_ms: float = field(default=0.0, metadata=between(0, 5000))
    derived: bool = False
    contexts: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    steps: int = field(default=200, metadata=at_least(1))
    repeats: int = field(default=3, metadata=at_least(1))
    single_task: str = "click-button"
    selenium: bool = True
    seq_lens: list[int] = field(default_factory=lambda: [1024, 2048, 4096, 8192, 16384, 32768, 65536])
    variants: list[str] = field(default_factory=list)
    dim: int = 64
    n_heads: int = 4
    device: str = "cpu"
    timeout_s: float = 180.0
    run: str | None = None
    stage: str = "sft"
    length_groups: list[int] = field(default_factory=lambda: [0, 8, 32])
    train_steps: int = field(default=20, metadata=at_least(1))
    threads: int = field(default=0, metadata=at_least(0))


@dataclass
class StudyConfig:
    """zoo search strategy=NAME trials=N space=configs/search/<file>.yaml

    strategy: which strategy the trials train (a registered name or alias).  space: the search space file
    (default: configs/search/<strategy name>.yaml).
    trials: finished (complete or pruned) trials the study should hold; re-running continues up to it.
    space: search space YAML (a path, or the name of a file in configs/search/; format in configs/search/README.md).
    storage: Optuna storage: a SQLite file (default <out>/optuna.db), any RDB URL, or a *.log journal file.
      Several `zoo search` processes on one storage share the study (parallel workers).
    study: study name (default <strategy>-<space name>); re-running with the same name continues the study.
    objective: success (maximise benchmark success) | success+params | success+time (also minimise the
      parameter count / the trial's training wall time: a Pareto front).
    pruner: median | percentile | hyperband | none (prunes on the space's `metric`, single objective only).
    seed: sampler seed (offset by the trials already in the study; give parallel workers different seeds).
    timeout_min: stop starting new trials after this many minutes (null: no limit).
    out: folder of <study>/study.json and <study>/best.yaml (and the default storage).
    run_root: trial runs go to <run_root>/search/<study>/<strategy>/t<number>.
    overrides: extra key=value applied to every trial's run config (before the space's values).
    """

    strategy: str = "compressive_rl"
    trials: int = field(default=4, metadata=at_least(1))
    space: str = ""
    storage: str | None = None
    study: str | None = None
    objective: str = "success"
    pruner: str = "median"
    seed: int = 0
    timeout_min: Any = field(default=None, metadata=greater_than(0))
    out: str = "reports/search"
    run_root: str = "runs"
    overrides: list[str] = field(default_factory=list)


@dataclass
class ReportConfig:
    """zoo report name=NAME: gather results JSON and write reports/<name>/index.html + README.md.

    name: report folder name under `out`.
    runs: run root scanned for <runs>/<strategy>/*/ (config.yaml, results.json, csv/*/metrics.csv), or a folder
    of zoo compare matrices (e.g. reports/compare: each <matrix>/<strategy>/*/ is read).
    bench: folder of `zoo bench` outputs: harness results (*.json), attention.json, env_throughput.json.
    search: folder of `zoo search` outputs (<study>/study.json).
    out: parent folder of the report.
    title: heading of the report.
    confidence: level of the success-rate confidence intervals (Wilson score).
    """

    name: str = "latest"
    runs: str = "runs"
    bench: str = "reports/bench"
    search: str = "reports/search"
    out: str = "reports"
    title: str = "actionzoo: Strategy 1 vs Strategy 2"
    confidence: float = 0.95


@dataclass
class CompareConfig:
    """zoo compare config=configs/compare/<name>.yaml [run_root=runs/compare] [seeds=[1,2]] [cells=[xl]] [dry_run=true]

    config: the matrix file (format: configs/compare/README.md).  run_root: cells go to
    <run_root>/<matrix name>/<strategy>/<cell>-s<seed>/.  seeds: run only these of the matrix's seeds (empty:
    all), so that processes or machines sharing one run_root can split a matrix by seed; cells: likewise only
    the cells with these labels (empty: all), to split it by cell; matrix.json is written by the run that finds
    every cell x seed done.  dry_run: list the cells and what is done, run nothing.
    """

    config: str = ""
    run_root: str = "runs/compare"
    seeds: list[int] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    dry_run: bool = False
