"""Oracles for the MiniWoB++ click pages drawn as pictures or opened step by step: SVG shapes, letters
and digits, the coordinate grid, menus (hover to open), the pie menu, the multi-select list, and two
pages that only pixels show (count-sides draws on a canvas; click-menu-2 may name an item by an icon
drawn in the instruction box): those read the screenshot and need an agent that asks for full-size
screenshots (``screenshot_size=0``).
"""
from __future__ import annotations

import re
import time

from zoo.web.tasks.miniwob_click import labeled_button
from zoo.web.tasks.oracle import click, first, has_class, live, oracle, pause, quoted, submit_button
from zoo.web.types import Action, Element, Observation


# ---------------------------------------------------------------- shapes, letters and digits drawn in SVG
SHAPE_TAGS = {"circle": "circle", "rect": "rectangle", "polygon": "triangle"}
SHAPE_COLOURS = ("red", "green", "blue", "aqua", "black", "magenta", "yellow")


def drawn_items(obs: Observation) -> list[Element]:
    """The shapes, letters and digits drawn in the task's SVG."""
    return [e for e in obs.elements if e.visible and (e.tag in SHAPE_TAGS or (e.tag == "text" and len(e.text) == 1))]


def item_kind(e: Element) -> tuple[str, str]:
    """(type, name) as a person names it: ('shape', 'circle'), ('digit', '7'), ('letter', 'q')."""
    if e.tag in SHAPE_TAGS:
        return "shape", SHAPE_TAGS[e.tag]
    return ("digit" if e.text.isdigit() else "letter"), e.text


def matches(e: Element, description: str) -> bool:
    """Does a drawn item fit a description like 'large red circle', 'small letter', 'blue item', 'Q'?"""
    words = description.split()
    if not words:
        return False
    *adjectives, noun = words
    kind, name = item_kind(e)
    large = e.bbox[3] >= 15  # large items are drawn 20 px tall, small ones 10 px
    for adj in adjectives:
        if adj in ("large", "small") and (adj == "large") != large:
            return False
        if adj in SHAPE_COLOURS and e.attrs.get("fill") != adj:
            return False
    return noun == "item" or noun == kind or noun == name


