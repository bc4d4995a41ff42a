"""Decision-time lookahead that a deployed agent can run: no second copy of the page, no reward.

At evaluation the live page is the only copy of the test episode.  Strategy 1's search therefore
expands its tree with the policy and judges every leaf with the learned value head alone; the
states below the root are the agent's own predictions:

* a node is an action prefix; the committed part is the real episode (its observations as they
  came), each hypothetical action after it turns the previous observation into ``afterstate``:
  the action's direct effect on the elements the agent sees -- a typed field holds its text, a
  chosen option is selected, a checkbox flips, a radio button is checked and the rest of its group
  unchecked, the acted-on element has the focus.  What only the page's script knows (a submit's
  verdict, a page load, a re-render) is not predicted: those elements stay as they were.
* no node is terminal, so no reward ever enters the search; the page's reward is read only in
  training (``rl.py``, where the browser simulator on training seeds is the RL signal).

The screenshot of a predicted step is the last real one (the model does not render pages).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from strategies.foundation.mcts import MCTS, Outcome
from strategies.foundation.policy import Policy
from strategies.foundation.search import PolicyEvaluator, action_key
from zoo.web.types import Action, Element, Observation


def _with_attrs(el: Element, **changes: str | None) -> Element:
    attrs = dict(el.attrs)
    for key, value in changes.items():
        if value is None:
            attrs.pop(key, None)
        else:
            attrs[key] = value
    return dataclasses.replace(el, attrs=attrs)


def afterstate(obs: Observation, action: Action) -> Observation:
    """The observation ``action`` is expected to leave behind, from its local effect on the DOM
    alone (pure: ``obs`` is not changed).  Unknown elements and actions without a local effect
    (press, noop, mouse kinds) leave the elements as they were; the step count always advances."""
    elements = list(obs.elements)
    target = action.element if action.element is not None and 0 <= action.element < len(elements) else None
    if target is not None and action.kind in ("click", "type", "select"):
        el = elements[target]
        kind = str(el.attrs.get("type", "")).lower()
        changes: dict[str, str | None] = {"focused": "true"}
        if action.kind == "type" and el.typable:
            changes["value"] = action.text or ""
        elif action.kind == "select" and el.options:
            changes["value"] = action.option or ""
        elif action.kind == "click" and el.tag == "input" and kind == "checkbox":
            changes["checked"] = "false" if el.attrs.get("checked") == "true" else "true"
        elif action.kind == "click" and el.tag == "input" and kind == "radio":
            changes["checked"] = "true"
            group = el.attrs.get("name")
            for k, other in enumerate(elements):
                if k != target and group and other.tag == "input" and other.attrs.get("name") == group \
                        and str(other.attrs.get("type", "")).lower() == "radio":
                    elements[k] = _with_attrs(other, checked="false")
        for k, other in enumerate(elements):  # the focus moves to the acted-on element
            if k != target and other.attrs.get("focused"):
                elements[k] = _with_attrs(other, focused=None)
        elements[target] = _with_attrs(el, **changes)
    return dataclasses.replace(obs, elements=elements, step=obs.step + 1)


class AfterstateModel:
    """The MCTS ``Simulator`` of the live episode: the committed prefix is real, deeper nodes are
    predicted by ``afterstate``; never terminal, reward always 0 (leaves are judged by the value head).

    observations / actions / times: the live episode so far (one more observation than actions;
    times in seconds since its start, as ``history_episode`` stamps frames)."""

    def __init__(self, observations: list[Observation], actions: list[Action], times: list[float], fps: float = 3.0):
        if not len(observations) == len(times) == len(actions) + 1:
            raise ValueError(f"the live episode needs one observation (and time) more than actions, got "
                             f"{len(observations)} observations, {len(times)} times, {len(actions)} actions")
        self.committed = tuple(action_key(a) for a in actions)
        self.real = list(observations)
        self.real_times = [float(t) for t in times]
        self.period = 1.0 / float(fps)
        self.cache: dict[tuple, Observation] = {}

    def _check(self, prefix: tuple) -> tuple:
        keys = tuple(action_key(a) for a in prefix)
        if keys[: len(self.committed)] != self.committed:
            raise ValueError("the search asked about a prefix that leaves the live episode's committed actions")
        return keys

    def observation(self, prefix: tuple) -> Observation:
        keys = self._check(prefix)
        depth = len(keys) - len(self.committed)
        if depth == 0:
            return self.real[-1]
        if keys not in self.cache:
            self.cache[keys] = afterstate(self.observation(prefix[:-1]), prefix[-1])
        return self.cache[keys]

    def step_to(self, prefix: tuple) -> Outcome:
        obs = self.observation(prefix)
        return Outcome(obs, False, 0.0, obs.page)

    def observations(self, prefix: tuple) -> list[Observation]:
        """The observation before each action of ``prefix`` and after the last one."""
        n = len(self.committed)
        return self.real[:n] + [self.observation(prefix[:i]) for i in range(n, len(prefix) + 1)]

    def times(self, prefix: tuple) -> list[float]:
        """Real times for the committed steps, then one frame period per predicted step."""
        self._check(prefix)
        out = self.real_times[: len(prefix) + 1]
        while len(out) < len(prefix) + 1:
            out.append(out[-1] + self.period)
        return out


def make_value_search(policy: Policy, task: str, observations: list[Observation], actions: list[Action],
                      times: list[float], search_cfg: Any, frames_per_step: int = 1, fps: float = 3.0) -> MCTS:
    """MCTS from the live state: policy priors, afterstate predictions, value-head leaves."""
    model = AfterstateModel(observations, actions, times, fps)
    return MCTS(model, PolicyEvaluator(policy, model, task, frames_per_step, fps), simulations=int(search_cfg.simulations),
                c_puct=float(search_cfg.c_puct), max_depth=int(search_cfg.max_depth), gamma=float(search_cfg.gamma),
                key=action_key, stop_on_win=False)
