"""What ``zoo search`` writes beside the storage: ``<out>/<study>/study.json`` and ``best.yaml``.

``study.json`` (schema ``actionzoo.study/1``) is rewritten after every trial, so ``zoo report``
can plot a study's history and parameter importance without opening the Optuna storage.
``best.yaml`` is the fully composed run config of the best trial, loadable as
``zoo fit strategy=NAME config=<out>/<study>/best.yaml``.
"""
from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zoo.config import compose
from zoo.core.io import atomic_write_json, atomic_write_text

SCHEMA = "actionzoo.study/1"
SECOND = {"success": None, "success+params": "params", "success+time": "time_s"}
RUN_ONLY_KEYS = ("name", "run_root", "resume")  # where a trial ran, not how it was configured


def public_url(spec: str) -> str:
    """The storage as it may be printed and written to reports (no password)."""
    if "://" not in spec:
        return spec
    try:
        from sqlalchemy.engine import make_url

        return make_url(spec).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return spec.split("://")[0] + "://..."


def best_trial(study: Any) -> Any:
    """Single objective: the best trial.  Two objectives: the Pareto trial with the highest success,
    ties broken by the smaller second objective."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.values]
    if not complete:
        return None
    if len(study.directions) == 1:
        return study.best_trial
    return max(study.best_trials, key=lambda t: (t.values[0], -t.values[1]))


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _trial_record(t: Any) -> dict:
    return {
        "number": t.number,
        "state": t.state.name,
        "values": [_clean(v) for v in t.values] if t.values else None,
        "params": dict(t.params),
        "duration_s": t.duration.total_seconds() if t.duration else None,
        "start": t.datetime_start.isoformat() if t.datetime_start else None,
        "run_dir": t.user_attrs.get("run_dir"),
        "n_params": t.user_attrs.get("params"),
        "time_s": t.user_attrs.get("time_s"),
        "error": t.user_attrs.get("error"),
        "intermediate": {str(k): _clean(v) for k, v in sorted(t.intermediate_values.items())},
    }


def param_importance(study: Any) -> dict[str, float]:
    """Importance of each parameter for the success objective by Optuna's default evaluator
    (PED-ANOVA in Optuna 5; needs no scikit-learn); {} with too few trials."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    try:
        with warnings.catch_warnings():  # "few trials in a regime" is expected of short studies
            warnings.simplefilter("ignore")
            # the evaluator ranks parameters by how they lead to LOW targets: negate the success
            found = optuna.importance.get_param_importances(study, target=lambda t: -t.values[0])
        return {k: float(v) for k, v in found.items()}
    except (ValueError, RuntimeError, ZeroDivisionError, ImportError):  # e.g. every trial had the same parameters
        return {}


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_json(path, data)  # parallel workers and killed workers never leave half a file


def write_summary(study: Any, cfg: DictConfig, space: Any, out_dir: Path, importance: bool = False) -> dict:

    labels = ["success"] + ([SECOND[cfg.objective]] if SECOND.get(cfg.objective) else [])
    path = Path(out_dir) / "study.json"
    old_importance = {}
    if not importance and path.is_file():  # keep the last computed importance between trials
        try:
            old_importance = json.loads(path.read_text()).get("importance", {})
        except (OSError, ValueError):
            old_importance = {}
    best = best_trial(study)
    summary = {
        "schema": SCHEMA,
        "study": study.study_name,
        "strategy": str(cfg.strategy),
        "storage": public_url(str(cfg.storage)) if cfg.storage else str(Path(cfg.out) / "optuna.db"),
        "space": str(space.path),
        "metric": space.metric,
        "objective": str(cfg.objective),
        "directions": [d.name.lower() for d in study.directions],
        "directions_labels": labels,
        "target_trials": int(cfg.trials),
        # a trial a parallel worker gave up before training (zoo.search.SurplusTrial) is no result
        "trials": [_trial_record(t) for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")],
        "best": _trial_record(best) if best else None,
        "importance": param_importance(study) if importance else old_importance,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_json_atomic(path, summary)
    return summary


def best_config(overrides: list[str]) -> DictConfig:
    """The run config a trial trained with, minus where it ran."""
    cfg = compose(overrides, validate_choices=False)
    container = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(container, dict)
    for key in RUN_ONLY_KEYS:
        container.pop(key, None)
    return OmegaConf.create(container)


def write_best(study: Any, cfg: DictConfig, out_dir: Path) -> Path | None:
    best = best_trial(study)
    if best is None or "overrides" not in best.user_attrs:
        return None
    path = Path(out_dir) / "best.yaml"
    values = ", ".join(f"{v:.4g}" for v in best.values)
    header = (
        f"# Best trial #{best.number} of study '{study.study_name}' ({cfg.objective} = {values}).\n"
        f"# Train it longer with: zoo fit strategy={cfg.strategy} config={path} trainer.max_steps=...\n"
        + "".join(f"#   {k} = {v}\n" for k, v in best.params.items())
    )
    return atomic_write_text(path, header + OmegaConf.to_yaml(best_config(list(best.user_attrs["overrides"]))))
