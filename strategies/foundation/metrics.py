"""SFT metrics on held-out episodes: exact match of the generated numbered instructions (with the
recorded history, and freely generated as a whole list), token accuracy of the instruction LM
(teacher forced) and accuracy of the decoded next action."""
from __future__ import annotations

from typing import Any

import torch

from strategies.foundation.batch import collate
from strategies.foundation.instructions import format_instructions
from strategies.foundation.losses import compute_losses
from strategies.foundation.policy import Policy, open_step
from strategies.foundation.sequence import Episode


def same_action(a: Any, b: Any) -> bool:
    return (a.kind, a.element, a.text or None, a.option or None, a.key or None) == \
        (b.kind, b.element, b.text or None, b.option or None, b.key or None)


def live_prefixes(episodes: list[Episode]) -> tuple[list[Episode], list[tuple[int, int]]]:
    """For every recorded step, the episode up to it with that step's action removed (what the agent sees)."""
    out, where = [], []
    for e, ep in enumerate(episodes):
        for t, step in enumerate(ep.steps):
            out.append(Episode(ep.task, ep.steps[:t] + [open_step(step)]))
            where.append((e, t))
    return out, where


def instruction_metrics(policy: Policy, episodes: list[Episode], n_examples: int = 6) -> dict[str, Any]:
    """Per held-out episode, its numbered instruction list is generated two ways:

    * step by step with the *recorded* history (earlier actions and lines are the recorded ones):
      ``exact_match`` (every line of the episode right) and ``line_exact_match`` (share of lines);
    * *freely*, the whole list from the observations alone (each step's history holds the model's
      own earlier actions and lines): ``free_exact_match`` (the full numbered list string equals the
      target) and ``free_line_exact_match``.

    token_accuracy: teacher-forced next-token accuracy on the lines; action_accuracy: the policy's
    greedy action equals the recorded one (recorded history)."""
    if not episodes:
        return {"episodes": 0}
    queries, where = live_prefixes(episodes)
    written = policy.write_steps(queries)
    per_episode: dict[int, list[bool]] = {}
    lines_by_episode: dict[int, list[str]] = {}
    action_hits = []
    for (e, t), (action, line) in zip(where, written):
        per_episode.setdefault(e, []).append(line == episodes[e].steps[t].line)
        lines_by_episode.setdefault(e, []).append(line)
        action_hits.append(same_action(action, episodes[e].steps[t].action))
    free = policy.write_instructions(episodes)
    free_lists = [format_instructions(lines) for lines in free]
    targets = [ep.instruction_list() for ep in episodes]
    free_lines = [a == b for ep, lines in zip(episodes, free) for a, b in zip(lines, [s.line for s in ep.steps])]
    with torch.no_grad():
        was_training = policy.model.training
        policy.model.eval()
        batch = collate([policy.builder.build(ep) for ep in episodes]).to(policy.device)
        acc = compute_losses(policy.model, batch, {"lm_line"}).get("lm_line_acc", torch.tensor(0.0))
        policy.model.train(was_training)
    first_of_task = {ep.task: e for e, ep in reversed(list(enumerate(episodes)))}  # one example per task first
    shown = (sorted(first_of_task.values()) + [e for e in range(len(episodes)) if e not in first_of_task.values()])
    shown = shown[:n_examples]
    examples = [{"task": episodes[e].task, "target": targets[e], "generated": format_instructions(lines_by_episode[e]),
                 "free": free_lists[e]} for e in shown]
    return {
        "episodes": len(episodes),
        "exact_match": sum(all(v) for v in per_episode.values()) / len(per_episode),
        "line_exact_match": sum(sum(v) for v in per_episode.values()) / max(1, sum(len(v) for v in per_episode.values())),
        "free_exact_match": sum(f == t for f, t in zip(free_lists, targets)) / len(episodes),
        "free_line_exact_match": sum(free_lines) / max(1, len(free_lines)),
        "token_accuracy": float(acc),
        "action_accuracy": sum(action_hits) / max(1, len(action_hits)),
        "examples": examples,
    }
