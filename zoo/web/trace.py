"""Episode traces for reading what an agent did (``zoo bench ... trace=true``): the instruction it was given and
one line per action, naming the element the action hit as the agent saw it at that step.  Traces are written
beside each episode's record in ``<results>.episodes.jsonl`` (``trace``: {instruction, actions}); they are output
only: nothing an agent sees changes."""
from __future__ import annotations

from typing import Any, Callable

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


Describe = Callable[[Action, Observation, tuple], Any]  # (action, observation, earlier instructions) -> a step


def describe_step(action: Action, obs: Observation, earlier: tuple) -> str:
    """The default trace line of a step (``describe_action``; the earlier instructions are not needed)."""
    return describe_action(action, obs)


class Tracer:
    """Per env: the instruction and steps of the episode under way.  ``step`` records what every busy env is
    about to do (its episode restarts where ``fresh``), as ``describe`` gives it, which also sees the
    instructions the episode showed before this step (a page may change it); ``finish`` hands an env's
    trace over.  Episodes are the harness's own: they begin at ``fresh`` and end with the env's info."""

    def __init__(self, n: int, describe: Describe = describe_step) -> None:
        self.describe = describe
        self.instructions: list[tuple[str, ...]] = [()] * n
        self.steps: list[list[Any]] = [[] for _ in range(n)]

    def step(self, obs: list[Any], actions: list[Action], fresh: Any, idle: list[bool]) -> None:
        for i, action in enumerate(actions):
            if idle[i]:
                continue
            if fresh[i] or not self.steps[i]:
                self.steps[i], self.instructions[i] = [], ()
            shown = self.instructions[i]
            self.steps[i].append(self.describe(action, obs[i], shown))
            text = getattr(obs[i], "instruction", "") or ""
            if text not in shown:
                self.instructions[i] = (*shown, text)

    def finish(self, i: int) -> dict[str, Any]:
        shown = self.instructions[i]
        out = {"instruction": shown[0] if shown else "", "actions": self.steps[i]}
        self.steps[i], self.instructions[i] = [], ()
        return out
