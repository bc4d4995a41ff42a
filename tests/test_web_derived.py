"""Typing candidates worked out from the page (zoo/web/derived.py; the agents' ``read_derived``): the word an
instruction names by its position, and the value of a shown sum.  Hand-made elements first, then real pages: with
them the oracle's every step of find-word and simple-arithmetic is one an agent could take, without them none."""
from __future__ import annotations

import pytest

from zoo.web.derived import arithmetic_value, arithmetic_values, derived_texts, named_positions, named_words
from zoo.web.types import Action, Element


def el(i, tag, text, visible=True):
    return Element(i, tag, text, {}, (0.0, 20.0 * i, 100.0, 15.0), 0 if i else -1, 1 if i else 0, visible, "text",
                   False, [])


@pytest.mark.parametrize(("instruction", "positions"), [
    ('Find the 8th word in the paragraph, type that into the textbox and press "Submit".', [8]),
    ("Type the 1st word, then the THIRD word, then the 1st word again.", [1, 3]),
    ("Find the 21st word.", [21]),
    ("Pick the 2nd item from the list.", []),  # only words are resolved
    ("Enter the 4th of July", []),
])
def test_named_positions_read_ordinals_before_the_word_word(instruction, positions):
    assert named_positions(instruction) == positions


def test_named_words_take_that_word_of_every_long_enough_visible_text_without_punctuation():
    page = [el(0, "body", ""), el(1, "p", "Donec at adipiscing. Erat. Ipsum eget. Viverra senectus"),
            el(2, "button", "Submit"), el(3, "p", "one two three four five six seven eight nine", visible=False),
            el(4, "div", "Lorem, ipsum; dolor sit amet consectetur adipiscing elit")]
    assert named_words(page, "Find the 4th word in the paragraph") == [(1, "Erat"), (4, "sit")]
    assert named_words(page, "Find the 9th word") == []  # no visible text has nine words
    assert named_words(page, "Click Submit") == []  # no position named: nothing worked out
    # one text, two positions; a word found twice is offered once
    assert named_words([el(1, "p", "a b a c")], "the 1st word or the 3rd word") == [(1, "a")]


@pytest.mark.parametrize(("text", "value"), [
    ("7 x 6 =", "42"), ("3 - 9 = ", "-6"), ("0 + 0 =", "0"), ("-2 * 4 =", "-8"), ("8 / 2 =", "4"),
    ("7 / 2 =", None), ("5 / 0 =", None), ("7 + x = 61", None), ("x =", None), ("7 x 6", None), ("", None),
])
def test_arithmetic_value_works_out_one_operation_before_an_equals_sign(text, value):
    assert arithmetic_value(text) == value


def test_derived_texts_put_named_words_first_and_skip_hidden_sums():
    page = [el(1, "div", "2 + 2 ="), el(2, "div", "3 x 3 =", visible=False), el(3, "p", "alpha beta gamma 4"),
            el(4, "div", "1 + 3 =")]
    assert arithmetic_values(page) == [(1, "4")]  # the second "4" is not offered again
    assert derived_texts(page, "type the 4th word") == [(3, "4")]  # the sum's "4" is the word's already
    assert derived_texts(page, "type the 2nd word") == [(3, "beta"), (1, "4")]


@pytest.mark.browser
def test_on_real_pages_the_oracles_answers_are_worked_out_candidates(tmp_path):
    """find-word and simple-arithmetic: with ``derived=true`` the action-space probe finds every oracle step
    expressible, without it none (the answer is inside a paragraph, or a sum)."""
    from zoo.config import parse_tool_config
    from zoo.schema.tools import BenchConfig
    from zoo.web.expressible import NOT_TYPABLE, main

    tasks = ["find-word", "simple-arithmetic"]
    common = [f"tasks=[{','.join(tasks)}]", "episodes=2", "num_envs=2", f"out={tmp_path}", "progress=false",
              "max_episode_steps=8"]
    plain = main(parse_tool_config(BenchConfig, common))["summary"]
    worked = main(parse_tool_config(BenchConfig, common + ["derived=true"]))
    assert plain["none_expressible"] == tasks
    assert all(plain["tasks"][t]["reasons"] == {NOT_TYPABLE: 2} for t in tasks)
    assert worked["summary"]["all_expressible"] == tasks and worked["derived"] is True
    assert {t: v["oracle_successes"] for t, v in worked["summary"]["tasks"].items()} == {t: 2 for t in tasks}
    assert (tmp_path / "actions-custom-derived.md").exists() and (tmp_path / "actions-custom.md").exists()
    assert "derived=true" in (tmp_path / "actions-custom-derived.md").read_text()


@pytest.mark.parametrize(("value", "focused", "step"), [
    ("0", True, Action.press("ArrowUp")), ("0", False, Action.click(3)), ("9", True, Action.press("ArrowDown")),
    ("8", True, Action.click(4)),
])
def test_the_spinner_oracle_steps_by_arrows_only_so_its_demonstrations_are_imitable(value, focused, step):
    """use-spinner at "Select 8": PageUp (10 at a time) is no agent's named key, so its oracle steps by arrows,
    one at a time, and submits once the field shows the number; unfocused, it clicks the arrow button first."""
    from zoo.web.tasks.oracle import ORACLES
    from zoo.web.types import NAMED_KEYS, Observation

    attrs = {"id": "spinner", "value": value, **({"focused": "true"} if focused else {})}
    els = [Element(0, "body", "", {}, (0, 0, 160, 210), -1, 0, True, "style", False, []),
           Element(1, "input", "", attrs, (5, 20, 80, 20), 0, 1, True, "input", True, []),
           Element(2, "span", "", {"class": "ui-spinner"}, (5, 20, 100, 20), 0, 1, True, "style", False, []),
           Element(3, "a", "", {"class": "ui-spinner-button ui-spinner-up"}, (90, 20, 15, 10), 2, 2, True, "action",
                   True, []),
           Element(4, "button", "Submit", {"id": "subbtn"}, (5, 60, 50, 20), 0, 1, True, "action", True, [])]
    obs = Observation("use-spinner", "Select 8 with the spinner and hit Submit.", els, None, "use-spinner", 0)
    action = ORACLES["use-spinner"](obs, {})
    assert (action.kind, action.element, action.key) == (step.kind, step.element, step.key)
    assert action.kind != "press" or action.key in NAMED_KEYS
