"""Strategy 1 numbered-instruction format (the SFT target) and its decoding back into actions."""
from __future__ import annotations

import pytest

from strategies.foundation.instructions import (
    action_line, format_instructions, line_to_action, parse_instructions, parse_line,
)
from zoo.web.types import Action, Element


def el(i, tag, text="", attrs=None, bbox=(0, 0, 10, 10), category="action", actionable=True, options=None):
    return Element(i, tag, text, attrs or {}, bbox, -1 if i == 0 else 0, 0 if i == 0 else 1, True, category,
                   actionable, options or [])


PAGE = [
    el(0, "div", bbox=(0, 0, 160, 210), category="style", actionable=False),
    el(1, "input", attrs={"type": "text", "placeholder": "Username"}, bbox=(10, 10, 140, 20), category="input"),
    el(2, "input", attrs={"type": "password", "id": "password"}, bbox=(10, 40, 140, 20), category="input"),
    el(3, "button", "Submit", bbox=(60, 95, 40, 20)),
    el(4, "a", "Next page", bbox=(110, 180, 40, 15), category="link"),
    el(5, "select", attrs={"id": "colors"}, bbox=(5, 150, 50, 20), category="input", options=["Red", "Blue"]),
    el(6, "input", "", {"type": "checkbox", "id": "ch0"}, bbox=(5, 120, 10, 10), category="input"),
]


def test_lines_follow_the_design_note_format():
    lines = [action_line(a, PAGE) for a in (
        Action.click(1), Action.type(1, "Kasey"), Action.click(3), Action.noop(), Action.click(4))]
    assert lines == [
        'Press on the input tag "Username" at the top of the page.',
        'Input "Kasey" into the input tag "Username".',
        'Press on the button "Submit" in the middle of the page.',
        "Wait for the page to update.",
        'Click on the link "Next page" at the bottom right of the page.',
    ]
    text = format_instructions(lines)
    assert text.splitlines()[0].startswith("1. Press on the input tag")
    assert text.splitlines()[4].startswith("5. Click on the link")
    assert parse_instructions(text) == lines


@pytest.mark.parametrize("action", [
    Action.click(1), Action.type(2, "hunter2"), Action.click(3), Action.click(4), Action.select(5, "Blue"),
    Action.click(6), Action.press("Enter"), Action.noop(),
])
def test_every_line_decodes_back_to_its_action(action):
    line = action_line(action, PAGE)
    assert parse_line(line) is not None, line
    assert line_to_action(line, PAGE, Action) == action


def test_long_labels_are_cut_and_quotes_never_break_the_format():
    page = [el(0, "button", 'Say "hello" to everyone on this very long button label')]
    line = action_line(Action.click(0), page)
    assert line.count('"') == 2 and "..." in line
    assert line_to_action(line, page, Action) == Action.click(0)


def test_unparseable_or_unknown_lines_give_none():
    assert parse_line("Do something clever.") is None
    assert line_to_action('Press on the button "Missing" in the middle of the page.', PAGE, Action) is None
    assert parse_instructions("intro\n1. a\n\n2. b\n") == ["a", "b"]
