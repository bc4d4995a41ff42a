"""Strategies are plug-ins: each registers one ``Strategy`` in the ``strategy`` registry family, and the
app (``zoo fit / config / list / search / report``) reads everything it needs from that entry.

A new strategy is a package that calls ``register_strategy(Strategy(...))`` when imported (every
sub-package of ``strategies/`` is imported by the app; others are named in ``ZOO_PLUGINS``), plus its
YAML layer under ``configs/strategy/<name>.yaml``.  Nothing else in the zoo lists strategies.

``fit`` and ``load_agent`` are given as ``"module:attribute"`` strings and imported on first use, so
registering a strategy (what ``zoo list`` and ``zoo config`` need) does not import torch or Lightning.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.core.checkpoints import checkpoint_exists, read_checkpoint_meta
from zoo.core.errors import ZooError, unknown
from zoo.core.registry import family
from zoo.train.scoring import score_agent

_REGISTRY = family("strategy")


@dataclass(frozen=True)
class Strategy:
    """name: registry name (also the run folder ``runs/<name>/``).  label: how reports and tables show it.
    config: the run config dataclass (a subclass of ``zoo.schema.run.RunConfig``).
    fit: ``"module:function"``, ``fit(cfg, run_dir, callbacks) -> results dict`` (trains, then scores
    through ``zoo.train.scoring.score_checkpoint``).  load_agent: ``"module:function"``,
    ``load_agent(checkpoint) -> Agent`` for ``zoo bench agent=checkpoint``.
    aliases: other names accepted for ``strategy=`` (``1`` / ``2`` for the two built-in ones).
    score: optional ``"module:function"``, ``score(cfg, run_dir, checkpoint, tasks) -> results`` writing
    ``run_dir/results.json`` (how the strategy scores a checkpoint, every variant of it; ``zoo compare``
    scores held-out tasks with it); without it the agent from ``load_agent`` is scored once.
    finetune: optional ``"module:function"``, ``finetune(cfg, run_dir, init_checkpoint, tasks, demos_per_task)
    -> results``: few-shot adaptation; starting from ``init_checkpoint`` (trained on other tasks), a short
    training on ``demos_per_task`` recorded demonstrations of each of ``tasks`` (training seeds), then scoring on
    ``tasks`` (evaluation seeds) into ``run_dir/results.json``; ``cfg`` is the composed config of that run.
    budget: optional ``budget(cfg, demos_per_task, env_steps) -> overrides``: the strategy's settings that
    give it ``demos_per_task`` recorded demonstrations per training task and about ``env_steps`` training
    env steps (``zoo compare``'s equal budgets).
    check: optional ``check(cfg)`` of strategy-specific values, run when the config is composed, before
    any run directory exists.  success_columns / env_steps_columns: the CSV metric columns its learning
    curves read (success rate, cumulative env steps), best first.  description: one line for ``zoo list``.
    """

    name: str
    label: str
    config: type
    fit: str
    load_agent: str
    aliases: tuple[str, ...] = ()
    score: str | None = None
    finetune: str | None = None
    budget: Callable[[Any, int, int], list[str]] | None = None
    check: Callable[[Any], None] | None = None
    success_columns: tuple[str, ...] = ()
    env_steps_columns: tuple[str, ...] = ()
    description: str = ""

    def _resolve(self, target: str) -> Callable[..., Any]:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def run_fit(self, cfg: Any, run_dir: Path, callbacks: Sequence[Any] = ()) -> dict:
        return self._resolve(self.fit)(cfg, Path(run_dir), list(callbacks))

    def make_agent(self, checkpoint: str | Path) -> Any:
        return self._resolve(self.load_agent)(checkpoint)

    def run_finetune(self, cfg: Any, run_dir: Path, init_checkpoint: str | Path, tasks: list[str],
                     demos_per_task: int) -> dict:
        if self.finetune is None:
            raise ZooError(f"strategy '{self.name}' registers no few-shot fine-tuning (finetune=)")
        return self._resolve(self.finetune)(cfg, Path(run_dir), Path(init_checkpoint), list(tasks), int(demos_per_task))

    def score_checkpoint(self, cfg: Any, run_dir: Path, checkpoint: str | Path, tasks: list[str]) -> dict:
        if self.score is not None:
            return self._resolve(self.score)(cfg, Path(run_dir), Path(checkpoint), list(tasks))

        return score_agent(cfg, self.make_agent(checkpoint), list(tasks), Path(run_dir), agent_name=self.name,
                           results_name="results", run_info={"checkpoint": str(checkpoint)})


def register_strategy(spec: Strategy) -> Strategy:
    _REGISTRY.register(spec.name, doc=spec.description or spec.label)(lambda spec=spec: spec)
    return spec


def strategy_names() -> list[str]:
    return _REGISTRY.names()


def _aliases() -> dict[str, str]:
    out = {}
    for name in _REGISTRY.names():
        for alias in get_strategy(name).aliases:
            out[alias] = name
    return out


def resolve_strategy_name(name: Any) -> str:
    """The registered name for a name or alias (``1`` -> ``foundation``); one-line error otherwise."""
    key = str(name).strip()
    if key in _REGISTRY:
        return key
    aliases = _aliases()
    if key in aliases:
        return aliases[key]
    raise unknown("strategy", key, sorted(set(_REGISTRY.names()) | set(aliases)))


def get_strategy(name: Any) -> Strategy:
    key = str(name).strip()
    if key not in _REGISTRY:
        key = resolve_strategy_name(key)
    return _REGISTRY.get(key)()


def strategy_of_checkpoint(path: str | Path) -> Strategy:
    """The strategy that trained a checkpoint: ``hyper_parameters["strategy"]`` (or ``["cfg"]["strategy"]``),
    else the ``config.yaml`` of the run directory it sits in."""
    meta = read_checkpoint_meta(path)
    hp = meta.get("hyper_parameters", {}) if isinstance(meta, dict) else {}
    name = hp.get("strategy")
    if name is None and isinstance(hp.get("cfg"), dict):
        name = hp["cfg"].get("strategy")
    if name is None:
        for parent in Path(path).resolve().parents:
            if (parent / "config.yaml").is_file():
                from omegaconf import OmegaConf

                name = OmegaConf.load(parent / "config.yaml").get("strategy")
                break
    if name is None:
        raise ZooError(f"cannot tell which strategy trained {path}: no 'strategy' in its hyper_parameters or run config.yaml")
    return get_strategy(name)


def load_agent(path: str | Path) -> Any:
    """A benchmark ``Agent`` from any registered strategy's checkpoint."""
    p = Path(path)
    if not checkpoint_exists(p):
        raise ZooError(f"checkpoint not found: {p}")
    return strategy_of_checkpoint(p).make_agent(p)
