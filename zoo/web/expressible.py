"""``zoo bench actions``: how much of each task the learned agents' action space can express.

Both strategies act in one space: an element action (click, type, select, no-op) on an element of the
observation, where typed text is a span of the instruction or of an earlier page's instruction in the episode
(``instruction_spans``: quoted strings, clock times, then single words) or an element's own short text on the page
(``page_texts``: a table cell, a name), and a selected option is one of the element's options; Strategy 1 can also
press a key of ``NAMED_KEYS``, and so can Strategy 2 with ``ppo.press_keys`` (off in the committed matrices: the
report counts the episodes that press one apart).  Strategy 2's no-op needs ``ppo.noop`` (off by default).  A date
or time field takes text like any input (``Element.typable``), in the instruction's written form ("02/05/2014",
"5:09 PM"; the harness converts it).  A word inside a longer text,
text worked out (a sum), or keys outside ``NAMED_KEYS`` (digits) cannot be produced, and mouse actions at
points cannot be taken at all; with ``derived=true`` (the agents' ``read_derived``) the word an instruction names
and a shown sum can (``zoo.web.derived``), written to ``actions-<suite>-derived.*``.

The probe plays the oracle on a suite, traced (``evaluate(trace=probe_step)``: the harness's own episodes), and
marks every step of its demonstrations that the space could not have taken, with the reason: what the recorded demonstrations can teach step for step.  A task whose oracle takes
such a step may still have another route (the oracle clicks a point where an agent can click the element
there, which RL or search can find), so "no episode expressible" bounds imitation, and bounds success only
where the reason admits no other route (text read off the page or computed, a key no strategy names).  A
``wait`` counts as expressible (a no-op step stands in, if less precisely timed).  Beside that, each step's target
is placed in ``slot_order``, the order both strategies fill their element slots: a page with more visible
elements than an agent's slots (``model.max_elements``, 48 by default) hides the later ones from it, so a step
whose target lies beyond them cannot be imitated by an agent of that size either.

Writes ``<out>/actions-<suite>.{json,md}`` (default ``reports/bench/``).
"""
from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from zoo.core.io import atomic_write_json, atomic_write_text
from zoo.web.agents import OracleAgent
from zoo.web.bench import evaluate
from zoo.web.derived import derived_texts
from zoo.web.suites import resolve_tasks
from zoo.web.tasks.oracle import ORACLES
from zoo.web.types import (ELEMENT_ACTION_KINDS, NAMED_KEYS, Action, Observation, instruction_spans, page_texts,
                           slot_order)

SCHEMA = "actionzoo.actions/1"
PRESS = "press"  # a step's note: expressible, by Strategy 1 (and Strategy 2 with ppo.press_keys) only
DEFAULT_SLOTS = 48  # model.max_elements' default: the element slots both strategies fill (slot_order)
DEFAULT_OUT = Path("reports/bench")
NOT_TYPABLE = "types text that is neither an instruction span nor a text on the page"
NOT_TYPABLE_DERIVED = "types text that is neither an instruction span, a text on the page nor worked out from it"


def unexpressible(action: Action, obs: Observation, earlier: tuple[str, ...] = (), derived: bool = False) -> str | None:
    """Why the element action space could not take ``action`` on ``obs``, or None when it could.  ``earlier``:
    the episode's earlier instructions, whose spans may be typed too (a page may ask for text that only an
    earlier page's instruction showed, as Strategy 1's span candidates allow).  ``derived``: the agents' option
    ``read_derived`` is on, so texts worked out from the page (``zoo.web.derived``) may be typed too."""
    if action.kind == "wait":
        return None
    if action.kind not in ELEMENT_ACTION_KINDS:
        return "a mouse action at a point"
    if action.kind == "press":
        return None if action.key in NAMED_KEYS else "presses a key no strategy names (a digit, PageUp, ...)"
    if action.kind == "noop":
        return None
    if action.element is None or not 0 <= action.element < len(obs.elements):
        return "targets no element of the observation"
    spans = {text[s:e] for text in (obs.instruction, *earlier) for s, e in instruction_spans(text)}
    typable = spans | {t for _, t in page_texts(obs.elements)}
    if derived:
        typable |= {t for _, t in derived_texts(obs.elements, obs.instruction)}
    if action.kind == "type" and (action.text or "") not in typable:
        return NOT_TYPABLE_DERIVED if derived else NOT_TYPABLE
    if action.kind == "select" and action.option not in obs.elements[action.element].options \
            and action.option not in spans:
        return "selects an option that is neither the element's nor an instruction span"
    return None


