"""Final scoring on the shared benchmark: the same checkpoint with and without tree search."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

VARIANTS = (("policy", False), ("policy+mcts", True))


def suite_label(cfg: Any) -> str:
    if cfg.eval.tasks:
        return "custom"
    if cfg.eval.suite:
        return str(cfg.eval.suite)
    return "custom" if cfg.env.tasks else str(cfg.env.suite)


def score(cfg: Any, run_dir: Path, checkpoint: Path, tasks: list[str]) -> dict[str, Any]:
    """Benchmark results of the search agent (top level) with ``variants`` = {"policy", "policy+mcts"}."""
    from strategies.foundation.loading import load_agent
    from zoo.web.bench import evaluate
    from zoo.web.results import results_table, write_results

    console = Console(stderr=True)
    variants: dict[str, Any] = {}
    for label, search in VARIANTS:
        agent = load_agent(checkpoint, search=search)
        try:
            agent.prepare(tasks)
            # with search, one env: a page's clock keeps running while the agent searches, and with
            # several envs every episode would also wait for the other envs' searches
            res = evaluate(
                agent, tasks, int(cfg.eval.episodes), seed=int(cfg.eval.seed), num_envs=1 if search else int(cfg.env.num_envs),
                max_episode_steps=int(cfg.env.max_episode_steps), step_timeout_s=float(cfg.env.step_timeout_s),
                headless=bool(cfg.env.headless), progress=bool(cfg.trainer.progress),
                log_path=Path(run_dir) / f"eval-{label.replace('+', '-')}.episodes.jsonl", suite=suite_label(cfg),
                agent_name=f"strategy1 {label}",
            )
        finally:
            agent.close()
        res["search"] = dict(agent.stats, simulations=int(cfg.foundation.search.simulations)) if search else None
        variants[label] = res
        # kept at once: a failure in the next variant must not lose this one
        write_results(Path(run_dir) / f"results-{label.replace('+', '-')}.json", res)
        console.print(results_table(res))
    results = dict(variants["policy+mcts"])
    results["checkpoint"] = str(checkpoint)
    results["variants"] = variants
    results["search_gain"] = {
        label: variants[label]["overall"]["success_rate"]["mean"] for label, _ in VARIANTS
    }
    return results
