"""Strategy 1: multimodal foundation model -> SFT numbered instructions -> RL with tree search.

    zoo fit strategy=foundation (alias 1) [stage=pretrain|sft|rl|all] [key=value ...]

``fit(cfg, run_dir)`` records the dataset on first use (browser episodes of the oracle and an
exploring agent), runs the requested stage(s) with ``zoo.train.trainer.make_trainer`` and, when a
policy exists, scores it on the shared benchmark (evaluation seeds) twice -- the policy alone and
the policy with value-judged MCTS (no browser, no reward at decision time: ``lookahead.py``) --
writing ``run_dir/results.json``.  Its top level is the ``"policy+search"`` result (the full
Strategy-1 agent, named by ``results["headline"]``); ``results["variants"]`` holds both,
``"policy"`` and ``"policy+search"``, each a complete ``actionzoo.bench`` result with a
``"variant"`` entry saying what decides, scored at the same checkpoint (``scoring.py``).

``load_agent(checkpoint, search=None)`` returns the agent of any stage checkpoint (search on per
``foundation.search.in_agent`` unless ``search`` says otherwise).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from strategies.foundation import plugin  # noqa: F401  (registers the strategy)
from zoo.train.distributed import global_rank
from zoo.train.scoring import scoring_tasks, training_tasks

__all__ = ["fit", "is_checkpoint", "load_agent"]


def fit(cfg: Any, run_dir: str | Path, callbacks: Sequence[Any] = ()) -> dict:
    """Run the stage(s) (``callbacks`` join every stage's Trainer), then score the final policy."""
    from strategies.foundation.stages import run_stages, write_json  # lazy: lightning; zoo config imports this package

    run_dir = Path(run_dir)
    tasks = training_tasks(cfg)
    stages = run_stages(cfg, run_dir, tasks, callbacks)
    checkpoint = stages.pop("final_checkpoint")
    if global_rank(cfg.trainer.devices) > 0:  # the other processes of a multi-process run only train; rank 0 scores
        return {"strategy": "foundation", "stages": stages}
    has_policy = any(s in stages for s in ("sft", "rl"))
    if checkpoint is None or not has_policy:
        summary = {"strategy": "foundation", "stages": stages, "note": "no policy stage run: nothing scored"}
        write_json(run_dir / "stages.json", summary)
        return summary
    results = score_checkpoint(cfg, run_dir, Path(checkpoint), scoring_tasks(cfg, tasks), extra={"stages": stages})
    return results


def score_checkpoint(cfg: Any, run_dir: str | Path, checkpoint: str | Path, tasks: list[str],
                     extra: dict | None = None) -> dict:
    """Score a policy checkpoint in every variant and write ``run_dir/results.json`` (the headline variant on
    top); the registered scoring hook (``zoo compare`` scores held-out tasks through it)."""
    from strategies.foundation.scoring import score  # lazy: lightning (through loading.py), as above
    from zoo.web.results import write_results  # lazy: torchmetrics, as above

    results = score(cfg, Path(run_dir), Path(checkpoint), tasks)
    results.update(extra or {})
    write_results(Path(run_dir) / "results.json", results)
    return results


def load_agent(checkpoint_path: str | Path, search: bool | None = None, device: str = "cpu") -> Any:
    from strategies.foundation.loading import load_agent as _load  # lazy: lightning; zoo config imports this package

    return _load(checkpoint_path, search=search, device=device)


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a Strategy-1 checkpoint or run dir (for ``zoo.train.plugin.load_agent``)."""
    from strategies.foundation.loading import is_checkpoint as _is  # lazy: lightning, as above

    return _is(path)
