"""Strategy 1's decision-time lookahead on hand-made pages (pure python: no browser, no model):
predicted afterstates, the live-episode model under MCTS, and leaves judged by a value alone."""
from __future__ import annotations

import dataclasses

import pytest

from strategies.foundation.lookahead import AfterstateModel, afterstate
from strategies.foundation.mcts import MCTS
from strategies.foundation.search import PolicyEvaluator, action_key
from zoo.web.types import Action, Element, Observation


def form() -> Observation:
    els = [
        Element(0, "div", "", {}, (0, 0, 160, 210), -1, 0, True, "style", False),
        Element(1, "input", "", {"type": "text", "value": "", "focused": "true"}, (5, 5, 100, 20), 0, 1, True, "input", True),
        Element(2, "input", "", {"type": "checkbox", "checked": "false"}, (5, 30, 10, 10), 0, 1, True, "input", True),
        Element(3, "input", "", {"type": "radio", "name": "size", "checked": "true"}, (5, 45, 10, 10), 0, 1, True,
                "input", True),
        Element(4, "input", "", {"type": "radio", "name": "size", "checked": "false"}, (5, 60, 10, 10), 0, 1, True,
                "input", True),
        Element(5, "select", "", {"value": "red"}, (5, 75, 60, 20), 0, 1, True, "input", True, ["red", "blue"]),
        Element(6, "button", "Submit", {}, (5, 100, 60, 20), 0, 1, True, "action", True),
    ]
    return Observation("form", 'Type "Ann", tick the box and press Submit.', els, None, "form.html", 0)


def attr(obs: Observation, k: int, key: str) -> str | None:
    return obs.elements[k].attrs.get(key)


def test_afterstate_applies_each_action_kind_locally_and_leaves_the_input_untouched():
    obs = form()
    before = dataclasses.replace(obs, elements=[dataclasses.replace(e, attrs=dict(e.attrs)) for e in obs.elements])
    typed = afterstate(obs, Action.type(1, "Ann"))
    assert attr(typed, 1, "value") == "Ann" and typed.step == 1
    ticked = afterstate(obs, Action.click(2))
    assert attr(ticked, 2, "checked") == "true" and attr(afterstate(ticked, Action.click(2)), 2, "checked") == "false"
    assert attr(ticked, 2, "focused") == "true" and attr(ticked, 1, "focused") is None  # the focus moved
    radio = afterstate(obs, Action.click(4))
    assert (attr(radio, 3, "checked"), attr(radio, 4, "checked")) == ("false", "true")  # one of its group
    assert attr(afterstate(obs, Action.select(5, "blue")), 5, "value") == "blue"
    for unknown in (Action.click(6), Action.press("Enter"), Action.noop(), Action.click(99), Action.type(6, "x")):
        after = afterstate(obs, unknown)
        assert [e.attrs.get("value") for e in after.elements] == [e.attrs.get("value") for e in obs.elements]
        assert [e.attrs.get("checked") for e in after.elements] == [e.attrs.get("checked") for e in obs.elements]
        assert after.step == 1
    assert obs == before  # pure: the live observation is never changed


def test_the_model_keeps_the_real_episode_and_predicts_below_it():
    first = form()
    second = afterstate(first, Action.type(1, "Ann"))  # stands in for the page's real answer
    committed = (Action.type(1, "Ann"),)
    model = AfterstateModel([first, second], list(committed), [0.0, 0.8], fps=4.0)
    assert model.step_to(committed).observation is second  # the committed prefix is the real episode
    deeper = committed + (Action.click(2), Action.click(6))
    out = model.step_to(deeper)
    assert not out.terminal and out.reward == 0.0  # never a verdict: no reward enters the search
    assert attr(out.observation, 2, "checked") == "true" and out.observation.step == 3
    assert model.observations(deeper)[:2] == [first, second] and len(model.observations(deeper)) == 4
    assert model.times(deeper) == [0.0, 0.8, 1.05, 1.3]  # real times, then one frame period per predicted step
    with pytest.raises(ValueError, match="committed"):
        model.step_to((Action.click(6),))  # a prefix that leaves the live episode
    with pytest.raises(ValueError, match="one observation"):
        AfterstateModel([first], list(committed), [0.0])


class Scripted:
    """Stands in for the policy: fixed priors over the page's controls (it prefers Submit), and a value
    that knows the task: ticked box and typed name are good, a submit before them is bad."""

    def __init__(self):
        self.calls = 0

    def decide(self, episodes):
        from strategies.foundation.policy import Decision

        out = []
        for ep in episodes:
            self.calls += 1
            step = ep.steps[-1]
            els = step.elements
            done = [s.action for s in ep.steps[:-1]]
            value = 0.5 * (els[1].attrs.get("value") == "Ann") + 0.5 * (els[2].attrs.get("checked") == "true")
            if any(a.kind == "click" and a.element == 6 for a in done):
                value = value - 1.0
            cands = [Action.click(6), Action.type(1, "Ann"), Action.click(2)]
            out.append(Decision(cands, [0.6, 0.2, 0.2], value))
        return out


def test_value_judged_search_overrules_the_prior_without_any_reward():
    obs = form()
    model = AfterstateModel([obs], [], [0.0])
    policy = Scripted()
    search = MCTS(model, PolicyEvaluator(policy, model, "form"), simulations=7, c_puct=1.0, max_depth=2,
                  key=action_key, stop_on_win=False)
    result = search.search(())
    assert result.expansions <= 7 and policy.calls == result.expansions
    assert all(not n.terminal and n.outcome.reward == 0.0 for n in search.nodes.values() if n.expanded)
    assert result.action != Action.click(6)  # the prior's favourite submits too early; the value says so
    # with a flat value the same search follows the prior
    flat = Scripted()
    flat.decide = lambda eps, inner=flat.decide: [dataclasses.replace(d, value=0.0) for d in inner(eps)]
    search = MCTS(model, PolicyEvaluator(flat, model, "form"), simulations=7, c_puct=1.0, max_depth=2,
                  key=action_key, stop_on_win=False)
    assert search.search(()).action == Action.click(6)
