"""Actions carried out with browser input events instead of the page helper.

The slot does element clicks, typing and selects inside one ``evaluate`` of the page helper
(zoo/web/slot.py).  What is here takes real input round trips: key presses, the mouse actions at
viewport points (drag, scroll, clicks at a point, moves), waits, and element actions when a slot
asks for trusted clicks (browser mouse events at a point the page reports as landing on the element).
Every function returns the reason an action is invalid, or None; an invalid action does nothing.
"""
from __future__ import annotations

import asyncio
from typing import Any, Sequence

import numpy as np

from zoo.web.action_checks import check_key, check_wait
from zoo.web.types import ACTION_KINDS, MOUSE_ACTION_KINDS, Action, Element

CLICK_JS = "(i) => window.__zoo.status().done ? {done: true} : window.__zoo.clickPoint(i)"
FOCUS_JS = "(i) => window.__zoo.status().done ? {done: true} : window.__zoo.focusForTyping(i)"
SELECT_JS = "([i, o]) => window.__zoo.status().done ? {done: true} : window.__zoo.selectOption(i, o)"

# Resolves once scrolling has stopped: no scroll event for 60 ms after one was seen, none at all within
# 150 ms, or 1.5 s in any case.
SCROLL_SETTLED_JS = """() => new Promise((done) => {
  const t0 = performance.now();
  let last = t0, seen = false;
  const on = () => { last = performance.now(); seen = true; };
  window.addEventListener('scroll', on, true);
  const tick = () => {
    const now = performance.now();
    if ((seen && now - last > 60) || (!seen && now - t0 > 150) || now - t0 > 1500) {
      window.removeEventListener('scroll', on, true);
      done(seen);
    } else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


def element_index(i: Any, n: int, kind: str, optional: bool = False) -> int | str:
    """``i`` as an index into the observation's ``n`` elements, or why it is not one (``kind``: the
    action's, for the message; ``optional``: the action may also have no element)."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < n:
        return f"{kind} needs an element id in [0, {n}){' or none' if optional else ''}, got {i!r}"
    return int(i)


def element_args(action: Action, elements: Sequence[Element]) -> tuple[int, Any] | str:
    """(element index, argument) of an element action (click, type: its text, select: its option), or the
    reason it is invalid."""
    kind = action.kind
    i = element_index(action.element, len(elements), kind)
    if isinstance(i, str):
        return i
    if kind == "type" and not isinstance(action.text, str):
        return "type needs text (a string or a span copied from the instruction)"
    if kind == "select" and not isinstance(action.option, str):
        return "select needs an option (the option's text)"
    return i, action.text if kind == "type" else action.option if kind == "select" else None


def action_points(action: Action, elements: Sequence[Element]) -> tuple[list[tuple[float, float]] | None, str | None]:
    """The viewport points of a mouse action (offsets from ``action.element``'s box when set)."""
    raw = action.path if action.kind == "drag" else [(action.x, action.y)]
    if not raw or any(not isinstance(v, (int, float, np.floating, np.integer)) or isinstance(v, bool)
                      or not np.isfinite(v) for p in raw for v in (p if isinstance(p, (tuple, list)) and len(p) == 2 else (None,))):
        what = "a path of (x, y) points" if action.kind == "drag" else "numeric x and y"
        return None, f"{action.kind} needs {what}"
    ox = oy = 0.0
    if action.element is not None:
        i = element_index(action.element, len(elements), action.kind, optional=True)
        if isinstance(i, str):
            return None, i
        ox, oy = elements[i].bbox[:2]
    return [(ox + float(a), oy + float(b)) for a, b in raw], None


async def mouse_action(page: Any, action: Action, elements: Sequence[Element]) -> str | None:
    """Pointer actions at viewport points (no element resolution, like a person's mouse)."""
    points, bad = action_points(action, elements)
    if bad:
        return bad
    mouse = page.mouse
    (x, y), kind = points[0], action.kind
    if kind == "click_at":
        await mouse.click(x, y)
    elif kind == "dblclick_at":
        await mouse.dblclick(x, y)
    elif kind == "move":
        await mouse.move(x, y)
    elif kind == "scroll":
        await mouse.move(x, y)
        await mouse.wheel(float(action.dx), float(action.dy))
        await page.evaluate(SCROLL_SETTLED_JS)  # the wheel returns before the (animated) scroll ends
    else:  # drag: press, move through every point (a few intermediate events each), release
        await mouse.move(x, y)
        await mouse.down()
        for px, py in points[1:]:
            await mouse.move(px, py, steps=4)
        await mouse.up()
    return None


async def input_action(page: Any, action: Action, elements: Sequence[Element], max_wait_s: float,
                       page_done: bool = False) -> str | None:
    """Carry out ``action`` with browser input; the reason it is invalid, or None.  ``max_wait_s``
    caps a wait (so that it is never mistaken for a hung page); ``page_done``: the episode has
    already ended, so a mouse action does nothing."""
    kind = getattr(action, "kind", None)
    if kind not in ACTION_KINDS:
        return f"unknown action kind {kind!r}; valid kinds: {', '.join(ACTION_KINDS)}"
    if kind == "noop":
        return None
    if kind == "wait":
        bad = check_wait(action.ms)
        if bad:
            return bad
        await asyncio.sleep(min(float(action.ms) / 1000.0, max_wait_s))
        return None
    if kind == "press":
        bad = check_key(action.key)
        if bad:
            return bad
        await page.keyboard.press(action.key)
        return None
    if kind in MOUSE_ACTION_KINDS:
        return None if page_done else await mouse_action(page, action, elements)
    args = element_args(action, elements)
    if isinstance(args, str):
        return args
    i, arg = args
    if kind == "click":
        r = await page.evaluate(CLICK_JS, i)
        if r.get("error"):
            return r["error"]
        if not r.get("done"):
            await page.mouse.click(r["x"], r["y"])
        return None
    if kind == "type":
        r = await page.evaluate(FOCUS_JS, i)
        if r.get("error"):
            return r["error"]
        if r.get("focused") and arg:
            # one input event for the whole text (like a paste): one browser call however long the text
            await page.keyboard.insert_text(arg)
        return None
    r = await page.evaluate(SELECT_JS, [i, arg])
    return r.get("error")
