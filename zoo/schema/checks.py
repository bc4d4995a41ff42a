"""Value ranges declared on the config dataclasses themselves, checked once when a config is composed.

A field declares its bounds in its metadata: ``field(default=1, metadata=at_least(1))``, ``greater_than(0)``,
``one_of(...)``; ``check_values(schema_cls, cfg)`` walks the dataclass tree and raises one line for the
first value out of range, naming the key, the value and what is allowed.  ``None`` is allowed wherever
the field's default is ``None`` (an optional setting left unset).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from zoo.core.errors import ZooError, unknown


def at_least(lo: float) -> dict[str, Any]:
    return {"min": lo}


def greater_than(lo: float) -> dict[str, Any]:
    return {"gt": lo}


def between(lo: float, hi: float) -> dict[str, Any]:
    return {"min": lo, "max": hi}


def one_of(*choices: Any) -> dict[str, Any]:
    return {"choices": tuple(choices)}


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ZooError(f"bad value for '{key}': {value!r} (must be a number)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ZooError(f"bad value for '{key}': {value} (must be finite)")
    return float(value)


def check_field(key: str, value: Any, meta: dict[str, Any]) -> None:
    if "choices" in meta and value not in meta["choices"]:
        raise unknown(f"value for '{key}'", value, meta["choices"])
    if "min" in meta and _number(key, value) < meta["min"]:
        raise ZooError(f"bad value for '{key}': {value} (must be >= {meta['min']:g})")
    if "gt" in meta and _number(key, value) <= meta["gt"]:
        raise ZooError(f"bad value for '{key}': {value} (must be > {meta['gt']:g})")
    if "max" in meta and _number(key, value) > meta["max"]:
        raise ZooError(f"bad value for '{key}': {value} (must be <= {meta['max']:g})")


def _nested_schema(f: dataclasses.Field) -> type | None:
    """The dataclass a field nests, also when its default is built by a lambda (``lambda: StageConfig(
    lr=3e-4)``: a factory that is not the class itself), so its ranges are checked too."""
    factory = f.default_factory  # type: ignore[misc]
    if factory is dataclasses.MISSING:
        return None
    if isinstance(factory, type):
        return factory if dataclasses.is_dataclass(factory) else None
    made = factory()
    return type(made) if dataclasses.is_dataclass(made) else None


def check_values(schema_cls: type, cfg: Any, prefix: str = "") -> None:
    """Check every field of ``cfg`` (a DictConfig or dataclass instance) that declares a range."""
    for f in dataclasses.fields(schema_cls):
        key = f"{prefix}{f.name}"
        value = getattr(cfg, f.name, None) if not hasattr(cfg, "get") else cfg.get(f.name)
        sub = _nested_schema(f)
        if sub is not None and value is not None:
            check_values(sub, value, key + ".")
            continue
        if not f.metadata or (value is None and f.default is None):
            continue
        check_field(key, value, dict(f.metadata))
