"""Learning curves of a run directory: success against steps, env steps and wall time, read from the
CSVLogger files of its stages (``csv/<stage>/metrics.csv``), and the strategy names they are shown under."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from zoo.core.errors import ZooError
from zoo.core.registry import family
from zoo.train.metrics import read_stage_metrics
from zoo.train.plugin import get_strategy, resolve_strategy_name

STAGE_ORDER = ("pretrain", "sft", "rl", "ppo", "main")


def number(v: Any) -> float | None:
    """A finite number; a ``{"mean": x, "ci95": [...]}`` statistic counts as its mean."""
    if isinstance(v, dict):
        v = v.get("mean")
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def read_metrics(path: Path) -> list[dict[str, str]]:
    """A stage's rows across every resume of the run (``path`` is the stage's live metrics.csv)."""
    return read_stage_metrics(path.parent)


def _registered_columns(attr: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """Every registered strategy's declared curve columns (best first, in registry order)."""
    cols: list[str] = []
    for name in family("strategy").names():
        cols += [c for c in getattr(get_strategy(name), attr) if c not in cols]
    return tuple(cols) or fallback


# Exact column names (never matched by substring: ``train/env_steps_per_s`` is a rate, not a count), as
# each strategy declares them in its registration (zoo.train.plugin.Strategy.success_columns / env_steps_columns).
# Success, best first: Strategy 2's PPO rollout episodes, Strategy 1's RL stage (success of each round of MCTS
# collection episodes, logged every step until the next round), then a periodic greedy validation.
def success_columns() -> tuple[str, ...]:
    return _registered_columns("success_columns", ("train/success_rate", "val/success_rate"))


def env_step_columns() -> tuple[str, ...]:
    return _registered_columns("env_steps_columns", ("train/env_steps",))


WALL_COLUMNS = ("time/wall_s",)  # zoo.train.trainer.WallClock: training seconds, carried through resumes


def strategy_name(raw: Any) -> str:
    """The registered name of a saved config's strategy (old runs saved ``1`` / ``2``)."""
    try:
        return resolve_strategy_name(raw)
    except ZooError:
        return str(raw)


def strategy_label(name: str) -> str:
    try:
        return get_strategy(name).label
    except ZooError:
        return name


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((name for name in wanted if name in columns), None)


def derived_env_steps(config: Any) -> int | None:
    """Env steps per PPO update of a Strategy-2 run that did not log them (runs from before
    ``train/env_steps``): every update steps each of ``env.num_envs`` envs ``ppo.rollout_steps``
    times, on every process."""
    if strategy_name(OmegaConf.select(config, "strategy", default=None)) != "compressive_rl":
        return None
    steps, envs = OmegaConf.select(config, "ppo.rollout_steps"), OmegaConf.select(config, "env.num_envs")
    if steps is None or envs is None:
        return None
    ranks = 1
    if OmegaConf.select(config, "trainer.strategy", default="auto") != "auto":
        ranks = int(OmegaConf.select(config, "trainer.devices", default=1) or 1) * int(
            OmegaConf.select(config, "trainer.num_nodes", default=1) or 1)
    return int(steps) * int(envs) * ranks


def learning_curve(run_dir: Path, config: Any) -> list[dict[str, Any]]:
    """Success-rate points over the run's stages; env steps and wall time where known.

    Each stage's CSV starts at step 0 and wall time 0: stages are laid end to end.  Env steps come
    from a logged cumulative counter (``train/env_steps``); Strategy-2 runs from before it get them
    from the config (updates x rollout_steps x num_envs).  Strategy 1 logs ``rl/env_steps``: the
    browser steps its RL stage's tree search took (replays from a reset included; the steps that
    recorded its pretraining/SFT dataset are not counted).  Runs with neither have no env steps
    and the report shows ``-``.  Each point names
    the column its success came from (``metric``).
    """
    files = sorted({p.parent / "metrics.csv" for pattern in ("*/metrics.csv", "*/segment-*.csv")
                    for p in (run_dir / "csv").glob(pattern)},
                   key=lambda p: (STAGE_ORDER.index(p.parent.name) if p.parent.name in STAGE_ORDER else 99, p.parent.name))
    points: list[dict[str, Any]] = []
    step0 = wall0 = env0 = 0.0
    env_known = True  # env steps stay known only while every stage so far counted them
    for f in files:
        rows = read_metrics(f)
        cols = list(rows[0].keys()) if rows else []
        succ = _pick(cols, success_columns())
        wall_col = _pick(cols, WALL_COLUMNS)
        if succ is None:  # a stage without success (pretraining, SFT) still takes steps and time
            steps = [v for v in (number(r.get("step")) for r in rows) if v is not None]
            walls = [v for v in (number(r.get(wall_col)) for r in rows) if v is not None] if wall_col else []
            step0 += max(steps, default=-1) + 1
            wall0 += max(walls, default=0.0)
            continue
        env_col = _pick(cols, env_step_columns())
        per_update = None if env_col else derived_env_steps(config)
        env_known = env_known and (env_col is not None or per_update is not None)
        last: dict[str, Any] = {"step": step0, "wall_s": wall0, "env_steps": env0}
        for row in rows:
            s, step = number(row.get(succ)), number(row.get("step"))
            if s is None or step is None:
                continue
            p: dict[str, Any] = {"success": s, "step": step0 + step, "metric": succ}
            wall = number(row.get(wall_col)) if wall_col else None
            if wall is not None:
                p["wall_s"] = wall0 + wall
            env = number(row.get(env_col)) if env_col else ((step + 1) * per_update if per_update else None)
            if env is not None and env_known:
                p["env_steps"] = env0 + env
            points.append(p)
            last = p
        step0, wall0, env0 = last["step"] + 1, last.get("wall_s", wall0), last.get("env_steps", env0)
    return points
