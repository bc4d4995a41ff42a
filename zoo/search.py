"""``zoo search``: an Optuna study whose trials are real ``zoo fit`` runs.

Each trial samples the YAML search space (``zoo.search_space``), composes a run config
exactly like ``zoo fit`` does, trains the strategy and scores it on the benchmark; the
objective is the overall benchmark success rate (optionally with parameter count or wall
time as a second, minimised objective).

Resuming and parallel workers: the study lives in a storage (SQLite file by default, any
SQLAlchemy RDB URL, or a ``.log`` journal file) and is opened with ``load_if_exists``, so
re-running the same command continues it until it holds ``trials`` finished trials, and
several processes pointed at the same storage share the work.  A trial left RUNNING by a
killed worker on this host is marked FAIL and its parameters queued again; on RDB storages
a heartbeat does the same for workers on other hosts.
"""
from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zoo.config import load_plugins
from zoo.core.checkpoints import load_checkpoint
from zoo.core.errors import ZooError, unknown
from zoo.core.procs import pid_alive
from zoo.fitting import fit_run
from zoo.search_results import best_trial, public_url, write_best, write_summary
from zoo.search_space import SearchSpace, load_space
from zoo.train.plugin import resolve_strategy_name
from zoo.train.runs import last_checkpoint

OBJECTIVES = {  # name -> (directions, second measure)
    "success": (["maximize"], None),
    "success+params": (["maximize", "minimize"], "params"),
    "success+time": (["maximize", "minimize"], "time_s"),
}
PRUNERS = ("median", "percentile", "hyperband", "none")
JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
FINISHED = ("COMPLETE", "PRUNED")
MAX_FAILURES_IN_A_ROW = 3

# objective(trial, space, overrides) -> outcome {"success": float, "params": int, "time_s": float, ...}
TrialObjective = Callable[[Any, SearchSpace, list[str]], dict]


class TrialFailed(RuntimeError):
    """A trial's training crashed (not a user error): recorded as FAIL, the study goes on."""


class SurplusTrial(RuntimeError):
    """Parallel workers started one trial more than the study needs: given up before it trained."""


SURPLUS_ATTR = "surplus"  # user attr of a trial given up that way; left out of study.json


# ---------------------------------------------------------------- storage and study
def open_storage(spec: str | None, out: Path) -> Any:
    """SQLite path/URL (default ``<out>/optuna.db``), any RDB URL, or a journal file."""
    import optuna

    spec = spec or str(out / "optuna.db")
    if "://" in spec:
        url = spec
    elif spec.endswith(JOURNAL_SUFFIXES):
        from optuna.storages.journal import JournalFileBackend

        Path(spec).parent.mkdir(parents=True, exist_ok=True)
        try:  # the journal is replayed here: a file that is not one fails now, in one line
            return optuna.storages.JournalStorage(JournalFileBackend(spec))
        except Exception as err:  # noqa: BLE001 - JSONDecodeError, a binary file, a permission error
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ZooError(f"cannot open storage '{spec}': not a readable Optuna journal ({first[:160]})") from None
    elif spec.endswith(SQLITE_SUFFIXES):
        Path(spec).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(spec).resolve()}"
    else:
        raise ZooError(f"bad storage '{spec}': give a SQLite file (*.db), an RDB URL (sqlite:///..., "
                       f"postgresql://...) or a journal file (*.log)")
    # sqlite: wait for the lock instead of failing when parallel workers write at once
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental; they work as documented
                warnings.simplefilter("ignore")
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine, heartbeat_interval=60, grace_period=240,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except Exception as err:  # noqa: BLE001 - driver missing, bad URL, unreachable server
            # parallel workers creating the same schema at once: a table or the alembic version
            # row another worker just wrote ("UNIQUE constraint failed"); the retry finds them made
            racing = ("already exists", "locked", "UNIQUE constraint failed", "IntegrityError")
            if attempt < 3 and any(r in str(err) for r in racing):
                time.sleep(0.5 + attempt)  # parallel workers creating the same tables at once
                continue
            raise ZooError(f"cannot open storage '{public_url(url)}': {str(err).splitlines()[0]}") from None
    raise AssertionError("unreachable")


