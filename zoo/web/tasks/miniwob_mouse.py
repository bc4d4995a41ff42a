"""Oracles for the MiniWoB++ tasks done with the pointer: drag and drop, resizing, sliders, text selection
and drawing (clicks at points of an SVG drawing: miniwob_geometry.py).  They act from what the page shows: element
boxes (``bbox``, viewport CSS pixels) and the attributes a person sees as geometry (an SVG shape's
position), never the task's hidden answer.
"""
from __future__ import annotations

import math
import re

from zoo.web.tasks.oracle import by_attr_any, click, first, oracle, submit_button
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


# ---------------------------------------------------------------- sortable lists (jQuery UI sortable)
def glide(a: tuple[float, float], b: tuple[float, float], n: int = 16) -> Action:
    """A drag from ``a`` to ``b`` through ``n`` evenly spaced points (sortables re-sort as they pass)."""
    (x0, y0), (x1, y1) = a, b
    path = [(x0, y0), (x0 + 1, y0 + 1)] + [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return Action.drag(path + [(x1 + 1, y1 + 1), (x1, y1)])


def sortable_items(obs: Observation) -> list[tuple[Element, str]]:
    """The ``li`` items of ``#sortable`` in page order, each with its label text."""
    ul = by_attr_any(obs, "id", "sortable")
    if ul is None:
        return []
    items = [e for e in obs.children(ul.id) if e.tag == "li"]
    return [(li, " ".join(c.text for c in obs.children(li.id) if c.text)) for li in items]


OVERSHOOT = 0.3
ORDINAL = re.compile(r"to the (\d+)(?:st|nd|rd|th) position")
GRID_PLACES = {"top left": 1, "top center": 2, "top right": 3, "center left": 4, "center": 5, "center right": 6,
               "bottom left": 7, "bottom center": 8, "bottom right": 9}


def list_target(rest: str, ix: int, n: int) -> int | None:
    """1-based target position in a list of ``n`` from drag-items' wording (``ix``: the item's position)."""
    m = ORDINAL.search(rest)
    if m:
        return int(m.group(1))
    for words, target in (("to the top", 1), ("to the bottom", n), ("down by one", ix + 1), ("up by one", ix - 1)):
        if rest.startswith(words):
            return target
    return None


def grid_target(rest: str, ix: int) -> int | None:
    """1-based cell (row-major, 3 x 3) from drag-items-grid's wording."""
    moves = {"up by one": ix - 3, "down by one": ix + 3, "left by one": ix - 1, "right by one": ix + 1}
    for words, target in moves.items():
        if rest.startswith(words):
            return target
    m = re.match(r"to the (.+?)\.?$", rest)
    return GRID_PLACES.get(m.group(1)) if m else None


def past(item: Element, target: Element, frac: float = OVERSHOOT) -> tuple[float, float]:
    """The target's centre pushed on a little in the direction of travel (a sortable only swaps an
    item once the dragged one has moved past the item's middle)."""
    (x0, y0), (x1, y1) = centre(item), centre(target)
    sx = (x1 > x0) - (x1 < x0)
    sy = (y1 > y0) - (y1 < y0)
    return x1 + sx * frac * target.bbox[2], y1 + sy * frac * target.bbox[3]


@oracle("drag-items", "drag-items-grid")
def _drag_items(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Drag (.+?) ((?:to|up|down|left|right) .*)$", obs.instruction)
    items = sortable_items(obs)
    names = [name for _, name in items]
    if m is None or m.group(1) not in names or mem.get("dragged"):
        return Action.noop()
    ix = names.index(m.group(1)) + 1
    grid = obs.task == "drag-items-grid"
    target = grid_target(m.group(2), ix) if grid else list_target(m.group(2), ix, len(items))
    if target is None or not 1 <= target <= len(items):
        return Action.noop()
    mem["dragged"] = True
    item, goal = items[ix - 1][0], items[target - 1][0]
    if not grid:
        return glide(centre(item), past(item, goal))
    # a floating sortable puts the item after the one under the pointer when the pointer last moved
    # right, before it when it moved left: end with a short horizontal sweep across the goal cell
    (gx, gy), side = centre(goal), (1 if target < ix else -1) * goal.bbox[2]
    route = glide(centre(item), (gx + 0.35 * side, gy)).path or []
    return Action.drag(route + [(gx + 0.35 * side - 0.2 * side * k, gy) for k in range(1, 5)])


@oracle("drag-sort-numbers")
def _drag_sort_numbers(obs: Observation, mem: dict) -> Action:
    items = sortable_items(obs)
    values = [int(name) for _, name in items]
    for i in range(len(values)):  # selection sort: bring the smallest of the rest to position i
        j = min(range(i, len(values)), key=lambda k: values[k])
        if values[j] < values[i]:
            (x0, y0), (x1, y1) = centre(items[j][0]), centre(items[i][0])
            # a point every ~12 px (half an item: the list re-sorts as the pointer passes each item's middle),
            # not more: every point is four pointer events, and under load the page's 10 s pass quickly
            return glide((x0, y0), (x1, y1), n=max(3, math.ceil(abs(y1 - y0) / 12)))
    return click(submit_button(obs))


# ---------------------------------------------------------------- jQuery UI sliders
def slider_step(obs: Observation, mem: dict, slider: Element, handle: Element, shown: Element, target: int) -> Action | None:
    """One action towards ``target`` on a slider whose value is shown in ``shown``; None once it is there.

    Like a person who does not know the range: drag the handle to each end and read the value there,
    drag to where the target falls between them, then nudge with the arrow keys (the handle keeps focus)."""
    value = int(shown.text)
    if value == target:
        return None
    state = mem.setdefault(slider.attrs.get("id", str(slider.id)), {"phase": 0})
    x, y, w, h = slider.bbox
    vertical = "ui-slider-vertical" in slider.attrs.get("class", "")
    grab = centre(handle)
    # positions along the track of the min and max ends, a little beyond them (the slider clamps)
    ends = [(grab[0], y + h + 15), (grab[0], max(1.0, y - 15))] if vertical else [(max(1.0, x - 15), grab[1]), (x + w + 15, grab[1])]
    phase = state["phase"]
    state["phase"] = phase + 1
    if phase == 0:
        return glide(grab, ends[0], n=4)
    if phase == 1:
        state["lo"] = value
        return glide(grab, ends[1], n=4)
    if phase == 2:
        state["hi"] = value
        frac = (target - state["lo"]) / max(1, state["hi"] - state["lo"])
        goal = (grab[0], y + h - frac * h) if vertical else (x + frac * w, grab[1])
        return glide(grab, goal, n=4)
    if handle.attrs.get("focused") != "true":
        return Action.click_at(*grab)
    up = value < target
    return Action.press(("ArrowUp" if up else "ArrowDown") if vertical else ("ArrowRight" if up else "ArrowLeft"))


def slider_parts(obs: Observation, slider: Element) -> Element | None:
    return first([c for c in obs.children(slider.id) if "ui-slider-handle" in c.attrs.get("class", "")])


@oracle("use-slider")
def _use_slider(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Select (-?\d+) with the slider", obs.instruction)
    slider, shown = by_attr_any(obs, "id", "slider"), by_attr_any(obs, "id", "val")
    handle = slider_parts(obs, slider) if slider else None
    if m is None or handle is None or shown is None:
        return Action.noop()
    return slider_step(obs, mem, slider, handle, shown, int(m.group(1))) or click(submit_button(obs))


@oracle("use-slider-2")
def _use_slider_2(obs: Observation, mem: dict) -> Action:
    m = re.search(r"combination \[([-\d,\s]+)\]", obs.instruction)
    if m is None:
        return Action.noop()
    for k, target in enumerate(int(v) for v in m.group(1).split(",")):
        slider, shown = by_attr_any(obs, "id", f"slider-{k + 1}"), by_attr_any(obs, "id", f"val-{k + 1}")
        handle = slider_parts(obs, slider) if slider else None
        if handle is None or shown is None:
            return Action.noop()
        action = slider_step(obs, mem, slider, handle, shown, target)
        if action is not None:
            return action
    return click(submit_button(obs))


# ---------------------------------------------------------------- text selection by dragging
def select_block(e: Element) -> Action:
    """Drag from before the first character of a text block to the end of its last line."""
    x, y, w, h = e.bbox
    line = min(h, 11.0)
    return Action.drag([(x + 0.5, y + line / 2), (x + w / 2, y + h / 2), (x + w - 0.5, y + h - line / 2)])


@oracle("highlight-text", "highlight-text-2")
def _highlight_text(obs: Observation, mem: dict) -> Action:
    block = by_attr_any(obs, "id", "randomText")
    if block is None:
        return Action.noop()
    m = re.search(r"the (\d)(?:st|nd|rd) paragraph", obs.instruction)
    if m:
        paragraphs = [e for e in obs.children(block.id) if e.tag == "p"]
        block = paragraphs[int(m.group(1)) - 1]
    return step_once(mem, "selected", select_block(block), click(submit_button(obs)))


@oracle("resize-textarea")
def _resize_textarea(obs: Observation, mem: dict) -> Action:
    m = re.search(r"the (width|height) is (smaller|larger)", obs.instruction)
    grip = first([e for e in obs.elements if "ui-resizable-se" in e.attrs.get("class", "").split() and e.visible])
    if m is None or grip is None:
        return Action.noop()
    sign = 1 if m.group(2) == "larger" else -1
    dx, dy = (15 * sign, 0) if m.group(1) == "width" else (0, 15 * sign)
    x, y = centre(grip)
    return step_once(mem, "resized", drag_between((x, y), (x + dx, y + dy)), click(submit_button(obs)))


# ---------------------------------------------------------------- SVG shapes dragged into boxes (shapes.drag)
SHAPE_TAGS = {"rectangles": "rect", "circles": "circle", "triangles": "polygon"}
# shapes.drag puts a shape's top-left corner this many widths up-left of the pointer
GRAB = {"rect": 0.5, "circle": 0.6, "polygon": 0.4}


def drop_into(shape: Element, box: Element, slot: int) -> Action:
    """Drag ``shape`` so that its top-left corner lands in cell ``slot`` of a 4-wide grid inside ``box``."""
    corner = (box.bbox[0] + 3 + 16 * (slot % 4), box.bbox[1] + 3 + 20 * (slot // 4))
    k = GRAB[shape.tag] * shape.bbox[2]
    return glide(centre(shape), (corner[0] + k, corner[1] + k), n=4)


@oracle("drag-shapes", "drag-shapes-2")
def _drag_shapes(obs: Observation, mem: dict) -> Action:
    boxes = sorted((e for e in obs.elements if e.attrs.get("id") == "shape-container"), key=lambda e: e.bbox[0])
    shapes = [e for e in obs.elements if e.tag in GRAB and e.attrs.get("id") != "shape-container"]
    by_kind = re.search(r"Drag all (rectangles|circles|triangles)", obs.instruction)
    by_colour = re.search(r"Drag all (\w+) shapes", obs.instruction)
    if not boxes or not shapes or not (by_kind or by_colour):
        return Action.noop()
    moved, filled = mem.setdefault("moved", set()), mem.setdefault("filled", [0] * len(boxes))
    for k, shape in enumerate(shapes):
        wanted = shape.tag == SHAPE_TAGS[by_kind.group(1)] if by_kind else shape.attrs.get("fill") == by_colour.group(1)
        if k in moved or (not wanted and len(boxes) == 1):
            continue
        moved.add(k)
        b = 0 if wanted else 1  # drag-shapes-2: the left box for the wanted shapes, the right one for the rest
        filled[b] += 1
        return drop_into(shape, boxes[b], filled[b] - 1)
    return click(submit_button(obs))


# ---------------------------------------------------------------- drawing with the pointer (d3.drag paths)
@oracle("draw-circle")
def _draw_circle(obs: Observation, mem: dict) -> Action:
    dot = by_attr_any(obs, "id", "circ")
    if dot is None:
        return Action.noop()
    (cx, cy), radius = centre(dot), 15.0
    ring = [(cx + radius * math.cos(2 * math.pi * k / 36), cy + radius * math.sin(2 * math.pi * k / 36)) for k in range(37)]
    return step_once(mem, "drawn", Action.drag(ring), click(submit_button(obs)))


@oracle("draw-line")
def _draw_line(obs: Observation, mem: dict) -> Action:
    """The page scores the line against a point 4 px up-left of the dot's centre (its own offset), and
    how straight and long it is from a few pointer samples."""
    dot = by_attr_any(obs, "id", "circ")
    m = re.search(r"Draw a (horizontal|vertical) line", obs.instruction)
    if dot is None or m is None:
        return Action.noop()
    x, y = centre(dot)
    x, y = x - 4, y - 4
    # pressed on the dot (always inside the drawing area), then out 30 px one way and 30 px the other
    path = [(x, y), (x - 30, y), (x + 30, y)] if m.group(1) == "horizontal" else [(x, y), (x, y - 30), (x, y + 30)]
    return step_once(mem, "drawn", Action.drag(path), click(submit_button(obs)))


@oracle("use-colorwheel")
def _use_colorwheel(obs: Observation, mem: dict) -> Action:
    """The picker's field takes a hex code, like a person who knows the colour's name would type it."""
    from PIL import ImageColor

    m = re.search(r"Select (\w+) with the color picker", obs.instruction)
    field = by_attr_any(obs, "id", "col")
    if m is None or field is None:
        return Action.noop()
    try:
        code = "{:02X}{:02X}{:02X}".format(*ImageColor.getrgb(m.group(1))[:3])
    except ValueError:  # not a colour name
        return Action.noop()
    if field.attrs.get("value", "").upper() != code:
        return Action.type(field.id, code)
    return click(submit_button(obs))
