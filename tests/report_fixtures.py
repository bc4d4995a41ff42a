"""Fixture inputs for the ``zoo report`` tests, laid out exactly as the real commands write them.

Run dirs get a real composed ``config.yaml`` (zoo.config.compose + zoo.train.runs.save_config) and a
CSVLogger-style ``metrics.csv``; benchmark results are per-episode outcomes drawn from a seeded
generator and summarised into the results schema; the Optuna study is a real (cheap) study run
by ``zoo.search.run_study``.  Nothing here is a real agent's score: the tests check how the
report presents numbers, not the numbers.
"""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import torch

from zoo.config import compose, parse_tool_config
from zoo.train.runs import save_config

TASKS = ["click-test", "click-button", "focus-text", "enter-text"]


def _stat(values: list[float]) -> dict:
    m = sum(values) / len(values)
    return {"mean": m, "ci95": [min(values), max(values)]}  # the report reads only the means


def _summary(eps: list[dict]) -> dict:
    from zoo.web.results import wilson

    wins = sum(e["success"] for e in eps)
    return {"episodes": len(eps), "successes": wins, "errors": 0,
            "success_rate": {"mean": wins / len(eps), "ci95": wilson(wins, len(eps))},
            "mean_reward": _stat([e["reward"] for e in eps]), "mean_raw_reward": _stat([e["raw_reward"] for e in eps]),
            "mean_steps": _stat([e["steps"] for e in eps])}


def bench_results(agent: str, rates: dict[str, float], episodes: int, seed: int) -> dict:
    """Results in the zoo.web.results schema (actionzoo.bench/1) from seeded per-episode outcomes.

    Summarised here rather than by zoo.web.results.build_results, whose bootstrap intervals take
    seconds per result on a loaded machine; the fields and their meaning are the same."""
    from zoo.web.results import SCHEMA

    rng = random.Random(seed)
    eps = []
    for task in TASKS:
        for k in range(episodes):
            ok = rng.random() < rates[task]
            eps.append({"task": task, "seed": 1_000_000 + k, "raw_reward": 1.0 if ok else -1.0,
                        "reward": rng.uniform(0.3, 0.9) if ok else -1.0, "success": ok, "steps": rng.randint(1, 4),
                        "invalid_actions": 0, "reason": None, "error": None, "wall_s": 0.1, "attempt": 1})
    overall = _summary(eps)
    overall["macro_success_rate"] = sum(_summary([e for e in eps if e["task"] == t])["success_rate"]["mean"]
                                        for t in TASKS) / len(TASKS)
    return {"schema": SCHEMA, "agent": agent, "suite": "custom", "created": "2025-01-01T00:00:00Z",
            "config": {"episodes": episodes, "seed": 0, "num_envs": 2, "max_episode_steps": 8},
            "seeds": {"first": 1_000_000, "count": episodes},
            "tasks": {t: _summary([e for e in eps if e["task"] == t]) for t in TASKS}, "overall": overall,
            "timing": {"wall_s": 1.0, "env_steps": len(eps), "env_steps_per_s": 10.0},
            "env": {"browser": "fixture", "executable": "", "restarts": 0}, "interrupted": False, "episodes": eps}


# The columns each stage really logs (see runs/strategy*/<run>/csv/<stage>/metrics.csv), so the report
# must find its curve among them by exact name: ``train/env_steps_per_s`` (a rate) sits beside the
# cumulative ``train/env_steps``; strategy 1's RL stage logs ``rl/search_success`` once its first
# collection round has run, and no env-step count.
STAGE_COLUMNS = {
    "ppo": ["train/approx_kl", "train/clip_fraction", "train/entropy", "train/env_steps", "train/env_steps_per_s",
            "train/episode_length", "train/episode_return", "train/episodes", "train/explained_variance",
            "train/policy_loss", "train/success/click-test", "train/success_rate", "train/value_loss"],
    "sft": ["sft/loss", "sft/pointer_acc", "val/lm_line_acc", "val/sft_loss"],
    "rl": ["rl/distill", "rl/env_steps", "rl/loss", "rl/pointer_acc", "rl/search_expansions", "rl/search_success",
           "rl/value"],
}
STEPS_PER_UPDATE = 64  # a ppo fixture's env steps per update (rollout_steps 16 x num_envs 4)