def make_pruner(name: str) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=2, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise unknown("pruner", name, PRUNERS)


def study_name(cfg: DictConfig, space: SearchSpace) -> str:
    return str(cfg.study or f"{cfg.strategy}-{space.path.stem}")


def open_study(cfg: DictConfig, space: SearchSpace, name: str) -> Any:
    import optuna

    directions = OBJECTIVES[cfg.objective][0]
    storage = open_storage(cfg.storage, Path(cfg.out))
    # sampler seed moves on with the study so a resumed study does not replay its first samples
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is not None and [d.name.lower() for d in existing.directions] != directions:
        raise ZooError(f"study '{name}' was created with objective directions "
                       f"{[d.name.lower() for d in existing.directions]}; use another study= name for objective={cfg.objective}")
    n_before = len(existing.trials) if existing is not None else 0
    sampler = optuna.samplers.TPESampler(seed=int(cfg.seed) + n_before, n_startup_trials=4)
    for attempt in range(4):  # parallel workers may race to create the study
        try:
            study = optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                        pruner=make_pruner(cfg.pruner), load_if_exists=True)
            break
        except Exception:  # noqa: BLE001 - DuplicatedStudyError / IntegrityError from the race
            if attempt == 3:
                raise
            time.sleep(0.5 + attempt)
    if study.user_attrs.get("space") not in (None, space.path.name):
        raise ZooError(f"study '{name}' was created with space {study.user_attrs['space']}; "
                       f"use another study= name for space={space.path}")
    study.set_user_attr("space", space.path.name)
    study.set_user_attr("strategy", str(cfg.strategy))
    study.set_user_attr("objective", str(cfg.objective))
    study.set_user_attr("metric", space.metric)
    return study


def recover_killed_trials(study: Any) -> list[int]:
    """Trials RUNNING for a dead worker process of this host: mark FAIL, queue their params again."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    recovered = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or pid_alive(pid):
            continue
        study._storage.set_trial_user_attr(t._trial_id, "error", "worker process was killed")
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if not t.user_attrs.get("retry_of"):
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        recovered.append(t.number)
    return recovered


def finished_count(study: Any) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in FINISHED)


def _not_surplus(record: Any) -> bool:
    return SurplusTrial.__name__ not in record.getMessage()


def quiet_surplus_trials() -> None:
    """Optuna logs a caught exception as a failed trial; a surplus trial is not one."""
    import logging

    logger = logging.getLogger("optuna.study._optimize")
    if _not_surplus not in logger.filters:
        logger.addFilter(_not_surplus)


def running_count(study: Any) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING")


def trials_ahead(study: Any, number: int) -> int:
    """Finished or running trials numbered below ``number``.  The storage numbers trials in the order it
    created them, so of two workers that checked the count at the same moment and both started a trial,
    the later one sees the earlier one here and gives up: the study never trains more than ``trials``."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.number < number and (t.state.name in FINISHED or t.state.name == "RUNNING"))


