"""Oracles that read what the page only shows as pixels or as motion: the colour swatch of use-colorwheel-2
(drawn inside the instruction box, which the observation's element list leaves out, so the screenshot is
read) and the draggable cube of drag-cube (the face in front carries the page's ``active`` class; a drag
spins the cube, which keeps turning for a moment after the release)."""
from __future__ import annotations

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
