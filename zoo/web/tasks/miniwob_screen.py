"""Oracles that read what the page only shows as pixels or as motion: the colour swatch of use-colorwheel-2
(drawn inside the instruction box, which the observation's element list leaves out, so the screenshot is
read) and the draggable cube of drag-cube (the face in front carries the page's ``active`` class; a drag
spins the cube, which keeps turning for a moment after the release)."""
from __future__ import annotations

import math
import time
from collections import Counter

from zoo.web.tasks.oracle import by_attr_any, click, first, oracle, pause, seen_at, submit_button
from zoo.web.types import Action, Observation

# ---------------------------------------------------------------- use-colorwheel-2
SWATCH_MIN_PX = 36  # the swatch is a 10 x 10 px square; text and its anti-aliasing make thinner, scattered shades


def swatch_colour(obs: Observation) -> str | None:
    """The hex code of the flat colour square shown in the instruction box (above #area): the colour, other
    than the box's own background, that fills a solid rectangle of at least SWATCH_MIN_PX pixels."""
    import numpy as np

    shot = obs.screenshot
    wrap, area = by_attr_any(obs, "id", "wrap"), by_attr_any(obs, "id", "area")
    if shot is None or wrap is None or area is None or wrap.bbox[2] <= 0:
        return None
    scale = shot.shape[1] / wrap.bbox[2]
    strip = np.asarray(shot[: int((area.bbox[1] - wrap.bbox[1]) * scale)])
    counts = Counter(map(tuple, strip.reshape(-1, 3).tolist()))
    background = counts.most_common(1)[0][0] if counts else None
    for colour, n in counts.most_common():
        if colour == background or n < SWATCH_MIN_PX:
            continue
        ys, xs = np.nonzero((strip == np.array(colour)).all(axis=2))
        if (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1) == n:  # a solid rectangle
            return "{:02x}{:02x}{:02x}".format(*colour)
    return None


@oracle("use-colorwheel-2", screenshot=True)
def _use_colorwheel_2(obs: Observation, mem: dict) -> Action:
    """Type the swatch's hex code into the picker's field (it takes one), then Submit."""
    field = by_attr_any(obs, "id", "col")
    code = mem.get("code") or swatch_colour(obs)
    if field is None or code is None:
        return Action.noop()
    mem["code"] = code
    if field.attrs.get("value", "").lower() != code:
        return Action.type(field.id, code)
    return click(submit_button(obs))


# ---------------------------------------------------------------- drag-cube
# Dragging sideways turns the side faces 5 -> 4 -> 3 -> 2 -> 5 (rightwards, cube upright; reversed when the
# cube is upside down); dragging down turns 6 -> a side face -> 1 -> a side face -> 6.  How far one drag turns
# the cube depends on how fast the pointer moved between the page's animation frames, so the oracle drags a
# little, lets the cube come to rest, looks which face is in front and drags again.
SIDE_ORDER = ("5", "4", "3", "2")
SETTLE_S = 0.7  # the cube's spin fades out within this after a release
# The page reads the pointer once per 20 ms animation frame and spins the cube only while the button is down:
# the drag holds still after the press and before the release (repeated points), so a frame sees the button
# down and the whole move at once.  It then turns about 1.2-2.9 degrees per pixel (by how long the hold lasts).
DRAG_PX, HOLD_BEFORE, HOLD_AFTER = 40.0, 3, 6


def front_face(obs: Observation) -> str | None:
    face = first([e for e in obs.elements if "cube-image" in e.attrs.get("class", "").split()
                  and "active" in e.attrs.get("class", "").split()])
    return face.text if face is not None else None


def cube_centre(obs: Observation) -> tuple[float, float]:
    view = first([e for e in obs.elements if e.attrs.get("class") == "viewport"])
    return view.center if view is not None else (80.0, 110.0)