@oracle("click-shape")
def _click_shape(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Click on an? (.+)", obs.instruction)
    return click(first([e for e in drawn_items(obs) if m and matches(e, m.group(1).strip())]))


@oracle("count-shape")
def _count_shape(obs: Observation, mem: dict) -> Action:
    m = re.match(r"How many (.+)s are there\?", obs.instruction)
    if m is None:
        return Action.noop()
    n = sum(matches(e, m.group(1).strip()) for e in drawn_items(obs))
    return click(labeled_button(obs, str(n)))


@oracle("identify-shape")
def _identify_shape(obs: Observation, mem: dict) -> Action:
    item = first(drawn_items(obs))
    if item is None:
        return Action.noop()
    kind, name = item_kind(item)
    label = {"digit": "Number", "letter": "Letter"}.get(kind) or name.capitalize()
    return click(labeled_button(obs, label))


@oracle("grid-coordinate")
def _grid_coordinate(obs: Observation, mem: dict) -> Action:
    """Read the point's place off the axis labels (the origin label marks 0 on both axes)."""
    m = re.search(r"\((-?\d+),(-?\d+)\)", obs.instruction)
    if m is None:
        return Action.noop()

    def label_centre(axis: str, value: str) -> tuple[float, float] | None:
        if value == "0":
            origin = first([e for e in obs.elements if e.attrs.get("id") == "origin"])
            return origin.center if origin else None
        box = first([e for e in obs.elements if e.attrs.get("id") == f"{axis}-labels"])
        label = first([e for e in obs.children(box.id) if e.text == value]) if box else None
        return label.center if label else None

    x, y = label_centre("x", m.group(1)), label_centre("y", m.group(2))
    points = [e for e in live(obs) if e.tag == "circle"]
    if x is None or y is None or not points:
        return Action.noop()
    return Action.click(min(points, key=lambda e: abs(e.center[0] - x[0]) + abs(e.center[1] - y[1])).id)


# ---------------------------------------------------------------- menus
MENU_DELAY_S = 0.3  # jQuery UI menus open a submenu this long after the pointer comes to rest on its item


def _hover_open(obs: Observation, mem: dict, item: Element) -> Action:
    """Rest the pointer on a menu item so its submenu opens: wait out the menu's delay in one wait (then
    look every 0.1 s), and point at the item again if the submenu has not come after a second."""
    key = ("hover", item.text)
    rested = time.monotonic() - mem[key] if key in mem else None
    if rested is None or rested > 1.0:
        mem[key] = time.monotonic()
        x, y = item.center
        return Action.move(x, y)
    return pause(max(MENU_DELAY_S + 0.03 - rested, 0.1))


def _menu_item(obs: Observation, text: str) -> Element | None:
    return first([e for e in live(obs) if e.attrs.get("role") == "menuitem" and e.text == text])


@oracle("click-menu")
def _click_menu(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Select (.+)", obs.instruction)
    path = m.group(1).split(">") if m else []
    shown = [_menu_item(obs, name) for name in path]
    if not path or shown[0] is None:
        return Action.noop()
    if shown[-1] is not None:
        return Action.click(shown[-1].id)
    deepest = max(i for i, e in enumerate(shown) if e is not None)
    return _hover_open(obs, mem, shown[deepest])


# ---------------------------------------------------------------- pictures (need the screenshot)
def _pixels_of(obs: Observation, e: Element):
    """The screenshot's pixels inside element ``e`` (the screenshot shows the #wrap area, possibly
    resized); None without a screenshot."""
    import numpy as np

    shot, wrap = obs.screenshot, first([w for w in obs.elements if w.attrs.get("id") == "wrap"])
    if shot is None or wrap is None:
        return None
    sx, sy = shot.shape[1] / wrap.bbox[2], shot.shape[0] / wrap.bbox[3]
    x, y, w, h = e.bbox
    x0, y0 = int(round((x - wrap.bbox[0]) * sx)), int(round((y - wrap.bbox[1]) * sy))
    x1, y1 = int(round((x + w - wrap.bbox[0]) * sx)), int(round((y + h - wrap.bbox[1]) * sy))
    return np.asarray(shot[max(y0, 0):y1, max(x0, 0):x1], dtype=np.float32), (sx, sy)


def polygon_sides(gray, dark: float = 110.0) -> int | None:
    """Sides (3..7) of the regular polygon outlined in a grey image: the outline of an n-gon is
    symmetric under turns of 360/n degrees, so its pixels' angular spectrum peaks at n."""
    import numpy as np

    ys, xs = np.nonzero(gray < dark)
    if len(xs) < 20:
        return None
    dx, dy = xs - xs.mean(), ys - ys.mean()
    theta, r = np.arctan2(dy, dx), np.hypot(dx, dy)
    keep = r > 0.6 * r.max()  # the outline only
    theta, r = theta[keep], r[keep]
    power = {k: abs(np.sum(r * np.exp(-1j * k * theta))) for k in range(3, 8)}
    return max(power, key=power.get)


@oracle("count-sides", screenshot=True)
def _count_sides(obs: Observation, mem: dict) -> Action:
    canvas = first([e for e in obs.elements if e.tag == "canvas" and e.visible])
    got = _pixels_of(obs, canvas) if canvas else None
    if got is None:
        return Action.noop()
    pixels, _ = got
    n = polygon_sides(pixels.mean(axis=2))
    return click(labeled_button(obs, str(n)) if n else None)


def darkness(pixels):
    """How much darker than its background (the median) each pixel is, in [0, 1]."""
    import numpy as np

    gray = pixels.mean(axis=2)
    bg = float(np.median(gray))
    return np.clip((bg - gray) / max(bg, 1.0), 0.0, 1.0)


def best_icon(obs: Observation, icons: list[Element]) -> tuple[Element | None, float]:
    """The icon whose picture appears in the instruction box (the strip above #area), and how far off it is:
    slide each icon's picture (cut to its ink plus a 1 px margin) over the strip and keep the closest fit
    (squared error over the picture's own ink energy: about 0.03 for the same icon, 0.23 or more for another
    one of the page's icons; zoom-out inside zoom-in's picture, 0.07)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    wrap = first([w for w in obs.elements if w.attrs.get("id") == "wrap"])
    area = first([w for w in obs.elements if w.attrs.get("id") == "area"])
    if obs.screenshot is None or wrap is None or area is None:
        return None, float("inf")
    strip = Element(-1, "div", "", {}, (wrap.bbox[0], wrap.bbox[1], wrap.bbox[2], area.bbox[1] - wrap.bbox[1]),
                    -1, 0, True, "style", False)
    got = _pixels_of(obs, strip)
    if got is None:
        return None, float("inf")
    query = darkness(got[0])
    best, best_score = None, float("inf")
    for icon in icons:
        cut = _pixels_of(obs, icon)
        if cut is None or cut[0].size == 0:
            continue
        ink = darkness(cut[0])
        ys, xs = np.nonzero(ink > 0.2)
        if len(ys) == 0:
            continue
        ink = ink[max(ys.min() - 1, 0):ys.max() + 2, max(xs.min() - 1, 0):xs.max() + 2]
        if ink.shape[0] > query.shape[0] or ink.shape[1] > query.shape[1]:
            continue
        error = float(((sliding_window_view(query, ink.shape) - ink) ** 2).sum(axis=(2, 3)).min())
        score = error / max(float((ink ** 2).sum()), 1e-6)
        if score < best_score:
            best, best_score = icon, score
    return best, best_score


SAME_ICON = 0.15  # best_icon's score below which the shown icon is the one asked for


@oracle("click-menu-2", screenshot=True)
def _click_menu_2(obs: Observation, mem: dict) -> Action:
    items = [e for e in live(obs) if e.attrs.get("role") == "menuitem"]
    if not items:
        return click(labeled_button(obs, "Menu"))
    playback = _menu_item(obs, "Playback")
    names = quoted(obs.instruction)
    if "labeled" in obs.instruction and len(names) >= 2:
        target = _menu_item(obs, names[1])
        if target is not None:
            return Action.click(target.id)
        return _hover_open(obs, mem, playback) if playback else Action.noop()
    icons = [e for e in live(obs) if has_class(e, "ui-icon") and not has_class(e, "ui-menu-icon")]
    icon, score = best_icon(obs, icons)
    # an icon shown now that is the one asked for is clicked; else the Playback submenu shows the others
    if playback is not None and _menu_item(obs, "Prev") is None and (icon is None or score > SAME_ICON):
        return _hover_open(obs, mem, playback)
    return click(obs.elements[icon.parent] if icon else None)


@oracle("click-pie", "click-pie-nodelay")
def _click_pie(obs: Observation, mem: dict) -> Action:
    """Open the wheel with its centre button ("+" while closed), click the labelled slice once its label
    has spread out from the centre."""
    labels = [t for t in obs.elements if t.tag == "tspan"]
    title_of = {t.text: obs.elements[t.parent] for t in labels
                if obs.elements[t.parent].attrs.get("id", "").startswith("wheelnav-divWheel-title-")}
    closed = any(t.text == "+" for t in labels
                 if obs.elements[t.parent].attrs.get("id") == "wheelnav-divWheel-spreadertitle")
    if closed:
        mem["opened_at"] = time.monotonic()
        return click(first([e for e in live(obs) if e.attrs.get("id") == "wheelnav-divWheel-spreader"]))
    target = title_of.get(quoted(obs.instruction)[0])
    spreader = first([e for e in obs.elements if e.attrs.get("id") == "wheelnav-divWheel-spreader"])
    if target is None or spreader is None:
        return Action.noop()
    # The labels grow from the centre to about 27 px tall in half a second, then bounce a few pixels for
    # another second.  A label nearly full size and clear of the centre button and of the other labels
    # takes the click (it lands on the label where it is at that moment), so the bounce is not waited out.
    others = [e.bbox for e in title_of.values() if e is not target] + [spreader.bbox]
    spreading = target.bbox[3] < SPREAD_LABEL_H or any(overlap(target.bbox, b) for b in others)
    if spreading and time.monotonic() - mem.get("opened_at", 0.0) < SPREAD_S:
        return pause(0.1)
    # the slice selected at the start shows no pointer cursor but takes clicks all the same
    return Action.click(target.id)


SPREAD_LABEL_H = 18.0  # px: a pie label this tall has grown four fifths of the way out
SPREAD_S = 1.6  # s: the wheel has stopped moving by then (whatever the labels look like)


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Do two boxes (x, y, w, h) share any area?"""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@oracle("click-scroll-list")
def _click_scroll_list(obs: Observation, mem: dict) -> Action:
    """Pick the first name from the list box, then add the second from the keyboard: Ctrl+arrows move
    the focus ring without changing the selection and Ctrl+Space adds the focused name."""
    if "plan" not in mem:
        m = re.match(r"Select (.*) from the scroll list", obs.instruction)
        box = first([e for e in live(obs) if e.tag == "select"])
        if m is None or box is None:
            return Action.noop()
        names = [n for n in m.group(1).split(", ") if n in box.options]
        plan: list[Action] = [Action.select(box.id, names[0])] if names else []
        if len(names) > 1:
            a, b = box.options.index(names[0]), box.options.index(names[1])
            plan += [Action.press("Control+ArrowDown" if b > a else "Control+ArrowUp")] * abs(b - a)
            plan.append(Action.press("Control+Space"))
        mem["plan"] = plan
    if mem["plan"]:
        return mem["plan"].pop(0)
    return click(submit_button(obs))
