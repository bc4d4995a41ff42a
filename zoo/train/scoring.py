"""The one scoring path every strategy uses: which tasks a run trains and is scored on, what that task set
is called in results and reports, and scoring an agent on the benchmark's evaluation seeds.

Task sets: training tasks are ``env.tasks`` if given, else ``env.suite``.  Scoring tasks are
``eval.tasks``, else ``eval.suite``, else the training tasks.  The label a results file carries
(``suite``) is the suite's name when the tasks came from one, and ``custom`` for an explicit list.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from zoo.web.suites import resolve_tasks


def training_tasks(cfg: Any) -> list[str]:
    return resolve_tasks(str(cfg.env.suite), list(cfg.env.tasks or []))


def scoring_tasks(cfg: Any, trained: list[str] | None = None) -> list[str]:
    """``eval.tasks`` > ``eval.suite`` > the training tasks (every name checked against the task registry)."""
    if cfg.eval.tasks:
        return resolve_tasks("", list(cfg.eval.tasks))
    if cfg.eval.suite:
        return resolve_tasks(str(cfg.eval.suite), None)
    return list(trained) if trained is not None else training_tasks(cfg)


def task_set_label(cfg: Any) -> str:
    """The name of the task set a run is scored on (a suite's name, or ``custom`` for a task list)."""
    if cfg.eval.tasks:
        return "custom"
    if cfg.eval.suite:
        return str(cfg.eval.suite)
    return "custom" if cfg.env.tasks else str(cfg.env.suite)


def score_agent(cfg: Any, agent: Any, tasks: list[str], run_dir: Path, *, agent_name: str, results_name: str,
                num_envs: int | None = None, run_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score ``agent`` on ``eval.episodes`` evaluation episodes of each task (seeds from ``eval.seed``, the same
    for every strategy and training seed) and write ``run_dir/<results_name>.json`` (+ ``.episodes.jsonl``) at
    once, so a failure in a later scoring never loses this one.  With ``eval.resume`` the episodes the log holds
    are kept.  Stopped by Ctrl-C, the partial results are written (marked ``interrupted``) and the interrupt
    goes on to the caller: a run, or ``zoo compare``, must not carry on as if this score were whole."""
    from zoo.web.bench import evaluate  # lazy: pulls torchmetrics (+transformers); zoo config imports this module
    from zoo.web.results import write_results  # lazy: torchmetrics, as above

    env = cfg.env
    identity = agent_fingerprint(agent, agent_name)
    results = evaluate(agent, tasks, int(cfg.eval.episodes), seed=int(cfg.eval.seed),
                       num_envs=int(num_envs if num_envs is not None else env.num_envs),
                       max_episode_steps=int(env.max_episode_steps), step_timeout_s=float(env.step_timeout_s),
                       headless=bool(env.headless), progress=bool(cfg.trainer.progress),
                       log_path=Path(run_dir) / f"{results_name}.episodes.jsonl", suite=task_set_label(cfg),
                       agent_name=agent_name, browsers=int(env.get("browsers", 0)),
                       resume=bool(cfg.eval.get("resume", False)), agent_id=identity,
                       settle_ms=float(env.get("settle_ms", 0.0)))
    if run_info is not None:
        results["run"] = dict(run_info, strategy=str(cfg.strategy), run_dir=str(run_dir))
    write_results(Path(run_dir) / f"{results_name}.json", results)
    if results["interrupted"]:
        raise KeyboardInterrupt
    return results


def agent_fingerprint(agent: Any, name: str = "") -> str | None:
    """What a resumed scoring checks before it keeps logged episodes: a hash of ``name`` and the weights of the
    torch modules the agent holds (its attributes, two levels down: the model of a policy), or the agent's own
    ``fingerprint`` attribute.  A run trained further after an interrupted score gets a different value, so its
    old episodes are played again instead of being counted for the new weights.  None for an agent without
    weights (a scripted one: its name and the plan say all)."""
    import torch

    own = getattr(agent, "fingerprint", None)
    if own is not None:
        return str(own)
    modules: list[torch.nn.Module] = []
    level = [agent]
    for _ in range(3):
        found = []
        for obj in level:
            for value in (vars(obj).values() if hasattr(obj, "__dict__") else ()):
                if isinstance(value, torch.nn.Module):
                    if all(value is not m for m in modules):
                        modules.append(value)
                elif hasattr(value, "__dict__") and not isinstance(value, type):
                    found.append(value)
        level = found
    if not modules:
        return None
    digest = hashlib.sha256(name.encode())
    for module in modules:
        for key, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{key}:{t.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(t.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