def cube_drag(obs: Observation, mem: dict, dx: float, dy: float) -> Action:
    """A drag by (dx, dy) from where the pointer rests: the page turns the cube by every pointer move it sees
    while the button is down, so a drag that started elsewhere would add the jump to its start.  Back to the
    cube's centre (a plain move, button up) when the drag would leave the task area."""
    x, y = mem["cursor"]
    if not (10 <= x + dx <= 150 and 60 <= y + dy <= 200):
        mem["cursor"] = cube_centre(obs)
        return Action.move(*mem["cursor"])
    mem["cursor"] = (x + dx, y + dy)
    mem["dragged"] = True
    return Action.drag([(x, y)] * HOLD_BEFORE + [(x + dx, y + dy)] * HOLD_AFTER)


@oracle("drag-cube")
def _drag_cube(obs: Observation, mem: dict) -> Action:
    import re

    m = re.search(r'"(\d)" is the active side', obs.instruction)
    face = front_face(obs)
    if m is None or face is None:
        return Action.noop()
    target = m.group(1)
    if "cursor" not in mem:  # rest the pointer on the cube first, button up, so the page knows where it is
        mem["cursor"], mem["dragged"] = cube_centre(obs), True
        return Action.move(*mem["cursor"])
    if mem.pop("dragged", False):  # let the spin die down before looking
        return pause(SETTLE_S)
    if face == target:  # at rest (a settling wait came before this look)
        return click(submit_button(obs))
    last = mem.get("last_face")
    size = DRAG_PX * (1.3 if last == face else 1.0)  # the last drag did not turn it: drag further
    mem["last_face"] = face
    if target in ("1", "6") or face in ("1", "6"):
        return cube_drag(obs, mem, 0.0, size)
    # sideways, the shorter way round; the same drag turns the other way while the cube is upside down, which
    # shows as the last sideways drag having turned the faces backwards
    if last in SIDE_ORDER and last != face and "forward" in mem:
        moved = (SIDE_ORDER.index(face) - SIDE_ORDER.index(last)) % 4
        if moved in (1, 3) and (moved == 1) != mem["forward"]:
            mem["flipped"] = not mem.get("flipped", False)
    forward = (SIDE_ORDER.index(target) - SIDE_ORDER.index(face)) % 4 <= 2
    mem["forward"] = forward
    rightwards = forward != mem.get("flipped", False)
    return cube_drag(obs, mem, size if rightwards else -size, 0.0)


# ---------------------------------------------------------------- moving-items
# Ten circles (r 18) start at x -18 or 178 of the 160 x 160 drawing, one about every 0.8 s, and each crosses to
# the other side in one 3.5 s d3 transition (cubic-in-out easing) while its y runs from where it was drawn to
# a new random height.  A click on the drawing scores +0.2 for the first circle whose centre is within 1.3 radii
# (23.4 px, along each axis) of the click where it is at that moment, else -0.05; full credit is all ten and no
# miss.  A circle's path is known once it has been seen at its start and once on its way (its x gives how far
# through the easing it is, hence when it started; its y then gives where it is heading), so the oracle clicks
# where the circle will be when the click lands, however old the observation is by then.
MOVE_S, CIRCLE_R, REACH = 3.5, 18.0, 18.0 * 1.3
TIME_SLACK_S = 0.12  # how far the oracle's idea of a click's moment may be off: the aim keeps that much margin
CLICK_LAG_S = 0.04  # from the decision to the click's events reaching the page (one status check, three inputs)
# Waits while nothing can be clicked.  A circle stays in reach about 2 s, so a look every 0.35-0.6 s misses none,
# and no shorter: the episode has 30 steps for ~10 s, and another env's click step lasts as long as this wait.
MIN_WAIT_S, MAX_WAIT_S = 0.35, 0.6
PAGE_TIMER_S = 9.9


