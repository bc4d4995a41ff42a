"""Oracles for the MiniWoB++ tasks answered by one click at a point of an SVG drawing: circle-center,
find-midpoint, bisect-angle and right-angle.  They read the dots and circles the page shows (their boxes) and
click the pixel whose answer the page scores best.

How these pages score a click (their own code, the same in all four): the click's ``pageX``/``pageY`` become
a blue dot drawn at (pageX, pageY - 50) of the drawing, wherever the drawing sits on the page, and the verdict
compares the dot's ``getBBox()`` corner with the shapes' corners.  Chromium gives a click's pageX/pageY as
whole CSS pixels (floored: a click at 60.9 reports 60; measured, for trusted and synthetic clicks alike), so
the answer is one of the drawing's pixels, and full credit only comes when the exact answer is one:
- circle-center: the dot (r 3.5) must sit half a pixel right of and below the circle's centre (the page
  compares it with the centre less 3, not less 3.5): never a whole pixel, so never full credit (best
  (r - 0.71) / r, 0.972-0.982 for radii 25-40);
- find-midpoint: full credit when the two dots' x sum and y sum are both even, else (30 - 0.5) / 30 or less;
- right-angle: the clicked dot has radius 3, the others 3.5, so the answer is a half-pixel point unless the
  line's direction (dx, dy), divided by gcd(dx, dy), has both parts odd, and the perpendicular point also has
  to fall inside the drawing;
- bisect-angle: full credit only when the bisector passes exactly through a pixel (the arms' lengths in a
  rational ratio, e.g. equal), a few seeds in a hundred.
Everything else earns the best partial credit a whole-pixel click can (a full-credit pixel when there is one).
"""
from __future__ import annotations

import numpy as np

from zoo.web.tasks.oracle import by_attr_any, click, first, oracle, submit_button
from zoo.web.types import Action, Element, Observation

QUERY_PADDING = 50  # the page draws a click at (pageX, pageY - 50)
EDGE = 1  # clicks stay this many pixels inside the drawing (a click outside it is not seen)


def at(svg: Element, e: Element) -> tuple[float, float]:
    """The centre of ``e`` in the drawing's coordinates."""
    return e.center[0] - svg.bbox[0], e.center[1] - svg.bbox[1]


def pixels(obs: Observation, svg: Element) -> tuple[np.ndarray, np.ndarray]:
    """Every whole viewport pixel a click can use on the drawing (inside it, not under the Submit button),
    as two flat arrays (x, y)."""
    x, y, w, h = svg.bbox
    xs, ys = np.meshgrid(np.arange(np.ceil(x) + EDGE, np.floor(x + w) - EDGE), np.arange(np.ceil(y) + EDGE, np.floor(y + h) - EDGE))
    xs, ys = xs.ravel(), ys.ravel()
    button = submit_button(obs)
    if button is not None:
        bx, by, bw, bh = button.bbox
        keep = ~((xs >= bx - 1) & (xs <= bx + bw + 1) & (ys >= by - 1) & (ys <= by + bh + 1))
        xs, ys = xs[keep], ys[keep]
    return xs, ys


def click_best(obs: Observation, mem: dict, svg: Element, verdict) -> Action:
    """Click the pixel whose dot ``verdict`` (drawing x, y arrays -> the page's score) rates best, then Submit."""
    if mem.get("clicked"):
        return click(submit_button(obs))
    xs, ys = pixels(obs, svg)
    if xs.size == 0:
        return Action.noop()
    with np.errstate(all="ignore"):
        score = np.nan_to_num(verdict(xs, ys - QUERY_PADDING), nan=-np.inf)
    k = int(np.argmax(score))
    mem["clicked"] = True
    return Action.click_at(float(xs[k]), float(ys[k]))


def angle(a: tuple, b: tuple, vertex: tuple) -> np.ndarray:
    """The angle a-vertex-b in degrees, as the pages compute it (law of cosines on the three lengths)."""
    av = np.sqrt((vertex[0] - a[0]) ** 2 + (vertex[1] - a[1]) ** 2)
    bv = np.sqrt((vertex[0] - b[0]) ** 2 + (vertex[1] - b[1]) ** 2)
    ab = np.sqrt((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2)
    return np.arccos((bv * bv + av * av - ab * ab) / (2 * bv * av)) * 180 / np.pi


def corner(p: tuple[float, float], r: float) -> tuple[float, float]:
    """The top-left of a circle's box (``getBBox``), which the pages use as the circle's position."""
    return p[0] - r, p[1] - r


def drawing(obs: Observation) -> Element | None:
    return first([e for e in obs.elements if e.tag == "svg"])


@oracle("circle-center")
def _circle_center(obs: Observation, mem: dict) -> Action:
    svg, ring = drawing(obs), by_attr_any(obs, "class", "black-circle")
    if svg is None or ring is None:
        return Action.noop()
    (cx, cy), r = at(svg, ring), ring.bbox[2] / 2

    def verdict(x, y):
        d = np.hypot(x - 3.5 - (cx - 3), y - 3.5 - (cy - 3))
        return np.where(d < r, (r - d) / r, -1.0)

    return click_best(obs, mem, svg, verdict)


@oracle("find-midpoint")
def _find_midpoint(obs: Observation, mem: dict) -> Action:
    svg = drawing(obs)
    dots = [e for e in obs.elements if e.attrs.get("class") == "black-circle"]
    if svg is None or len(dots) != 2:
        return Action.noop()
    (ax, ay), (bx, by) = (corner(at(svg, d), 3.5) for d in dots)

    def verdict(x, y):
        d = np.hypot(x - 3.5 - (ax + bx) / 2, y - 3.5 - (ay + by) / 2)
        return np.where(d < 30, (30 - d) / 30, -1.0)

    return click_best(obs, mem, svg, verdict)


@oracle("bisect-angle")
def _bisect_angle(obs: Observation, mem: dict) -> Action:
    svg = drawing(obs)
    vertex = first([e for e in obs.elements if e.attrs.get("class") == "init-blue"])
    arms = [e for e in obs.elements if e.attrs.get("class") == "init-black"]
    if svg is None or vertex is None or len(arms) != 2:
        return Action.noop()
    v, a, b = (corner(at(svg, e), 3.5) for e in (vertex, *arms))
    total = angle(a, b, v)

    def verdict(x, y):
        c = (x - 3.5, y - 3.5)
        to_a, to_b = angle(a, c, v), angle(b, c, v)
        score = (total - np.maximum(to_a, to_b)) / (total / 2)
        return np.where((to_a > total) | (to_b > total), -1.0, score)

    return click_best(obs, mem, svg, verdict)


@oracle("right-angle")
def _right_angle(obs: Observation, mem: dict) -> Action:
    svg, end, vertex = drawing(obs), by_attr_any(obs, "id", "init-black"), by_attr_any(obs, "id", "init-blue")
    if svg is None or end is None or vertex is None:
        return Action.noop()
    a, v = corner(at(svg, end), 3.5), corner(at(svg, vertex), 3.5)

    def verdict(x, y):
        off = np.abs(90 - angle(a, (x - 3, y - 3), v))  # the clicked dot has radius 3
        return np.where(off < 45, (90 - off) / 90, -1.0)

    return click_best(obs, mem, svg, verdict)
