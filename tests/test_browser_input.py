"""The browser-input helpers' pure parts on hand-made elements: element ids and mouse points."""
import numpy as np
import pytest

from zoo.web.browser_input import action_points, element_index
from zoo.web.types import Action, Element


def _element(i: int, x: float, y: float) -> Element:
    return Element(i, "div", "", {}, (x, y, 20.0, 10.0), -1, 0, True, "container", True)


ELEMENTS = [_element(0, 0.0, 0.0), _element(1, 30.0, 50.0)]


@pytest.mark.parametrize("i, expected", [(0, 0), (1, 1), (np.int64(1), 1)])
def test_element_index_accepts_ids_of_the_observation(i, expected):
    got = element_index(i, 2, "click")
    assert got == expected and type(got) is int


@pytest.mark.parametrize("i", [2, -1, True, 1.0, "1", None])
def test_element_index_names_the_bad_id_and_the_range(i):
    assert element_index(i, 2, "click") == f"click needs an element id in [0, 2), got {i!r}"
    assert element_index(i, 2, "drag", optional=True) == f"drag needs an element id in [0, 2) or none, got {i!r}"


def test_mouse_points_are_offsets_from_the_element_box_when_one_is_named():
    assert action_points(Action.click_at(3, 4), ELEMENTS) == ([(3.0, 4.0)], None)
    assert action_points(Action.click_at(3, 4, element=1), ELEMENTS) == ([(33.0, 54.0)], None)
    assert action_points(Action.drag([(0, 0), (5, 5)], element=1), ELEMENTS) == ([(30.0, 50.0), (35.0, 55.0)], None)


@pytest.mark.parametrize("action, message", [
    (Action.click_at(float("nan"), 4), "click_at needs numeric x and y"),
    (Action.drag([]), "drag needs a path of (x, y) points"),
    (Action("drag", path=[(1, 2, 3)]), "drag needs a path of (x, y) points"),
    (Action("click_at", x=True, y=2.0), "click_at needs numeric x and y"),
    (Action.click_at(1, 2, element=5), "click_at needs an element id in [0, 2) or none, got 5"),
])
def test_malformed_mouse_actions_give_the_reason(action, message):
    assert action_points(action, ELEMENTS) == (None, message)


def test_element_actions_give_their_element_and_argument_or_the_reason():
    from zoo.web.browser_input import element_args

    assert element_args(Action.click(1), ELEMENTS) == (1, None)
    assert element_args(Action("type", element=0, text="hi"), ELEMENTS) == (0, "hi")
    assert element_args(Action("select", element=1, option="b"), ELEMENTS) == (1, "b")
    assert element_args(Action("type", element=0), ELEMENTS) == "type needs text (a string or a span copied from the instruction)"
    assert element_args(Action("select", element=0), ELEMENTS) == "select needs an option (the option's text)"
    assert element_args(Action("type", element=7, text="x"), ELEMENTS) == "type needs an element id in [0, 2), got 7"
