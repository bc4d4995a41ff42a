"""The oracle registry and the helpers oracles share.  Each oracle sits beside its tasks in this
package (``miniwob_*.py`` for MiniWoB++ families, ``multipage.py`` for our own pages) and gives the
next action from the observation alone (instruction + element tree + geometry, plus a small
per-episode memory).

They exist to prove every default-suite task is solvable through our observation and action
space: they only target elements the observation marks actionable and visible, and type text
that appears in the instruction (or was remembered from an earlier page's instruction).
A policy that cannot find what it expects returns a no-op, so a broken task shows up as a
failure, never as a crash.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from zoo.web.types import MAX_WAIT_MS, Action, Element, Observation

Policy = Callable[[Observation, dict], Action]
ORACLES: dict[str, Policy] = {}
# Tasks whose oracle reads pixels a person sees but the DOM does not carry (a canvas drawing, an icon):
# the oracle agent asks for full-size screenshots when it plays any of them.
NEEDS_SCREENSHOT: set[str] = set()


def oracle(*names: str, screenshot: bool = False) -> Callable[[Policy], Policy]:
    def deco(fn: Policy) -> Policy:
        for name in names:
            ORACLES[name] = fn
            if screenshot:
                NEEDS_SCREENSHOT.add(name)
        return fn

    return deco


# ---------------------------------------------------------------- helpers
def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def live(obs: Observation) -> list[Element]:
    """Elements an agent can target now: actionable and visible."""
    return [e for e in obs.elements if e.actionable and e.visible]


def first(elements: list[Element]) -> Element | None:
    return elements[0] if elements else None


def by_text(obs: Observation, text: str, tag: str | None = None) -> Element | None:
    return first([e for e in live(obs) if e.text == text and (tag is None or e.tag == tag)])


def by_attr(obs: Observation, key: str, value: str) -> Element | None:
    return first([e for e in live(obs) if e.attrs.get(key) == value])


def by_attr_any(obs: Observation, key: str, value: str) -> Element | None:
    """Like by_attr but for any element (text elements are not actionable)."""
    return first([e for e in obs.elements if e.attrs.get(key) == value])


def has_class(e: Element, cls: str) -> bool:
    return cls in e.attrs.get("class", "").split()


def click(e: Element | None) -> Action:
    return Action.click(e.id) if e is not None else Action.noop()


def fill_then(field: Element | None, value: str, then: Action | None = None) -> Action | None:
    """Type ``value`` into ``field`` unless it already holds it; else None (move on)."""
    if field is None:
        return Action.noop()
    if field.attrs.get("value", "") != value:
        return Action.type(field.id, value)
    return then


def submit_button(obs: Observation, label: str = "Submit") -> Element | None:
    return by_text(obs, label, "button")


# ---------------------------------------------------------------- MiniWoB++ tasks


def pause(seconds: float) -> Action:
    """Let ``seconds`` of wall time pass in this env, then look again (a ``wait`` action).  A no-op returns in
    milliseconds, far quicker than a person takes per step, so waiting for an animation or a timer takes a
    wait; the env carries it out in its own step, beside the other envs' actions.  The oracle agent may end
    it sooner (when another env wants to look again sooner), so a script that waits for a moment re-checks
    the clock rather than counting waits."""
    return Action.wait(min(max(float(seconds), 0.0) * 1000.0, MAX_WAIT_MS))


def settle_once(mem: dict, key: Any = "settled", seconds: float = 0.1) -> Action:
    """``Action.settle`` (until the page is still: one step, however fast the machine) the first time
    for ``key`` in this episode, ``pause(seconds)`` after: a page still not as the script expects once it is
    still is looked at again in a while, not thousands of times a second."""
    done = mem.setdefault("_settled", set())
    if key in done:
        return pause(seconds)
    done.add(key)
    return Action.settle()


def oracle_action(obs: Observation, mem: dict) -> Action:
    policy = ORACLES.get(obs.task)
    if policy is None:
        return Action.noop()
    try:
        return policy(obs, mem)
    except (IndexError, KeyError, AttributeError):  # the page is not what the script expects
        return Action.noop()
