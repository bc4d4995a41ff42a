"""The mouse action kinds on real Chromium: a coordinate click lands where aimed (viewport point or an
offset inside an element), double-click, hover, wheel scroll of a scrollable box, drag and drop on a
MiniWoB page, and keyboard copy / paste between two fields (Ctrl+A / Ctrl+C / Ctrl+V)."""
from __future__ import annotations

from pathlib import Path

import pytest

from zoo.web.env import WebEnv
from zoo.web.tasks import TaskSpec
from zoo.web.types import Action

pytestmark = pytest.mark.browser

PAGES = Path(__file__).resolve().parent / "web_pages"
MOUSE_PAGE = TaskSpec("test-mouse", "zoo", "test/mouse.html", multipage=True)


@pytest.fixture(scope="module")
def env():
    e = WebEnv("drag-box", max_episode_steps=12, step_timeout_s=5.0, extra_roots={"test": PAGES})
    yield e
    e.close()


def by_id(obs, element_id):
    return next(e for e in obs.elements if e.attrs.get("id") == element_id)


def text_of(obs, element_id):
    return by_id(obs, element_id).text


def step(env, action):
    obs, reward, term, trunc, info = env.step(action)
    assert not info["invalid"], info["invalid"]
    return obs, reward, term, info


def test_click_at_lands_on_the_aimed_point(env):
    obs, _ = env.reset(seed=1, options={"task": MOUSE_PAGE})
    x, y, _, _ = by_id(obs, "pad").bbox
    obs, *_ = step(env, Action.click_at(x + 7, y + 31))  # viewport coordinates
    assert text_of(obs, "clicked") == "7,31"
    pad = by_id(obs, "pad")
    obs, *_ = step(env, Action.click_at(50, 3, element=pad.id))  # an offset inside the element
    assert text_of(obs, "clicked") == "50,3" and text_of(obs, "dbl") == "single"
    obs, *_ = step(env, Action.dblclick_at(5, 5, element=by_id(obs, "pad").id))
    assert text_of(obs, "dbl") == "double"
    obs, *_ = step(env, Action.click_at(200, 250))  # outside the pad: its handler does not fire
    assert text_of(obs, "clicked") == "5,5"


def test_hover_fires_over_and_out(env):
    obs, _ = env.reset(seed=2, options={"task": MOUSE_PAGE})
    assert text_of(obs, "hovered") == "never"
    obs, *_ = step(env, Action.move(*by_id(obs, "spot").center))
    assert text_of(obs, "hovered") == "over"
    outs = int(text_of(obs, "outs"))
    obs, *_ = step(env, Action.move(300, 300))
    assert text_of(obs, "hovered") == "out" and int(text_of(obs, "outs")) == outs + 1  # left once, by the browser


def test_an_element_click_elsewhere_leaves_the_element_the_pointer_was_over(env):
    """Element clicks move the page-side pointer: the element it leaves gets mouseout, as under a real pointer."""
    obs, _ = env.reset(seed=5, options={"task": MOUSE_PAGE})
    obs, *_ = step(env, Action.click(by_id(obs, "spot").id))
    assert text_of(obs, "hovered") == "over"
    obs, *_ = step(env, Action.click(by_id(obs, "pad").id))
    assert text_of(obs, "hovered") == "out"


def test_an_element_click_leaves_the_element_the_browser_pointer_moved_over(env):
    """A coordinate move puts the browser's own pointer over an element; a later element click elsewhere leaves it
    (once), as the page-side pointer's own moves do."""
    obs, _ = env.reset(seed=6, options={"task": MOUSE_PAGE})
    obs, *_ = step(env, Action.move(*by_id(obs, "spot").center))
    assert text_of(obs, "hovered") == "over"
    outs = int(text_of(obs, "outs"))
    obs, *_ = step(env, Action.click(by_id(obs, "pad").id))
    assert text_of(obs, "hovered") == "out" and int(text_of(obs, "outs")) == outs + 1


def test_a_coordinate_move_leaves_the_element_an_element_click_was_over(env):
    """After an element click the browser's pointer is still where it was; when it next moves, the element the
    click was over is left (once) all the same."""
    obs, _ = env.reset(seed=7, options={"task": MOUSE_PAGE})
    obs, *_ = step(env, Action.move(300, 300))
    obs, *_ = step(env, Action.click(by_id(obs, "spot").id))
    assert text_of(obs, "hovered") == "over"
    outs = int(text_of(obs, "outs"))
    obs, *_ = step(env, Action.move(*by_id(obs, "pad").center))
    assert text_of(obs, "hovered") == "out" and int(text_of(obs, "outs")) == outs + 1


