"""Search spaces for ``zoo search``, declared in YAML (``configs/search/*.yaml``).

Format (every top-level key is optional except ``params``)::

    strategy: compressive_rl         # the strategy this space is for (checked against strategy=)
    metric: train/success_rate       # logged Lightning metric reported to the pruner
    metric_mode: max                 # max: higher is better (success); min: lower is (a loss)
    fixed:                           # overrides applied to every trial (make trials fast)
      trainer.max_steps: 20
    params:                          # dotted run-config key -> distribution
      model.attention: {type: categorical, choices: [xl, infini, dense]}
      model.attention.mem_len: {type: int, low: 16, high: 128, step: 16, when: {model.attention: xl}}
      ppo.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}

Types: ``categorical`` (``choices``), ``float`` (``low``, ``high``, optional ``log`` or ``step``) and
``int`` (``low``, ``high``, optional ``step`` or ``log``).  ``when`` makes a parameter conditional:
it is only sampled when every named parameter took one of the given values (a value or a list).
A key naming a config group (``model.attention``) takes the group's file names as choices.

Everything is checked when the file is loaded, before any trial runs: a bad space raises one
``ZooError`` line naming the file, the parameter and what is wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zoo.config import (GROUPS, apply_overrides, check_key, group_choices, load_plugins, load_yaml, schema_of,
                        split_overrides)
from zoo.core.errors import ZooError, unknown
from zoo.core.paths import CONFIG_DIR
from zoo.train.plugin import resolve_strategy_name

PARAM_TYPES = ("categorical", "float", "int")
TOP_KEYS = ("strategy", "metric", "metric_mode", "fixed", "params", "description")
METRIC_MODES = ("max", "min")
PARAM_KEYS = {
    "categorical": {"type", "choices", "when"},
    "float": {"type", "low", "high", "log", "step", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
}
DEFAULT_METRIC = "train/success_rate"


@dataclass
class Param:
    """One searched config key and its distribution."""

    key: str
    type: str
    choices: list[Any] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    when: dict[str, list[Any]] = field(default_factory=dict)

    def active(self, values: dict[str, Any]) -> bool:
        """Whether the condition holds for the values sampled so far (parents come first)."""
        return all(k in values and values[k] in allowed for k, allowed in self.when.items())

    def sample(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, self.choices)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


@dataclass
class SearchSpace:
    path: Path
    params: list[Param]
    fixed: dict[str, Any] = field(default_factory=dict)
    metric: str = DEFAULT_METRIC
    metric_mode: str = "max"
    strategy: str | None = None
    description: str = ""

    def sample(self, trial: Any) -> dict[str, Any]:
        """Define-by-run sampling: parameters in file order, conditional ones only when active."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.active(values):
                values[p.key] = p.sample(trial)
        return values

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """``key=value`` overrides for ``zoo.config.compose``: fixed first, then sampled values;
        group selections (``model.attention=xl``) go before the fields they contain."""
        merged = {**self.fixed, **values}
        items = [f"{k}={format_value(v)}" for k, v in merged.items()]
        return sorted(items, key=lambda o: o.split("=", 1)[0].count("."))  # stable: parents before children


