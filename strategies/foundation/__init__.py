"""Strategy 1: multimodal foundation model -> SFT numbered instructions -> RL with tree search.

    zoo fit strategy=1 [stage=pretrain|sft|rl|all] [key=value ...]

``fit(cfg, run_dir)`` records the dataset on first use (browser episodes of the oracle and an
exploring agent), runs the requested stage(s) with ``zoo.training.make_trainer`` and, when a
policy exists, scores it on the shared benchmark (evaluation seeds) twice -- the policy alone and
the policy with MCTS -- writing ``run_dir/results.json``.  Its top level is the policy+MCTS
result (the full Strategy-1 agent); ``results["variants"]`` holds both, ``"policy"`` and
``"policy+mcts"``, each a complete ``actionzoo.bench/1`` result, scored at the same checkpoint.

``load_agent(checkpoint, search=None)`` returns the agent of any stage checkpoint (search on per
``foundation.search.in_agent`` unless ``search`` says otherwise).
"""
from __future__ import annotations


from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

__all__ = ["fit", "is_checkpoint", "load_agent"]


def training_tasks(cfg: Any) -> list[str]:
    from zoo.suites import resolve_tasks

    return resolve_tasks(cfg.env.suite, list(cfg.env.tasks or []))


def eval_tasks(cfg: Any, trained: list[str]) -> list[str]:
    from zoo.suites import resolve_tasks

    if cfg.eval.tasks:
        return resolve_tasks("", list(cfg.eval.tasks))
    if cfg.eval.suite:
        return resolve_tasks(cfg.eval.suite, None)
    return trained


def fit(cfg: Any, run_dir: str | Path) -> dict:
    from strategies.foundation.scoring import score
    from strategies.foundation.stages import run_stages, write_json

    run_dir = Path(run_dir)
    tasks = training_tasks(cfg)
    stages = run_stages(cfg, run_dir, tasks)
    checkpoint = stages.pop("final_checkpoint")
    from zoo.distributed import global_rank

    if global_rank(cfg.trainer.devices) > 0:  # the other processes of a multi-process run only train; rank 0 scores
        return {"strategy": 1, "stages": stages}
    has_policy = any(s in stages for s in ("sft", "rl"))
    if checkpoint is None or not has_policy:
        summary = {"strategy": 1, "stages": stages, "note": "no policy stage run: nothing scored"}
        write_json(run_dir / "stages.json", summary)
        return summary
    results = score(cfg, run_dir, Path(checkpoint), eval_tasks(cfg, tasks))
    results["stages"] = stages
    from zoo.web.results import write_results

    write_results(run_dir / "results.json", results)
    return results


def load_agent(checkpoint_path: str | Path, search: bool | None = None, device: str = "cpu") -> Any:
    from strategies.foundation.loading import load_agent as _load

    return _load(checkpoint_path, search=search, device=device)


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a Strategy-1 checkpoint or run dir (for ``strategies.load_agent``)."""
    from strategies.foundation.loading import is_checkpoint as _is

    return _is(path)
