"""Final scoring on the shared benchmark: the same checkpoint with and without tree search.

Every variant sees only what a deployed agent would (the benchmark's observations: no episode
seed, no reward before an action is committed), so both may stand beside Strategy 2:

    policy          the policy alone (greedy over the pointer / action heads)
    policy+search   MCTS with the policy's priors, predicted afterstates and the value head at the
                    leaves (``lookahead.py``); the headline: the full Strategy-1 agent

No simulator-assisted variant is scored: a lookahead on a copy of the live episode (the test
episode's seed replayed in a second browser, its reward read at the leaves) sees the test page's
verdict before acting, which no deployed agent can.  ``VARIANTS`` says per variant what it uses
(``simulator_assisted``), and each result carries that description under ``"variant"``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from strategies.foundation.loading import load_agent
from zoo.train.scoring import agent_fingerprint, score_agent
from zoo.web.results import finished_results, results_table, write_results

HEADLINE = "policy+search"
VARIANTS: dict[str, dict[str, Any]] = {
    "policy": {"search": None, "simulator_assisted": False,
               "description": "policy only (pointer / action heads, greedy)"},
    "policy+search": {"search": "value-judged", "simulator_assisted": False,
                      "description": "policy + MCTS: policy priors, predicted afterstates, value-head leaves; "
                                     "no browser, no reward at decision time"},
}


def score(cfg: Any, run_dir: Path, checkpoint: Path, tasks: list[str]) -> dict[str, Any]:
    """Benchmark results of the headline variant (top level), with ``variants`` = every entry of
    ``VARIANTS`` (each a complete ``actionzoo.bench`` result plus ``"variant"``), ``headline``
    naming the top-level one and ``search_gain`` the success rate of each.  With ``eval.resume`` a variant
    scored to the end already is kept as it is, and a partly scored one continues from its episode log."""
    console = Console(stderr=True)
    variants: dict[str, Any] = {}
    resume = bool(cfg.eval.get("resume", False))
    for label, spec in VARIANTS.items():
        search = spec["search"] is not None
        name, agent_name = f"results-{label.replace('+', '-')}", f"strategy1 {label}"
        agent = load_agent(checkpoint, search=search)
        try:
            # kept only if these weights were scored (the fingerprint score_agent records, same name): a run
            # trained further since is scored again
            kept = finished_results(Path(run_dir) / f"{name}.json", agent_fingerprint(agent, agent_name)) \
                if resume else None
            if kept is not None and kept.get("variant", {}).get("label") == label:
                variants[label] = kept
                continue
            # with search, one env: a page's clock keeps running while the agent searches, and with
            # several envs every episode would also wait for the other envs' searches
            res = score_agent(cfg, agent, tasks, Path(run_dir), agent_name=agent_name, results_name=name,
                              num_envs=1 if search else None)
        finally:
            agent.close()
        res["variant"] = dict(spec, label=label)
        res["search"] = dict(agent.stats, simulations=int(cfg.foundation.search.simulations)) if search else None
        variants[label] = res
        write_results(Path(run_dir) / f"{name}.json", res)  # again, with what the variant is
        console.print(results_table(res))
    # search off (foundation.search.in_agent=false, the matrix's ablation): the policy alone is the headline
    headline = HEADLINE if bool(cfg.foundation.search.in_agent) else "policy"
    results = dict(variants[headline])
    results["checkpoint"] = str(checkpoint)
    results["headline"] = headline
    results["variants"] = variants
    results["search_gain"] = {label: v["overall"]["success_rate"]["mean"] for label, v in variants.items()}
    return results
