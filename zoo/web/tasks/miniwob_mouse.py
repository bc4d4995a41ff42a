"""Oracles for the MiniWoB++ tasks done with the pointer: drag and drop, drawing, hover, sliders,
text selection and clicks at points of an SVG drawing.  They act from what the page shows: element
boxes (``bbox``, viewport CSS pixels) and the attributes a person sees as geometry (an SVG shape's
position), never the task's hidden answer.
"""
from __future__ import annotations

import re

from zoo.web.tasks.oracle import by_attr_any, click, first, live, oracle, submit_button
from zoo.web.types import Action, Element, Observation

DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def centre(e: Element) -> tuple[float, float]:
    return e.center


def drag_between(a: tuple[float, float], b: tuple[float, float]) -> Action:
    """Press at ``a``, nudge (so drag libraries see a start), glide to ``b`` and release there."""
    (x0, y0), (x1, y1) = a, b
    return Action.drag([(x0, y0), (x0 + (2 if x1 >= x0 else -2), y0 + (2 if y1 >= y0 else -2)), (x1, y1), (x1, y1)])


def step_once(mem: dict, key: str, action: Action, then: Action) -> Action:
    """``action`` the first time, ``then`` afterwards (a drag followed by Submit)."""
    if not mem.get(key):
        mem[key] = True
        return action
    return then


# ---------------------------------------------------------------- drag a thing somewhere
@oracle("drag-box")
def _drag_box(obs: Observation, mem: dict) -> Action:
    small, large = by_attr_any(obs, "id", "draggableSmall"), by_attr_any(obs, "id", "draggableLarge")
    if small is None or large is None:
        return Action.noop()
    # both boxes sit in one container: put the small box's corner 15 px inside the large box's corner
    (sx, sy), (lx, ly) = small.bbox[:2], large.bbox[:2]
    x, y = centre(small)
    return step_once(mem, "dragged", drag_between((x, y), (x + lx + 15 - sx, y + ly + 15 - sy)), click(submit_button(obs)))


@oracle("drag-circle", "drag-single-shape")
def _drag_shape(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Drag the \w+ (left|right|up|down)", obs.instruction)
    shape = first([e for e in obs.elements if e.tag in ("circle", "rect", "polygon") and e.visible])
    if m is None or shape is None:
        return Action.noop()
    (dx, dy), (x, y) = DIRECTIONS[m.group(1)], centre(shape)
    return step_once(mem, "dragged", drag_between((x, y), (x + 30 * dx, y + 30 * dy)), click(submit_button(obs)))
