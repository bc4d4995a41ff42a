"""Episode traces for reading what an agent did (``zoo bench ... trace=true``): the instruction it was given and
one line per action, naming the element the action hit as the agent saw it at that step.  Traces are written
beside each episode's record in ``<results>.episodes.jsonl`` (``trace``: {instruction, actions}); they are output
only: nothing an agent sees changes."""
from __future__ import annotations

from typing import Any

from zoo.web.types import Action, Observation

def element_label(obs: Observation, element: int) -> str:
    """Element ``element`` of ``obs`` as ``Element.describe`` gives it (id, tag, text or value), with its
    input type (a checkbox and a text field look alike otherwise)."""
    if not 0 <= element < len(obs.elements):
        return f"[{element}] (not on the page)"
    el = obs.elements[element]
    kind = el.attrs.get("type")
    return el.describe() + (f" type={kind}" if kind else "")


def describe_action(action: Action, obs: Observation | None) -> str:
    """One line for ``action`` taken on ``obs``: its kind, the element it targets and what it carries."""
    parts = [action.kind]
    if action.element is not None:
        parts.append(element_label(obs, action.element) if obs is not None else f"[{action.element}]")
    if action.text is not None:
        parts.append(f"text={action.text!r}")
    if action.option is not None:
        parts.append(f"option={action.option!r}")
    if action.key is not None:
        parts.append(f"key={action.key!r}")
    if action.x is not None and action.y is not None:
        parts.append(f"at=({action.x:.0f}, {action.y:.0f})")
    if action.path:
        parts.append(f"path={len(action.path)} points")
    if action.ms is not None:
        parts.append(f"ms={action.ms:.0f}")
    return " ".join(parts)


class Tracer:
    """Per env: the instruction and action lines of the episode under way.  ``step`` records what every
    busy env is about to do (its episode restarts where ``fresh``); ``finish`` hands an env's trace over."""

    def __init__(self, n: int) -> None:
        self.instructions = [""] * n
        self.actions: list[list[str]] = [[] for _ in range(n)]

    def step(self, obs: list[Any], actions: list[Action], fresh: Any, idle: list[bool]) -> None:
        for i, action in enumerate(actions):
            if idle[i]:
                continue
            if fresh[i] or not self.actions[i]:
                self.actions[i] = []
                self.instructions[i] = getattr(obs[i], "instruction", "") or ""
            self.actions[i].append(describe_action(action, obs[i]))

    def finish(self, i: int) -> dict[str, Any]:
        out = {"instruction": self.instructions[i], "actions": self.actions[i]}
        self.actions[i] = []
        return out
