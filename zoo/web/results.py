"""Benchmark results: statistics with 95% confidence intervals, the JSON file and the rich table.

Results JSON schema ``"actionzoo.bench/2"`` (written by ``write_results``).  Version 2 counts an
episode as a success only at full credit (raw reward 1, MiniWoB++'s binary reward); version 1
counted any raw reward > 0, so partial credit passed as success.  Version 2 also reports how
often partial credit was given::

    {
      "schema": "actionzoo.bench/2",
      "agent": "oracle",                      # agent name (random | oracle | checkpoint:<path> | ...)
      "suite": "miniwob-core",                # suite name, or "custom" for an explicit task list
      "created": "2025-01-01T12:00:00Z",      # UTC time the evaluation finished
      "config": {"episodes": 10, "seed": 0, "num_envs": 4, "max_episode_steps": 8, "retries": 2, ...},
      "seeds": {"first": 1000000, "count": 10},  # evaluation seeds eval_seed(seed + k), k < episodes
      "tasks": {
        "<task>": {
          "episodes": 10,                     # episodes scored (errored ones count as failures)
          "successes": 10,                    # full-credit episodes (raw reward 1)
          "partial_credits": 0,               # episodes with 0 < raw reward < 1 (not successes)
          "errors": 0,                        # episodes lost to crashes/hangs after all retries
          "success_rate": {"mean": 1.0, "ci95": [0.72, 1.0]},    # Wilson score interval
          "partial_credit_rate": {"mean": 0.0, "ci95": [0.0, 0.28]},  # Wilson score interval
          "mean_reward":  {"mean": 0.97, "ci95": [0.96, 0.98]},  # time-decayed reward, t-interval
          "mean_raw_reward": {"mean": 1.0, "ci95": [1.0, 1.0]},  # raw page reward, t-interval
          "mean_steps":   {"mean": 1.0, "ci95": [1.0, 1.0]}       # actions per episode, t-interval
        }, ...
      },
      "overall": {                            # all episodes pooled, same fields as a task, plus:
        "macro_success_rate": 0.98            # mean of the per-task success rates
      },
      "timing": {"wall_s": 12.3, "env_steps": 400, "env_steps_per_s": 32.5},
      "env": {"browser": "chromium 120.0", "executable": "/usr/bin/chromium", "restarts": 0},
      "interrupted": false,                   # true when the run was stopped early (partial results)
      "episodes": [                           # one record per scored episode
        {"task": "click-test", "seed": 1000000, "raw_reward": 1.0, "reward": 0.98, "success": true,
         "data_mode": "test", "steps": 1, "waits": 0, "invalid_actions": 0, "reason": null, "error": null, "wall_s": 0.05, "attempt": 1,
         "trace": {"instruction": "Click the button.", "actions": ["click [4] button \"Click Me!\""]}}, ...
      ]                                       # "trace" only with zoo bench ... trace=true (zoo/web/trace.py)
    }

Statistics are aggregated by ``EpisodeStats``, a torchmetrics ``Metric`` whose states are the
count and the per-column sums and sums of squares of (reward, raw reward, steps, success, error,
partial credit),
all reduced by ``sum``: it can be updated episode by episode, merged (``merge_state``: the
"overall" entry is the merge of the per-task metrics) and synced across DDP ranks like any
torchmetrics metric (``sync_on_compute`` is off by default: the bench scores per process).  The
macro success rate is a torchmetrics ``MeanMetric`` over the per-task rates.  Reward and step
intervals are Student-t intervals mean +- t * s / sqrt(n) (instant, where torchmetrics'
BootStrapper took about a second per statistic); the success-rate interval is the Wilson score
interval, which stays sensible for rates of 0 or 1 with few episodes.  The schema is also
documented in zoo/web/README.md ("Results JSON").
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.aggregation import MeanMetric

from zoo.core.errors import ZooError
from zoo.core.io import atomic_write_json
from zoo.core.stats import t_quantile
from zoo.core.stats import wilson as wilson_interval


SCHEMA = "actionzoo.bench/2"



def wilson(successes: int, n: int) -> list[float]:
    """The 95% Wilson interval as a JSON-ready list (zoo.core.stats.wilson)."""
    return list(wilson_interval(successes, n))


class EpisodeStats(Metric):
    """A torchmetrics Metric of the count, sums and sums of squares of ``columns`` per-episode
    values.  ``update(x)`` takes a (n, columns) or (n,) array; ``compute()`` gives
    ``{"n", "mean", "var"}`` (sample variance; tensors of ``columns``)."""

    full_state_update = False
    higher_is_better = None
    is_differentiable = False

    def __init__(self, columns: int = 6, **kwargs: Any):
        kwargs.setdefault("sync_on_compute", False)  # per-process unless asked: no all-gather after a DDP fit
        super().__init__(**kwargs)
        self.columns = columns
        self.add_state("n", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(columns, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("squares", torch.zeros(columns, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, values: Any) -> None:
        x = torch.as_tensor(values, dtype=torch.float64).reshape(-1, self.columns)
        self.n += x.shape[0]
        self.total += x.sum(0)
        self.squares += (x * x).sum(0)

    def compute(self) -> dict[str, Any]:
        n = float(self.n)
        mean = self.total / max(n, 1.0)
        var = (self.squares - n * mean * mean).clamp(min=0) / max(n - 1, 1.0)
        return {"n": int(n), "mean": mean, "var": var}


COLUMNS = ("reward", "raw_reward", "steps", "success", "error", "partial")  # an episode's EpisodeStats row


def partial_credit(raw_reward: float) -> bool:
    """Some credit but not full credit: 0 < raw reward < 1 (never a success)."""
    return 0.0 < raw_reward < 1.0 - 1e-9


def _interval(n: int, mean: float, var: float) -> dict[str, Any]:
    if n == 0:
        return {"mean": None, "ci95": [None, None]}
    if n == 1:
        return {"mean": mean, "ci95": [mean, mean]}
    half = t_quantile(n - 1) * math.sqrt(var / n)
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def mean_ci(values: list[float]) -> dict[str, Any]:
    """Mean and 95% t-interval of ``values`` (aggregated by a one-column EpisodeStats metric)."""
    if not values:
        return _interval(0, 0.0, 0.0)
    metric = EpisodeStats(columns=1)
    metric.update(values)
    out = metric.compute()
    return _interval(out["n"], float(out["mean"].reshape(-1)[0]), float(out["var"].reshape(-1)[0]))


def episode_metric(episodes: list[dict[str, Any]]) -> Any:
    """An EpisodeStats updated with the (reward, raw reward, steps, success, error, partial credit) of
    ``episodes``."""
    metric = EpisodeStats()
    metric.update([[float(e["reward"]), float(e["raw_reward"]), float(e["steps"]), float(bool(e["success"])),
                    float(bool(e.get("error"))), float(partial_credit(float(e["raw_reward"])))]
                   for e in episodes])  # no episodes: an update of zero rows
    return metric


def summary_from_metric(metric: Any) -> dict[str, Any]:
    """One task's (or the pool's) entry of the results JSON from its EpisodeStats."""
    n = int(metric.n)
    if n == 0:
        return {"episodes": 0, "successes": 0, "partial_credits": 0, "errors": 0,
                "success_rate": {"mean": None, "ci95": wilson(0, 0)},
                "partial_credit_rate": {"mean": None, "ci95": wilson(0, 0)}, "mean_reward": _interval(0, 0, 0), "mean_raw_reward": _interval(0, 0, 0), "mean_steps": _interval(0, 0, 0)}
    out = metric.compute()
    mean, var, total = out["mean"].reshape(-1).tolist(), out["var"].reshape(-1).tolist(), metric.total.tolist()
    wins, errors, partial = round(total[3]), round(total[4]), round(total[5])
    return {
        "episodes": n,
        "successes": wins,
        "partial_credits": partial,
        "errors": errors,
        "success_rate": {"mean": wins / n, "ci95": wilson(wins, n)},
        "partial_credit_rate": {"mean": partial / n, "ci95": wilson(partial, n)},
        "mean_reward": _interval(n, mean[0], var[0]),
        "mean_raw_reward": _interval(n, mean[1], var[1]),
        "mean_steps": _interval(n, mean[2], var[2]),
    }


def summarize_episodes(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    return summary_from_metric(episode_metric(episodes))


def build_results(episodes: list[dict[str, Any]], tasks: list[str], *, agent: str, suite: str,
                  config: dict[str, Any], timing: dict[str, Any], env: dict[str, Any],
                  interrupted: bool = False) -> dict[str, Any]:
    import time

    metrics = {t: episode_metric([e for e in episodes if e["task"] == t]) for t in tasks}
    pooled = episode_metric([e for e in episodes if e["task"] not in metrics])  # episodes of unlisted tasks
    for metric in metrics.values():
        pooled.merge_state(metric)
    per_task = {t: summary_from_metric(m) for t, m in metrics.items()}
    overall = summary_from_metric(pooled)
    rates = [v["success_rate"]["mean"] for v in per_task.values() if v["episodes"]]
    macro = MeanMetric(sync_on_compute=False)
    macro.set_dtype(torch.float64)
    if rates:
        macro.update(rates)
    overall["macro_success_rate"] = float(macro.compute()) if rates else None
    first = 1_000_000 + int(config.get("seed", 0))
    return {
        "schema": SCHEMA, "agent": agent, "suite": suite,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config, "seeds": {"first": first, "count": int(config.get("episodes", 0))},
        "tasks": per_task, "overall": overall, "timing": timing, "env": env,
        "interrupted": interrupted, "episodes": episodes,
    }


def write_results(path: str | os.PathLike, results: dict[str, Any]) -> Path:
    """Write results JSON atomically (a killed run never leaves a half-written file)."""
    return atomic_write_json(path, results)


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if data.get("schema") != SCHEMA:
        raise ZooError(f"{path} is not an actionzoo bench result (schema {data.get('schema')!r}, expected {SCHEMA})")
    return data


def finished_results(path: str | os.PathLike, agent_id: str | None = None) -> dict[str, Any] | None:
    """The results at ``path`` if a scoring wrote them to the end; None if the file is missing or the scoring
    was interrupted (its partial results are kept on disk, but nothing may count them as a finished score).
    With ``agent_id`` (zoo/train/scoring.py's ``agent_fingerprint``), also None if other weights were scored."""
    if not Path(path).is_file():
        return None
    data = load_results(path)
    if agent_id is not None and data.get("config", {}).get("agent_id") != agent_id:
        return None
    return None if data.get("interrupted") else data


def _fmt(stat: dict[str, Any], pct: bool = False, digits: int = 2) -> str:
    m, (lo, hi) = stat["mean"], stat["ci95"]
    if m is None:
        return "-"
    if pct:
        return f"{100 * m:.0f}% [{100 * lo:.0f},{100 * hi:.0f}]"
    return f"{m:.{digits}f} [{lo:.{digits}f},{hi:.{digits}f}]"


def results_table(results: dict[str, Any]) -> Any:
    from rich import box
    from rich.table import Table

    title = f"{results['agent']} on {results['suite']} ({results['config'].get('episodes')} episodes/task, 95% CI)"
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for col in ("task", "success", "partial", "raw reward", "reward", "steps", "n", "err"):
        table.add_column(col, justify="left" if col == "task" else "right", no_wrap=True)
    rows = list(results["tasks"].items()) + [("overall", results["overall"])]
    for name, s in rows:
        partial = s.get("partial_credit_rate") or {"mean": None, "ci95": [None, None]}
        table.add_row(name, _fmt(s["success_rate"], pct=True), _fmt(partial, pct=True), _fmt(s["mean_raw_reward"]),
                      _fmt(s["mean_reward"]), _fmt(s["mean_steps"], digits=1), str(s["episodes"]), str(s["errors"]),
                      end_section=name == rows[-2][0])
    return table
