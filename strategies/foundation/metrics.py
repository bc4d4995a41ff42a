"""SFT metrics on held-out episodes: exact match of the generated numbered instructions, token
accuracy of the instruction LM (teacher forced) and accuracy of the decoded next action."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

from strategies.foundation.batch import collate
from strategies.foundation.instructions import format_instructions
from strategies.foundation.losses import compute_losses
from strategies.foundation.policy import Policy
from strategies.foundation.sequence import Episode


def same_action(a: Any, b: Any) -> bool:
    return (a.kind, a.element, a.text or None, a.option or None, a.key or None) == \
        (b.kind, b.element, b.text or None, b.option or None, b.key or None)


def live_prefixes(episodes: list[Episode]) -> tuple[list[Episode], list[tuple[int, int]]]:
    """For every recorded step, the episode up to it with that step's action removed (what the agent sees)."""
    out, where = [], []
    for e, ep in enumerate(episodes):
        for t, step in enumerate(ep.steps):
            live = dataclasses.replace(step, action=None, line=None, visit=None, value=None)
            out.append(Episode(ep.task, ep.steps[:t] + [live]))
            where.append((e, t))
    return out, where


def instruction_metrics(policy: Policy, episodes: list[Episode], n_examples: int = 3) -> dict[str, Any]:
    """exact_match: share of episodes whose whole numbered list is generated exactly; line_exact_match:
    share of lines; token_accuracy: teacher-forced next-token accuracy on the lines; action_accuracy:
    the policy's greedy action equals the recorded one."""
    if not episodes:
        return {"episodes": 0}
    queries, where = live_prefixes(episodes)
    generated = policy.generate_lines(queries)
    decisions = policy.decide(queries)
    per_episode: dict[int, list[bool]] = {}
    lines_by_episode: dict[int, list[str]] = {}
    action_hits = []
    for (e, t), line, decision in zip(where, generated, decisions):
        per_episode.setdefault(e, []).append(line == episodes[e].steps[t].line)
        lines_by_episode.setdefault(e, []).append(line)
        action_hits.append(same_action(decision.action, episodes[e].steps[t].action))
    with torch.no_grad():
        was_training = policy.model.training
        policy.model.eval()
        batch = collate([policy.builder.build(ep) for ep in episodes]).to(policy.device)
        acc = compute_losses(policy.model, batch, {"lm_line"}).get("lm_line_acc", torch.tensor(0.0))
        policy.model.train(was_training)
    examples = [{"task": episodes[e].task, "target": episodes[e].instruction_list(),
                 "generated": format_instructions(lines_by_episode[e])} for e in list(per_episode)[:n_examples]]
    return {
        "episodes": len(episodes),
        "exact_match": sum(all(v) for v in per_episode.values()) / len(per_episode),
        "line_exact_match": sum(sum(v) for v in per_episode.values()) / max(1, sum(len(v) for v in per_episode.values())),
        "token_accuracy": float(acc),
        "action_accuracy": sum(action_hits) / max(1, len(action_hits)),
        "examples": examples,
    }
