"""Oracles that read what the page only shows as pixels or as motion: the colour swatch of use-colorwheel-2
(drawn inside the instruction box, which the observation's element list leaves out, so the screenshot is
read), the draggable cube of drag-cube (the face in front carries the page's ``active`` class; how far a drag
turns the cube follows from the page's spin rule) and the circles crossing moving-items' drawing (each one's
eased path, from where it is seen)."""
from __future__ import annotations

import math
import re
import time
from collections import Counter

from zoo.web.tasks.oracle import by_attr_any, click, first, oracle, pause, submit_button
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
# The page (cube.js) turns the cube by a "torque" it updates every 20 ms frame while the button is down:
# torque <- 0.83 torque + 0.2 (pointer moved this frame, px); every frame with |torque| > 1 adds it to the pose
# (degrees), and after the release the torque fades by 0.93 a frame.  A drag that holds the button until the
# torque has died away therefore turns the cube by 0.2 / 0.17 = 1.18 degrees per pixel less ~5.4 degrees (the
# frames under the threshold), however its pointer events fall into frames; measured 42 degrees for 40 px and
# 84 for 76 px.  Dragging right turns the pose's X up (down while the cube is upside down: 90 < Y < 270),
# dragging down turns Y down.  Every episode starts from the same pose (X 1122 = 42 mod 360, Y 136), so the oracle
# keeps the pose by dead reckoning, corrects it to the face the page marks ``active`` after each drag, and aims
# each drag at the middle of the wanted face.
DEG_PER_PX, TAIL_DEG = 0.2 / 0.17, 5.4
START_POSE = (1122.0 % 360, 136.0)
HOLD_AFTER = 12  # repeated points after the move, four pointer events each: the button stays down ~0.2-1 s
SPUN_OUT_S = 0.5  # a drag step quicker than this may have let go while the cube still turned: settle, then look
SETTLE_S = 0.7
# The page takes the pointer's position once a frame and spins by the whole distance moved since then if the button
# is down by that frame: a press within a frame of the move to the drag's start would count the move too.
FRAME_GAP_S = 0.06
REST_Y, VIEW_W, VIEW_H = 112.0, 500.0, 320.0  # drags run along the cube's row / beside the task area (no buttons)
SIDES_UPRIGHT, SIDES_UPSIDE = ("5", "4", "3", "2"), ("3", "2", "5", "4")  # X in [42,130], [131,223], [224,314], else
SIDE_CENTRES = (86.0, 177.0, 269.0, 358.0)


def face_of(x: float, y: float) -> str:
    """The face the page marks active at pose (x, y), by its own rule."""
    x, y = x % 360, y % 360
    if 46 <= y <= 130:
        return "6"
    if 220 <= y <= 308:
        return "1"
    k = 0 if 42 <= x <= 130 else 1 if 130 < x <= 223 else 2 if 223 < x <= 314 else 3
    return (SIDES_UPSIDE if 90 < y < 270 else SIDES_UPRIGHT)[k]


def front_face(obs: Observation) -> str | None:
    face = first([e for e in obs.elements if "cube-image" in e.attrs.get("class", "").split()
                  and "active" in e.attrs.get("class", "").split()])
    return face.text if face is not None else None


def wrap(deg: float) -> float:
    return (deg + 180) % 360 - 180


def drag_px(deg: float) -> float:
    """The drag (px, signed) that turns the pose by ``deg``."""
    return math.copysign((abs(deg) + TAIL_DEG) / DEG_PER_PX, deg) if abs(deg) > 1 else 0.0


def corrected(pose: tuple[float, float], face: str) -> tuple[float, float]:
    """The pose nearest ``pose`` (10 degrees inside) that shows ``face``: dead reckoning put right by a look."""
    x, y = pose
    if face_of(x, y) == face:
        return pose
    near = [(abs(dx) + abs(dy), (x + dx, y + dy)) for dx in range(-180, 181, 4) for dy in range(-180, 181, 4)
            if all(face_of(x + dx + ex, y + dy + ey) == face for ex, ey in ((0, 0), (10, 0), (-10, 0), (0, 10), (0, -10)))]
    return min(near)[1] if near else pose


def goal_turn(pose: tuple[float, float], target: str) -> tuple[float, float]:
    """The (X, Y) turn in degrees that brings ``pose`` to the middle of face ``target``."""
    x, y = pose
    if target in ("1", "6"):
        return 0.0, wrap((88.0 if target == "6" else 264.0) - y)
    if face_of(x, y) in ("1", "6"):  # off the side band: back to the nearer one first
        return 0.0, min((wrap(c - y) for c in (175.0, 357.0)), key=abs)
    upside = 90 < y % 360 < 270
    k = (SIDES_UPSIDE if upside else SIDES_UPRIGHT).index(target)
    return wrap(SIDE_CENTRES[k] - x), 0.0