# ---------------------------------------------------------------- the real objective
def make_pruning_callback(trial: Any, metric: str, mode: str = "max") -> Any:
    """A Lightning callback reporting ``metric`` to the trial; raises ``TrialPruned`` to stop it.

    The study maximises success, so a ``min`` metric (a loss) is reported negated: the pruner
    then compares every trial's intermediate values in the study's own direction."""
    sign = -1.0 if mode == "min" else 1.0
    import optuna
    from lightning.pytorch.callbacks import Callback

    class OptunaPruning(Callback):
        def __init__(self) -> None:
            self.base = 0  # strategy 1 fits several stages; steps keep increasing across them
            self.last = -1
            self.enabled = len(trial.study.directions) == 1  # Optuna prunes single-objective studies only

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            self.base = self.last + 1

        def _check(self, trainer: Any, validation: bool = False) -> None:
            if not self.enabled or trainer.world_size > 1 or trainer.sanity_checking:
                return
            if metric.startswith("val/") and not validation:
                return  # a validation metric is fresh only right after a validation run
            value = trainer.callback_metrics.get(metric)
            step = self.base + int(trainer.global_step)
            if value is None or step <= self.last:
                return
            self.last = step
            trial.report(sign * float(value), step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{metric}={float(value):.4f} at step {step}")

        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            self._check(trainer)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            self._check(trainer, validation=True)

    return OptunaPruning()


def count_params(results: dict, run_dir: Path) -> int:
    """Trainable parameters of the trained model: from the results, else summed from the checkpoint."""
    for holder in (results, results.get("model") or {}):
        if isinstance(holder, dict) and isinstance(holder.get("params"), int):
            return int(holder["params"])

    ckpt = last_checkpoint(run_dir)
    if ckpt is None:
        return 0
    state = load_checkpoint(ckpt).get("state_dict", {})
    return int(sum(v.numel() for v in state.values() if hasattr(v, "is_floating_point") and v.is_floating_point()))


def overall_success(results: Any) -> float:
    """results["overall"]["success_rate"]: a number, or the ``{"mean", "ci95"}`` statistic of
    ``actionzoo.bench/1`` results (zoo/web/results.py)."""
    if isinstance(results, dict):
        rate = (results.get("overall") or {}).get("success_rate")
        if isinstance(rate, dict):
            rate = rate.get("mean")
        if isinstance(rate, (int, float)):
            return float(rate)
    raise TrialFailed("the strategy's fit() returned no results['overall']['success_rate']")


def fit_objective(trial: Any, space: SearchSpace, overrides: list[str]) -> dict:
    """Train and score one trial through the same path as ``zoo fit`` (zoo.fitting.fit_run)."""
    start = time.perf_counter()
    run = fit_run(overrides, callbacks=[make_pruning_callback(trial, space.metric, space.metric_mode)],
                  on_run_dir=lambda cfg, run_dir: trial.set_user_attr("run_dir", str(run_dir)))
    elapsed = time.perf_counter() - start
    return {"success": overall_success(run.results), "time_s": elapsed, "params": count_params(run.results, run.run_dir),
            "run_dir": str(run.run_dir)}


# ---------------------------------------------------------------- running a study
def trial_overrides(cfg: DictConfig, space: SearchSpace, values: dict, name: str, number: int) -> list[str]:
    run_root = Path(cfg.run_root) / "search" / name
    return [f"strategy={cfg.strategy}", *cfg.overrides, *space.overrides(values),
            f"run_root={run_root}", f"name=t{number:04d}"]


def _objective(cfg: DictConfig, space: SearchSpace, name: str, objective: TrialObjective, log: Any) -> Callable:
    import optuna

    second = OBJECTIVES[cfg.objective][1]
    target = int(cfg.trials)

    def run(trial: Any) -> Any:
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        if trials_ahead(trial.study, trial.number) >= target:
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrial(f"the study already has {target} finished or running trials")
        values = space.sample(trial)
        overrides = trial_overrides(cfg, space, values, name, trial.number)
        trial.set_user_attr("overrides", overrides)
        try:
            outcome = objective(trial, space, overrides)
        except (ZooError, optuna.TrialPruned, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001 - a crashed trial is recorded, the study goes on
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            log(f"[red]trial {trial.number} failed[/]: {type(err).__name__}: {err}")
            raise TrialFailed(str(err)) from err
        for k in ("success", "time_s", "params", "run_dir"):
            if k in outcome:
                trial.set_user_attr(k, outcome[k])
        success = float(outcome["success"])
        return success if second is None else (success, float(outcome[second]))

    return run


def run_study(cfg: DictConfig, objective: TrialObjective | None = None) -> dict:
    """Run (or continue) the study until it holds ``cfg.trials`` finished trials; return the summary."""
    import optuna
    from rich.console import Console

    if cfg.objective not in OBJECTIVES:
        raise unknown("objective", cfg.objective, OBJECTIVES)
    if cfg.pruner not in PRUNERS:
        raise unknown("pruner", cfg.pruner, PRUNERS)
    if int(cfg.trials) < 1:
        raise ZooError(f"bad value for 'trials': {cfg.trials} (must be >= 1)")

    load_plugins()
    cfg.strategy = resolve_strategy_name(cfg.strategy)
    space = load_space(str(cfg.space or f"configs/search/{cfg.strategy}.yaml"), str(cfg.strategy))
    console = Console(stderr=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quiet_surplus_trials()
    name = study_name(cfg, space)
    study = open_study(cfg, space, name)
    out_dir = Path(cfg.out) / name
    recovered = recover_killed_trials(study)
    if recovered:
        console.print(f"[yellow]trials {recovered} were left running by a killed worker: marked failed, queued again")
    target = int(cfg.trials)
    deadline = time.monotonic() + float(cfg.timeout_min) * 60 if cfg.timeout_min else None
    run = _objective(cfg, space, name, objective or fit_objective, console.print)
    failures = 0
    console.print(f"[bold]zoo search[/] study={name} storage={public_url(str(cfg.storage or Path(cfg.out) / 'optuna.db'))} "
                  f"finished={finished_count(study)}/{target}")
    waiting = False
    while finished_count(study) < target and (deadline is None or time.monotonic() < deadline):
        running = running_count(study)
        if finished_count(study) + running >= target:  # the rest is running in other workers
            if not waiting:
                console.print(f"waiting for {running} trial(s) running in other workers")
                waiting = True
            time.sleep(0.5)
            recover_killed_trials(study)  # one of them may die: its parameters are queued again
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # fail_stale_trials is marked experimental
                optuna.storages.fail_stale_trials(study)  # or stop its heartbeat on another host
            continue
        waiting = False
        study.optimize(run, n_trials=1, catch=(TrialFailed, SurplusTrial))
        mine = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("pid") == os.getpid()]
        last = mine[-1] if mine else None
        if last is not None and last.user_attrs.get(SURPLUS_ATTR):
            continue  # another worker took the last trial first: not a failure
        failures = failures + 1 if last is not None and last.state.name == "FAIL" else 0
        write_summary(study, cfg, space, out_dir)
        if last is not None:
            best = best_trial(study)
            shown = f"{last.values[0]:.3f}" if last.state.name == "COMPLETE" else last.state.name.lower()
            console.print(f"trial {last.number}: {shown}  [{finished_count(study)}/{target} finished]"
                          + (f"  best #{best.number} = {best.values[0]:.3f}" if best else ""))
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise ZooError(f"{failures} trials in a row failed; last error: {last.user_attrs.get('error', '?')}")
    summary = write_summary(study, cfg, space, out_dir, importance=True)
    best_path = write_best(study, cfg, out_dir)
    summary["best_config"] = str(best_path) if best_path else None
    return summary


def main(cfg: DictConfig) -> dict:
    """Entry point of ``zoo search`` (cfg: ``zoo.schema.tools.StudyConfig``)."""
    from rich.console import Console
    from rich.table import Table

    summary = run_study(cfg)
    table = Table(title=f"study {summary['study']}", title_justify="left")
    for col in ("trial", "state", *summary["directions_labels"], "params"):
        table.add_column(col)
    for t in summary["trials"]:
        vals = [f"{v:.4g}" for v in (t["values"] or [])] or ["-"] * len(summary["directions_labels"])
        table.add_row(str(t["number"]), t["state"].lower(), *vals,
                      ", ".join(f"{k}={v}" for k, v in t["params"].items()))
    console = Console()
    console.print(table)
    if summary.get("best_config"):
        console.print(f"best config -> {summary['best_config']}  (zoo fit strategy={cfg.strategy} "
                      f"config={summary['best_config']})")
    return summary
