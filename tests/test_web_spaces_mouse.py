"""ActionSpace with the mouse action kinds: which actions it contains, and that sampling keeps to the
element kinds unless the space asks for mouse kinds (no browser)."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.web.spaces import ActionSpace
from zoo.web.types import ELEMENT_ACTION_KINDS, MOUSE_ACTION_KINDS, Action


@pytest.mark.parametrize("action", [
    Action.click_at(10, 20), Action.dblclick_at(0.5, 7.25), Action.move(3, 4, element=9),
    Action.drag([(1, 2)]), Action.drag([(1, 2), (30, 40), (-5, 500)], element=0),
    Action.scroll(80, 100, dy=-100), Action.click_at(np.float32(3), np.int64(4)),
])
def test_well_formed_mouse_actions_are_in_the_space(action):
    assert action in ActionSpace(max_elements=10)


@pytest.mark.parametrize("action", [
    Action("click_at", x=None, y=1.0), Action("move", x=float("nan"), y=1.0), Action("dblclick_at", x=True, y=1.0),
    Action.click_at(1, 2, element=10), Action.click_at(1, 2, element=-1), Action("move", x=1.0, y=2.0, element=1.5),
    Action("drag", path=None), Action("drag", path=[]), Action("drag", path=[(1, 2, 3)]),
    Action("drag", path=[(1, float("inf"))]), Action.drag([(k, k) for k in range(17)]),
    Action("scroll", x=1.0, y=2.0, dx=float("nan")), Action("scroll", x=1.0, y=2.0, dy="down"),
])
def test_malformed_mouse_actions_are_not(action):
    assert action not in ActionSpace(max_elements=10)


def test_default_sampling_draws_element_kinds_only():
    space = ActionSpace(max_elements=8, seed=0)
    kinds = {space.sample().kind for _ in range(300)}
    assert kinds == set(ELEMENT_ACTION_KINDS)


def test_mouse_sampling_draws_every_kind_inside_the_task_area():
    space = ActionSpace(max_elements=8, seed=0, mouse=True)
    actions = [space.sample(mask=np.array([False, True] + [False] * 6)) for _ in range(600)]
    assert {a.kind for a in actions} == set(ELEMENT_ACTION_KINDS + MOUSE_ACTION_KINDS)
    assert all(a in space for a in actions)
    for a in actions:
        if a.kind in ("click", "type", "select"):
            assert a.element == 1  # the mask still steers element actions
        elif a.kind in MOUSE_ACTION_KINDS:
            points = a.path if a.kind == "drag" else [(a.x, a.y)]
            assert a.element is None and all(0 <= x <= 160 and 0 <= y <= 210 for x, y in points)
    scrolls = [a for a in actions if a.kind == "scroll"]
    assert {a.dy for a in scrolls} == {-100.0, 0.0, 100.0}


def test_seeded_sampling_repeats_and_spaces_compare_by_settings():
    a, b = ActionSpace(seed=3, mouse=True), ActionSpace(seed=3, mouse=True)
    assert [str(a.sample()) for _ in range(20)] == [str(b.sample()) for _ in range(20)]
    assert a == b and a != ActionSpace() and ActionSpace() == ActionSpace()
    assert "mouse=True" in repr(a)
