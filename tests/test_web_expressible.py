"""``zoo bench actions``: which oracle steps the learned agents' element action space could take, decided on
hand-made observations, then the probe on real Chromium pages."""
from __future__ import annotations

import json

import pytest

from zoo.web.expressible import unexpressible
from zoo.web.types import Action, Element, Observation


NOT_A_SPAN = "types text that is neither an instruction span nor a text on the page"


def _obs(instruction: str) -> Observation:
    field = Element(0, "input", "", {"type": "text"}, (0, 0, 50, 10), -1, 0, True, "input", True)
    menu = Element(1, "select", "", {}, (0, 20, 50, 10), -1, 0, True, "input", True, options=["red", "blue"])
    cell = Element(2, "td", "  Pale\n blue ", {}, (0, 40, 50, 10), -1, 0, True, "text", False)
    hidden = Element(3, "td", "secret", {}, (0, 0, 0, 0), -1, 0, False, "text", False)
    paragraph = Element(4, "p", "one two three four five six seven eight nine ten", {}, (0, 60, 50, 10), -1, 0, True,
                        "text", False)
    return Observation("t", instruction, [field, menu, cell, hidden, paragraph])


def test_typed_text_must_be_an_instruction_span_or_a_page_text_and_keys_must_be_named():
    obs = _obs('Enter "bob smith" as the name, then 02/05/2014 at 5:09 PM.')
    assert unexpressible(Action("type", element=0, text="bob smith"), obs) is None  # a quoted span
    assert unexpressible(Action("type", element=0, text="02/05/2014"), obs) is None  # a word
    assert unexpressible(Action("type", element=0, text="5:09 PM"), obs) is None  # a clock time, one span
    assert unexpressible(Action("type", element=0, text="2014-02-05"), obs) == NOT_A_SPAN
    assert unexpressible(Action("type", element=0, text="Pale blue"), obs) is None  # a visible cell, as shown
    assert unexpressible(Action("type", element=0, text="secret"), obs) == NOT_A_SPAN  # hidden
    assert unexpressible(Action("type", element=0, text="three"), obs) == NOT_A_SPAN  # a word inside a paragraph
    assert unexpressible(Action("select", element=1, option="blue"), obs) is None  # the element's own option
    assert unexpressible(Action("select", element=1, option="green"), obs).startswith("selects an option")
    assert unexpressible(Action("press", key="Enter"), obs) is None
    assert unexpressible(Action("press", key="7"), obs).startswith("presses a key no strategy names")
    assert unexpressible(Action("click_at", x=3, y=4), obs) == "a mouse action at a point"
    assert unexpressible(Action("click", element=9), obs) == "targets no element of the observation"
    assert unexpressible(Action("wait", ms=100), obs) is None and unexpressible(Action("noop"), obs) is None
    # text an earlier page's instruction showed may be typed on a later page
    later = _obs("Enter the code you were shown.")
    assert unexpressible(Action("type", element=0, text="X7Q2"), later) == NOT_A_SPAN
    assert unexpressible(Action("type", element=0, text="X7Q2"), later, ("Remember the code X7Q2.",)) is None


def test_a_targets_slot_rank_follows_the_order_both_strategies_fill_their_slots():
    from zoo.schema.model import ModelConfig
    from zoo.web.expressible import DEFAULT_SLOTS, slot_rank, summarise

    obs = _obs("Click it.")  # visible: field, menu (actionable), cell, paragraph (texts); the hidden cell last
    assert [slot_rank(Action.click(i), obs) for i in range(5)] == [0, 1, 2, None, 3]
    assert slot_rank(Action.press("Enter"), obs) is None and slot_rank(Action.click(9), obs) is None
    episodes = [("t", [[None, 0], ["press", None], [None, 50]]), ("t", [[None, 47]])]
    out = summarise(episodes, {"tasks": {"t": {"successes": 2}}}, ["t"])
    assert out["tasks"]["t"]["slots_needed"] == 51 and out["tasks"]["t"]["beyond_slots"] == 1
    assert out["beyond_slots"] == ["t"] and out["tasks"]["t"]["expressible_episodes"] == 2
    assert summarise(episodes, {"tasks": {"t": {"successes": 2}}}, ["t"], slots=64)["beyond_slots"] == []
    assert DEFAULT_SLOTS == ModelConfig().max_elements


@pytest.mark.browser
def test_the_probe_marks_what_the_space_cannot_take_on_real_pages(tmp_path):
    """click-button: every step expressible; read-table: the oracle copies a table cell, a text on the page;
    find-word: it types a word from inside the paragraph, which no candidate holds; enter-date: it types the
    instruction's date into a date field; book-flight: it types each city's first word (an instruction span) and
    picks the city from the suggestions.  Every oracle episode is counted once."""
    from zoo.schema.tools import BenchConfig
    from zoo.web.expressible import main
    from zoo.config import parse_tool_config

    tasks = ["click-button", "read-table", "find-word", "enter-date", "book-flight"]
    cfg = parse_tool_config(BenchConfig, [f"tasks=[{','.join(tasks)}]", "episodes=2", "num_envs=2",
                                          f"out={tmp_path}", "progress=false", "max_episode_steps=16"])
    report = main(cfg)
    per_task = report["summary"]["tasks"]
    assert {t: v["episodes"] for t, v in per_task.items()} == {t: 2 for t in tasks}
    assert all(v["oracle_successes"] == 2 for v in per_task.values())
    assert {t: v["expressible_episodes"] for t, v in per_task.items()} == {
        "click-button": 2, "read-table": 2, "find-word": 0, "enter-date": 2, "book-flight": 2}
    assert per_task["find-word"]["reasons"] == {NOT_A_SPAN: 2}
    assert report["summary"]["none_expressible"] == ["find-word"]
    saved = json.loads((tmp_path / "actions-custom.json").read_text())
    assert saved["schema"] == "actionzoo.actions/1" and saved["summary"] == report["summary"]
    assert "| find-word | 2/2 | 0/2 |" in (tmp_path / "actions-custom.md").read_text()
    assert all(0 < v["slots_needed"] <= 48 and v["beyond_slots"] == 0 for v in per_task.values())