@oracle("drag-cube")
def _drag_cube(obs: Observation, mem: dict) -> Action:
    m = re.search(r'"(\d)" is the active side', obs.instruction)
    face = front_face(obs)
    if m is None or face is None:
        return Action.noop()
    now = time.monotonic()
    if "dragged_at" in mem:  # the look after a drag
        if now - mem.pop("dragged_at") < SPUN_OUT_S:
            return pause(SETTLE_S)
        mem["pose"] = corrected(mem["pose"], face)
    if face == m.group(1) and "rest" in mem:
        return click(submit_button(obs))
    pose = mem.setdefault("pose", START_POSE)
    turn_x, turn_y = goal_turn(pose, m.group(1))
    if not mem.get("turned") and turn_x:
        # The reset marks face 6 active but leaves the page's idea of the current side as the last episode left
        # it, and the page only re-marks a face when that idea changes.  A short turn from the start to face 4
        # sees face 4 all the way (the start's pose has X past 360 for a few frames, which reads as 4): if the
        # last episode ended on 4, face 6 would stay marked.  The long way round passes the other faces.
        turn_x -= math.copysign(360.0, turn_x) if m.group(1) == "4" else 0.0
    upside = 90 < pose[1] % 360 < 270
    dx, dy = drag_px(-turn_x if upside else turn_x), drag_px(-turn_y)
    dx = max(min(dx, VIEW_W - 20), -(VIEW_W - 20))
    dy = max(min(dy, VIEW_H - 20), -(VIEW_H - 20))
    # the drag starts where the pointer rests (a press right after a jump would count the jump): move there first
    start = (VIEW_W / 2 - dx / 2, REST_Y) if dy == 0 else (VIEW_W - 40, VIEW_H / 2 - dy / 2)
    if mem.get("rest") != start:
        mem["rest"], mem["moved_at"] = start, now
        return Action.move(*start)
    if now - mem.get("moved_at", 0.0) < FRAME_GAP_S:  # let the page see the pointer at rest before the press
        return pause(FRAME_GAP_S)
    if face == m.group(1):
        return click(submit_button(obs))
    if abs(dx) < 3 and abs(dy) < 3:  # the pose says this is the face, the page says not: turn and look again
        dx = 40.0
    x0, y0 = start
    mem["rest"] = (x0 + dx, y0 + dy)
    mem["pose"] = (pose[0] + turn_x, pose[1] + turn_y)
    mem["turned"] = True
    mem["dragged_at"] = now
    return Action.drag([(x0, y0)] * 3 + [(x0 + dx, y0 + dy)] * HOLD_AFTER)


# ---------------------------------------------------------------- moving-items
# Ten circles (r 18) start at x -18 or 178 of the 160 x 160 drawing, one about every 0.8 s, and each crosses to
# the other side in one 3.5 s d3 transition (cubic-in-out easing) while its y runs from where it was drawn to
# a new random height.  A click on the drawing scores +0.2 for the first circle whose centre is within 1.3 radii
# (23.4 px, along each axis) of the click where it is at that moment, else -0.05; full credit is all ten and no
# miss.  A circle's path is known once it has been seen at its start and once on its way (its x gives how far
# through the easing it is, hence when it started; its y then gives where it is heading), so the oracle clicks
# where the circle will be when the click lands, however old the observation is by then.  Times are the page's
# clock (an observation's ``time_ms``; a click timed with ``at_ms`` for the moment it was aimed at).
MOVE_S, CIRCLE_R, REACH = 3.5, 18.0, 18.0 * 1.3
TIME_SLACK_S = 0.12  # how far the oracle's idea of a click's moment may be off: the aim keeps that much margin
URGENT_S = 0.7  # a circle whose chance ends within this is clicked first
CLICK_LEAD_S = 0.15  # a click is timed this far ahead of the decision: sent and in the page before its moment
# Waits while nothing can be clicked.  A circle stays in reach about 2 s, so a look every 0.35-0.6 s misses none;
# no longer, as another env's click step lasts as long as this wait, and no shorter, to keep the looks few.
MIN_WAIT_S, MAX_WAIT_S = 0.35, 0.6


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
    now = time.time()  # the page's clock is the machine's (Date.now() in the browser)
    svg = first([e for e in obs.elements if e.tag == "svg"])
    circles = learn_paths(obs, mem, obs.time_ms / 1000.0)
    if svg is None:
        return pause(MAX_WAIT_S)
    t_click = now + CLICK_LEAD_S
    moving = {cid: p for cid, p in circles.items() if "t0" in p and "y1" in p}
    windows = {cid: w for cid, p in moving.items() if (w := reach_window(p, t_click)) is not None}
    ready = [cid for cid, (a, _) in windows.items() if a <= t_click]
    if ready:  # the circle whose chance ends soon, else the slowest (a late click misses it by the least)
        urgent = [c for c in ready if windows[c][1] - t_click < URGENT_S]
        cid = (min(urgent, key=lambda c: windows[c][1]) if urgent
               else min(ready, key=lambda c: math.dist(where(moving[c], t_click), where(moving[c], t_click + 0.1))))
        x, y = aim(moving[cid], t_click)
        return Action.click_at(svg.bbox[0] + x, svg.bbox[1] + y).at(t_click * 1000.0)
    if not circles:  # all clicked: the page's own timer ends the episode
        return pause(MAX_WAIT_S)
    upcoming = [a - CLICK_LEAD_S - now for a, _ in windows.values()]
    return pause(min(max(min(upcoming, default=MAX_WAIT_S), MIN_WAIT_S), MAX_WAIT_S))