def test_a_slider_track_click_moves_the_handle_after_the_handle_was_hovered(env):
    """form-sequence's jQuery UI slider ignores a click on its track while its handle keeps a hover state: the
    handle was clicked, then a checkbox, then the track's centre (value 0 of -10..10) must move the handle there."""
    obs, _ = env.reset(seed=1000009, options={"task": "form-sequence"})
    start = text_of(obs, "val")
    assert start not in ("-1", "0", "1")  # the handle is away from the centre (this seed: -6)
    handle = next(e for e in obs.elements if "ui-slider-handle" in (e.attrs.get("class") or ""))
    obs, *_ = step(env, Action.click(handle.id))
    assert text_of(obs, "val") == start
    box = next(e for e in obs.elements if e.attrs.get("type") == "checkbox")
    obs, *_ = step(env, Action.click(box.id))
    obs, *_ = step(env, Action.click(by_id(obs, "slider").id))
    assert text_of(obs, "val") == "0"


def test_wheel_scrolls_the_box_under_the_pointer(env):
    obs, _ = env.reset(seed=3, options={"task": MOUSE_PAGE})
    box, tall = by_id(obs, "box"), by_id(obs, "tall")
    obs, *_ = step(env, Action.scroll(*box.center, dy=120))
    moved = tall.bbox[1] - by_id(obs, "tall").bbox[1]
    assert 0 < moved <= 120 and by_id(obs, "box").bbox == box.bbox  # the content moved, not the box
    obs, *_ = step(env, Action.scroll(*box.center, dy=-500))
    assert by_id(obs, "tall").bbox[1] == tall.bbox[1]


def test_drag_moves_a_box_into_another(env):
    obs, _ = env.reset(seed=4, options={"task": "drag-box"})
    small, large = by_id(obs, "draggableSmall"), by_id(obs, "draggableLarge")
    dx, dy = large.bbox[0] + 15 - small.bbox[0], large.bbox[1] + 15 - small.bbox[1]
    x, y = small.center
    obs, reward, term, _ = step(env, Action.drag([(x, y), (x + 2, y + 2), (x + dx, y + dy)]))
    moved = by_id(obs, "draggableSmall").bbox
    assert not term and moved[:2] == (small.bbox[0] + dx, small.bbox[1] + dy)
    obs, reward, term, info = step(env, Action.click(by_id(obs, "subbtn").id))
    assert term and info["episode"]["raw_reward"] == 1


def test_drag_that_misses_leaves_the_box(env):
    obs, _ = env.reset(seed=4, options={"task": "drag-box"})
    small = by_id(obs, "draggableSmall")
    obs, *_ = step(env, Action.drag([(150, 200), (100, 100)]))  # pressed on the Submit area's margin, not a box
    assert by_id(obs, "draggableSmall").bbox == small.bbox


def test_keyboard_copy_and_paste_between_fields(env):
    obs, _ = env.reset(seed=5, options={"task": "copy-paste"})
    source, target = by_id(obs, "to-copy"), by_id(obs, "answer-input")
    assert source.attrs["value"] and not target.attrs.get("value")
    for action in (Action.click(source.id), Action.press("Control+a"), Action.press("Control+c"),
                   Action.click(target.id), Action.press("Control+v")):
        obs, *_ = step(env, action)
    assert by_id(obs, "answer-input").attrs["value"] == source.attrs["value"]
    _, _, term, info = step(env, Action.click(by_id(obs, "subbtn").id))
    assert term and info["episode"]["raw_reward"] == 1


@pytest.mark.parametrize("action, message", [
    (Action("drag", path=[]), "drag needs a path"),
    (Action("drag", path=[(1, 2, 3)]), "drag needs a path"),
    (Action("click_at", x=float("nan"), y=1.0), "click_at needs numeric x and y"),
    (Action("move", x=None, y=1.0), "move needs numeric x and y"),
    (Action.click_at(1, 1, element=999), "needs an element id in [0,"),
])
def test_malformed_mouse_actions_are_invalid_not_fatal(env, action, message):
    env.reset(seed=6, options={"task": MOUSE_PAGE})
    obs, reward, term, trunc, info = env.step(action)
    assert message in info["invalid"] and reward < 0 and not term and text_of(obs, "clicked") == "none"