def format_value(value: Any) -> str:
    """A value as the CLI dotlist parser reads it back with its type (floats keep their exponent)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def resolve_space_path(space: str) -> Path:
    """``space=`` accepts a path or the stem of a file in ``configs/search/``."""
    p = Path(space)
    if p.is_file():
        return p
    folder = CONFIG_DIR / "search"
    named = folder / f"{p.stem if p.suffix in ('.yaml', '.yml') else space}.yaml"
    if named.is_file() and (p.parent == Path(".") or p.parent == folder or not p.parent.exists()):
        return named
    choices = sorted(q.stem for q in folder.glob("*.yaml"))
    raise unknown("search space", space, choices)


def _bad(path: Path, msg: str) -> ZooError:
    return ZooError(f"bad search space {path}: {msg}")


def _number(path: Path, key: str, spec: dict, name: str) -> float:
    if name not in spec:
        raise _bad(path, f"parameter '{key}' needs '{name}'")
    v = spec[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(path, f"parameter '{key}': '{name}' must be a number, got {v!r}")
    return float(v)


def _parse_param(path: Path, key: str, spec: Any, schema: DictConfig) -> Param:
    try:
        check_key(schema, key)
    except ZooError as err:
        raise _bad(path, str(err)) from None
    if isinstance(spec, (list, tuple)):  # shorthand: a plain list means categorical choices
        spec = {"type": "categorical", "choices": list(spec)}
    if not isinstance(spec, dict):
        raise _bad(path, f"parameter '{key}' must be a mapping like {{type: float, low: 0.1, high: 1}}")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise _bad(path, f"parameter '{key}': {unknown('type', kind, PARAM_TYPES)}")
    extra = sorted(set(spec) - PARAM_KEYS[kind])
    if extra:
        raise _bad(path, f"parameter '{key}': unknown field '{extra[0]}' for type {kind}; "
                         f"valid fields: {', '.join(sorted(PARAM_KEYS[kind]))}")
    p = Param(key=key, type=kind)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _bad(path, f"parameter '{key}' needs a non-empty 'choices' list")
        if key in GROUPS:
            valid = group_choices(GROUPS[key])
            for c in choices:
                if c not in valid:
                    raise _bad(path, f"parameter '{key}': {unknown('choice', c, valid)}")
        elif isinstance(OmegaConf.select(schema, key), DictConfig):
            raise _bad(path, f"parameter '{key}' is a config section, not a value")
        p.choices = choices
        return p
    p.low, p.high = _number(path, key, spec, "low"), _number(path, key, spec, "high")
    if p.low >= p.high:
        raise _bad(path, f"parameter '{key}': low ({p.low:g}) must be below high ({p.high:g})")
    p.log = bool(spec.get("log", False))
    if "step" in spec:
        p.step = _number(path, key, spec, "step")
        if p.step <= 0:
            raise _bad(path, f"parameter '{key}': step must be > 0")
        if p.log:
            raise _bad(path, f"parameter '{key}': 'step' and 'log: true' cannot be combined")
    if p.log and p.low <= 0:
        raise _bad(path, f"parameter '{key}': log scale needs low > 0, got {p.low:g}")
    if kind == "int" and (p.low != int(p.low) or p.high != int(p.high)):
        raise _bad(path, f"parameter '{key}': int bounds must be whole numbers")
    return p


def _parse_when(path: Path, p: Param, when: Any, earlier: dict[str, Param]) -> dict[str, list[Any]]:
    if not isinstance(when, dict) or not when:
        raise _bad(path, f"parameter '{p.key}': 'when' must map earlier parameters to values")
    out: dict[str, list[Any]] = {}
    for k, allowed in when.items():
        if k not in earlier:
            raise _bad(path, f"parameter '{p.key}': 'when' names '{k}', which is not a parameter listed before it; "
                             f"earlier parameters: {', '.join(earlier) or '(none)'}")
        allowed = list(allowed) if isinstance(allowed, list) else [allowed]
        parent = earlier[k]
        if parent.type == "categorical":
            for v in allowed:
                if v not in parent.choices:
                    raise _bad(path, f"parameter '{p.key}': 'when' value {v!r} for '{k}' is not among its choices")
        out[k] = allowed
    return out


def load_space(space: str, strategy: str) -> SearchSpace:
    """Read and check a search space file for ``strategy``; raises a one-line ``ZooError``."""
    load_plugins()
    strategy = resolve_strategy_name(strategy)

    path = resolve_space_path(space)
    data = OmegaConf.to_container(load_yaml(path, "search space"), resolve=True)
    assert isinstance(data, dict)
    for k in data:
        if k not in TOP_KEYS:
            raise _bad(path, f"{unknown('top-level key', k, TOP_KEYS)}")
    if data.get("strategy") is not None and resolve_strategy_name(data["strategy"]) != strategy:
        raise _bad(path, f"it is for strategy={data['strategy']}, but the study runs strategy={strategy}")
    schema = schema_of(strategy)
    params_raw = data.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        raise _bad(path, "'params' must map at least one config key to a distribution")
    params: list[Param] = []
    seen: dict[str, Param] = {}
    for key, spec in params_raw.items():
        when = spec.get("when") if isinstance(spec, dict) else None
        p = _parse_param(path, str(key), spec, schema)
        if when is not None:
            p.when = _parse_when(path, p, when, seen)
        params.append(p)
        seen[p.key] = p
    fixed_raw = data.get("fixed") or {}
    if not isinstance(fixed_raw, dict):
        raise _bad(path, "'fixed' must map config keys to values")
    fixed = {str(k): v for k, v in fixed_raw.items()}
    for k in fixed:
        if k in seen:
            raise _bad(path, f"'{k}' is both fixed and searched")
    metric = data.get("metric", DEFAULT_METRIC)
    if not isinstance(metric, str) or not metric:
        raise _bad(path, "'metric' must be the name of a logged metric, e.g. train/success_rate")
    mode = data.get("metric_mode", "max")
    if mode not in METRIC_MODES:
        raise _bad(path, f"{unknown('metric_mode', mode, METRIC_MODES)}")
    space_obj = SearchSpace(path=path, params=params, fixed=fixed, metric=metric, metric_mode=mode,
                            strategy=strategy, description=str(data.get("description", "")))
    # every fixed value and every first choice must compose into a valid config (types, groups)
    probe = {p.key: p.choices[0] if p.type == "categorical" else int(p.low) if p.type == "int" else p.low
             for p in params}
    try:
        apply_overrides(schema.copy(), schema, split_overrides(space_obj.overrides(probe)))
    except ZooError as err:
        raise _bad(path, str(err)) from None
    return space_obj