def write_curve(path: Path, updates: int, final: float, seed: int, env_steps: bool = True) -> None:
    """A CSVLogger metrics.csv of one stage (the folder name: ppo, sft or rl), one row per step."""
    rng = random.Random(seed)
    stage = path.parent.name
    cols = [c for c in STAGE_COLUMNS[stage] if env_steps or c not in ("train/env_steps", "rl/env_steps")]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted(["epoch", "step", "time/wall_s", *cols]))
        w.writeheader()
        round_success: float | str = ""
        round_steps: float | str = ""
        for step in range(updates):
            row = {c: round(rng.uniform(0.0, 1.0), 4) for c in cols}
            row.update({"epoch": 0, "step": step, "time/wall_s": round(1.7 * (step + 1), 3)})
            success = round(min(1.0, max(0.0, final * (step + 1) / updates + rng.uniform(-0.1, 0.1))), 3)
            if stage == "ppo":
                row.update({"train/success_rate": success, "train/env_steps": STEPS_PER_UPDATE * (step + 1),
                            "train/env_steps_per_s": round(rng.uniform(30, 90), 2)})
                if not env_steps:
                    row.pop("train/env_steps")
            elif stage == "rl":  # the success of the latest collection round (one every 4 steps), none before
                if step % 4 == 0:
                    round_success = success if step else ""
                    round_steps = 30 * (step // 4) if step else ""  # cumulative simulator steps
                row["rl/search_success"] = round_success
                if env_steps:
                    row["rl/env_steps"] = round_steps
            w.writerow(row)


def make_run(root: Path, strategy: int, name: str, overrides: list[str], rates: dict[str, float], seed: int,
             env_steps: bool = True) -> Path:
    cfg = compose([f"strategy={strategy}", f"run_root={root}", f"name={name}", *overrides], validate_choices=False)
    run_dir = root / {1: "foundation", 2: "compressive_rl"}[strategy] / name
    (run_dir / "checkpoints").mkdir(parents=True)
    save_config(cfg, run_dir)
    torch.save({"state_dict": {"w": torch.zeros(100 * (seed + 3), 100)}, "global_step": 1},
               run_dir / "checkpoints" / "last.ckpt")  # the report counts parameters from it
    agent = f"checkpoint:{run_dir / 'checkpoints' / 'last.ckpt'}"
    (run_dir / "results.json").write_text(json.dumps(bench_results(agent, rates, 8, seed)))
    if strategy == 1:
        write_curve(run_dir / "csv/sft/metrics.csv", 10, 0.0, seed)
        write_curve(run_dir / "csv/rl/metrics.csv", 12, max(rates.values()), seed, env_steps=env_steps)
    else:  # runs from before train/env_steps was logged: the report derives it from the config
        write_curve(run_dir / "csv/ppo/metrics.csv", 20, max(rates.values()), seed, env_steps=env_steps)
    return run_dir


def make_inputs(tmp: Path, with_bench: bool = True, with_study: bool = True) -> dict[str, Path]:
    runs, bench, search = tmp / "runs", tmp / "reports/bench", tmp / "reports/search"
    make_run(runs, 2, "xl-seed0", ["model.attention=xl"], dict(zip(TASKS, (0.9, 0.6, 0.7, 0.2))), 0)
    make_run(runs, 2, "infini-seed0", ["model.attention=infini"], dict(zip(TASKS, (0.8, 0.5, 0.6, 0.1))), 1)
    make_run(runs, 2, "dense-seed0", ["model.attention=dense"], dict(zip(TASKS, (0.7, 0.3, 0.4, 0.0))), 2,
             env_steps=False)
    make_run(runs, 1, "sliding-seed0", [], dict(zip(TASKS, (0.95, 0.7, 0.8, 0.4))), 3)
    # a strategy-1 run from before rl/env_steps was logged: no env steps, so not on that plot
    make_run(runs, 1, "dense-old", ["model.attention=dense"], dict(zip(TASKS, (0.9, 0.6, 0.5, 0.3))), 4,
             env_steps=False)
    if with_bench:
        bench.mkdir(parents=True)
        (bench / "random.json").write_text(json.dumps(bench_results("random", dict.fromkeys(TASKS, 0.15), 10, 7)))
        (bench / "oracle.json").write_text(json.dumps(bench_results("oracle", dict.fromkeys(TASKS, 1.0), 10, 8)))
        seq = [1024, 2048, 4096, 8192]
        rows = [{"variant": v, "seq_len": n, "status": "ok", "fwd_ms": base * (n / 1024) ** power / 3,
                 "fwd_bwd_ms": base * (n / 1024) ** power, "peak_mb": mem * (n / 1024) ** mpow}
                for v, base, power, mem, mpow in (("dense", 2.0, 2.0, 8.0, 2.0), ("sliding", 3.0, 1.0, 6.0, 1.0),
                                                  ("infini", 2.5, 1.0, 4.0, 1.0), ("xl", 2.2, 1.1, 5.0, 1.0))
                for n in seq]
        rows[3] = {"variant": "dense", "seq_len": 8192, "status": "timeout", "note": "over 60 s"}
        attention = {"schema": "actionzoo.bench.attention/1", "device": "cpu", "dim": 256,
                     "measure": "forward + backward of one attention layer", "rows": rows}
        (bench / "attention.json").write_text(json.dumps(attention))
        throughput = {"schema": "actionzoo.env-throughput/1", "agent": "random",
                      "results": [{"contexts": c, "env_steps_per_s": 14.0 * c ** 0.8} for c in (1, 2, 4)]}
        (bench / "env_throughput.json").write_text(json.dumps(throughput))
    if with_study:
        sys.path.insert(0, str(Path(__file__).parent))
        from search_helpers import quadratic

        from zoo.schema.tools import StudyConfig
        from zoo.search import run_study

        run_study(parse_tool_config(StudyConfig, ["trials=5", f"out={search}", f"run_root={tmp / 'runs-search'}"]),
                  objective=quadratic)
    return {"runs": runs, "bench": bench, "search": search, "out": tmp / "reports"}