def slot_rank(action: Action, obs: Observation) -> int | None:
    """The action's target's place in ``slot_order`` (0: the first slot an agent fills), None when the action
    targets no visible element.  An agent with fewer slots (``model.max_elements``) does not see it."""
    if action.element is None or not 0 <= action.element < len(obs.elements):
        return None
    return next((k for k, e in enumerate(slot_order(obs.elements)) if e.id == action.element), None)


def probe_step(action: Action, obs: Observation, earlier: tuple[str, ...], derived: bool = False) -> list:
    """A trace step of the probe (``evaluate(trace=probe_step)``): [why the space could not take it, ``PRESS``
    for a named key (Strategy 1, and Strategy 2 with ``ppo.press_keys``) or None when both could; the target's
    ``slot_rank``]."""
    return [unexpressible(action, obs, earlier, derived) or (PRESS if action.kind == "press" else None),
            slot_rank(action, obs)]


def summarise(episodes: list[tuple[str, list[list]]], results: dict[str, Any], tasks: list[str],
              slots: int = DEFAULT_SLOTS) -> dict:
    """Per task: oracle successes, episodes whose every step the space could take (and of those, how many
    press a key: Strategy 1, or Strategy 2 with ppo.press_keys), steps it could not take and why; the most
    element slots a step's target needed and the steps whose target lies beyond the first ``slots``."""
    per_task = {}
    for task in tasks:
        mine = [[r for r, _ in steps] for t, steps in episodes if t == task]
        ranks = [k for t, steps in episodes if t == task for _, k in steps if k is not None]
        reasons = Counter(r for steps in mine for r in steps if r not in (None, PRESS))
        ok = [steps for steps in mine if all(r in (None, PRESS) for r in steps)]
        per_task[task] = {"episodes": len(mine), "oracle_successes": results["tasks"][task]["successes"],
                          "expressible_episodes": len(ok),
                          "expressible_without_keys": sum(PRESS not in steps for steps in ok),
                          "steps": sum(len(s) for s in mine), "inexpressible_steps": sum(reasons.values()),
                          "reasons": dict(reasons.most_common()),
                          "slots_needed": max(ranks) + 1 if ranks else 0,
                          "beyond_slots": sum(k >= slots for k in ranks)}

    def where(key: str) -> list[str]:
        return [t for t, v in per_task.items() if v["episodes"] and v[key] == v["episodes"]]

    reachable = where("expressible_episodes")
    partly = [t for t, v in per_task.items() if 0 < v["expressible_episodes"] < v["episodes"]]
    return {"tasks": per_task, "all_expressible": reachable, "all_expressible_without_keys": where("expressible_without_keys"),
            "some_expressible": partly, "none_expressible": [t for t in tasks if t not in reachable and t not in partly],
            "slots": slots, "beyond_slots": [t for t, v in per_task.items() if v["beyond_slots"]]}


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    n = len(s["tasks"])
    lines = [f"# What the element action space can express: {report['suite']}", "",
             f"Command: `{report['command']}`", "",
             *(["Texts worked out from the page (the agents' `read_derived`: the word an instruction names, a shown "
                "sum) count as typable here.", ""] if report.get("derived") else []),
             f"The oracle played {report['episodes_per_task']} episodes of each of the {n} tasks with an oracle; "
             "a step is inexpressible when neither strategy's action heads could have produced it "
             "(zoo/web/expressible.py says how that is decided). This bounds what the demonstrations teach step for "
             "step; a task may still have another route (an element click where the oracle clicks a point).", "",
             f"- every episode expressible: {len(s['all_expressible'])} of {n} tasks "
             f"({len(s['all_expressible_without_keys'])} without a key press, Strategy 2's reach without ppo.press_keys)",
             f"- some episodes expressible: {len(s['some_expressible'])} ({', '.join(s['some_expressible']) or '-'})",
             f"- no episode expressible: {len(s['none_expressible'])} ({', '.join(s['none_expressible']) or '-'})",
             f"- some step's target beyond the first {s['slots']} element slots (model.max_elements; the agent does "
             f"not see it): {len(s['beyond_slots'])} ({', '.join(s['beyond_slots']) or '-'})", "",
             "| task | oracle successes | episodes all expressible | of those without keys | inexpressible steps / steps "
             f"| slots needed | steps beyond {s['slots']} | why |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for task, v in sorted(s["tasks"].items(), key=lambda kv: (kv[1]["expressible_episodes"] - kv[1]["episodes"], kv[0])):
        why = "; ".join(f"{r} ({c})" for r, c in v["reasons"].items()) or "-"
        lines.append(f"| {task} | {v['oracle_successes']}/{v['episodes']} | {v['expressible_episodes']}/{v['episodes']} | "
                     f"{v['expressible_without_keys']} | {v['inexpressible_steps']}/{v['steps']} | {v['slots_needed']} | "
                     f"{v['beyond_slots']} | {why} |")
    return "\n".join(lines) + "\n"


def main(cfg: Any) -> dict[str, Any]:
    """``zoo bench actions suite=... episodes=N``: play the oracle, mark what the action space cannot take."""
    from rich.console import Console

    tasks = [t for t in resolve_tasks(str(cfg.suite), list(cfg.tasks or [])) if t in ORACLES]
    suite = "custom" if cfg.tasks else str(cfg.suite)
    derived = bool(cfg.get("derived", False))
    results = evaluate(OracleAgent(tasks), tasks, int(cfg.episodes), seed=int(cfg.seed), num_envs=int(cfg.num_envs),
                       max_episode_steps=int(cfg.max_episode_steps), retries=int(cfg.retries),
                       step_timeout_s=float(cfg.step_timeout_s), headless=bool(cfg.headless),
                       progress=bool(cfg.progress), suite=suite, agent_name="oracle",
                       trace=functools.partial(probe_step, derived=derived),
                       settle_ms=float(cfg.get("settle_ms", 0.0)))
    episodes = [(ep["task"], ep["trace"]["actions"]) for ep in results["episodes"]]
    command = (f"zoo bench actions suite={suite} episodes={int(cfg.episodes)} "
               f"max_episode_steps={int(cfg.max_episode_steps)}") + (f" tasks=[{','.join(tasks)}]" if cfg.tasks else "") \
        + (" derived=true" if derived else "")
    report = {"schema": SCHEMA, "suite": suite, "episodes_per_task": int(cfg.episodes), "command": command,
              "derived": derived,
              "summary": summarise(episodes, results, tasks)}
    out = Path(str(cfg.out)) if cfg.out else DEFAULT_OUT
    stem = out / (f"actions-{suite}" + ("-derived" if derived else ""))
    atomic_write_json(stem.with_suffix(".json"), report)
    atomic_write_text(stem.with_suffix(".md"), markdown(report))
    s = report["summary"]
    Console().print(f"{len(s['all_expressible'])} of {len(tasks)} tasks expressible in every episode, "
                    f"{len(s['some_expressible'])} in some, {len(s['none_expressible'])} in none -> {stem}.md")
    report["path"] = str(stem.with_suffix(".md"))
    return report