def ease(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return 4 * u ** 3 if u < 0.5 else 1 - 4 * (1 - u) ** 3


def uneased(f: float) -> float:
    """The inverse of ``ease``: how far through its time a circle is that has gone ``f`` of its way."""
    return (f / 4) ** (1 / 3) if f < 0.5 else 1 - ((1 - f) / 4) ** (1 / 3)


def learn_paths(obs: Observation, mem: dict, at: float) -> dict[str, dict]:
    """Update what is known of each circle's path from this observation (taken at ``at``); returns the
    circles on the drawing now, by id, each with ``x0``/``x1``/``y0`` (ends of its run) and, once seen moving,
    ``t0`` (when its transition started) and ``y1``."""
    svg = first([e for e in obs.elements if e.tag == "svg"])
    paths, now_on = mem.setdefault("paths", {}), {}
    if svg is None:
        return now_on
    for e in obs.elements:
        cid = e.attrs.get("id", "")
        if e.tag != "circle" or not cid.startswith("item-"):
            continue
        x, y = e.center[0] - svg.bbox[0], e.center[1] - svg.bbox[1]
        path = paths.get(cid)
        if path is None:
            if min(abs(x + CIRCLE_R), abs(x - 160 - CIRCLE_R)) > 1e-3:
                continue  # first seen already on its way (not at the episode's start): its path is unknown
            path = paths[cid] = {"x0": x, "x1": 160 + CIRCLE_R if x < 80 else -CIRCLE_R, "y0": y}
        now_on[cid] = path
        f = (x - path["x0"]) / (path["x1"] - path["x0"])
        if 1e-4 < f < 1 - 1e-4:
            path.setdefault("t0s", []).append(at - MOVE_S * uneased(f))
            path["t0"] = sorted(path["t0s"])[len(path["t0s"]) // 2]
            if f > 2e-3:
                path["y1"] = path["y0"] + (y - path["y0"]) / f
    return now_on


def where(path: dict, t: float) -> tuple[float, float]:
    f = ease((t - path["t0"]) / MOVE_S)
    return path["x0"] + (path["x1"] - path["x0"]) * f, path["y0"] + (path["y1"] - path["y0"]) * f


def aim(path: dict, t: float) -> tuple[float, float] | None:
    """A point of the drawing that scores this circle if clicked at ``t`` (None: out of reach then): the
    circle's centre pulled into the drawing, with room for ``TIME_SLACK_S`` of error in the moment."""
    (x, y), (x2, y2) = where(path, t), where(path, t + 0.01)
    slack = math.hypot(x2 - x, y2 - y) / 0.01 * TIME_SLACK_S + 1.0
    px, py = min(max(x, 1.0), 159.0), min(max(y, 1.0), 159.0)
    return (px, py) if abs(px - x) + slack < REACH and abs(py - y) + slack < REACH else None


def reach_window(path: dict, t: float) -> tuple[float, float] | None:
    """When (from ``t`` on) a click can next score this circle: (first, last) moment, or None."""
    span = [s for s in (t + k * 0.02 for k in range(int(MOVE_S / 0.02) + 1))
            if s - path["t0"] < MOVE_S and aim(path, s) is not None]
    return (span[0], span[-1]) if span else None


@oracle("moving-items")
def _moving_items(obs: Observation, mem: dict) -> Action:
    now, at = time.monotonic(), seen_at(mem)
    if mem.get("clicked"):  # the page was looked at after the click's own round trips, not at the decision
        at += CLICK_LAG_S
    mem.setdefault("start", at)
    svg = first([e for e in obs.elements if e.tag == "svg"])
    circles = learn_paths(obs, mem, at)
    if svg is None:
        return pause(MAX_WAIT_S)
    t_click = now + CLICK_LAG_S
    moving = {cid: p for cid, p in circles.items() if "t0" in p and "y1" in p}
    windows = {cid: w for cid, p in moving.items() if (w := reach_window(p, t_click)) is not None}
    ready = [cid for cid, (a, _) in windows.items() if a <= t_click]
    mem["clicked"] = bool(ready)
    if ready:  # the circle whose chance ends first
        cid = min(ready, key=lambda c: windows[c][1])
        x, y = aim(moving[cid], t_click)
        return Action.click_at(svg.bbox[0] + x, svg.bbox[1] + y)
    if not circles:  # all clicked: the page's own timer ends the episode
        return pause(MAX_WAIT_S)
    upcoming = [a - CLICK_LAG_S - now for a, _ in windows.values()]
    return pause(min(max(min(upcoming, default=MAX_WAIT_S), MIN_WAIT_S), MAX_WAIT_S))
