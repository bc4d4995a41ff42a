"""Whether an action's arguments are well formed (a key ``press`` accepts, a ``wait``'s duration, an ``at_ms``
time): shared by the env, which answers a malformed action with one line saying why (an invalid action, not a
crash), and the action space's ``contains``."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo.web.types import MAX_WAIT_MS

NAMED_KEYS = {"Enter", "Tab", "Backspace", "Delete", "Escape", "Space", "Home", "End", "PageUp", "PageDown",
              "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Insert"}
MODIFIERS = {"Control", "Shift", "Alt", "Meta"}


def check_key(key: Any) -> str | None:
    """None if ``key`` is a key ``press`` accepts, else the reason it is not."""
    if not isinstance(key, str) or not key:
        return "press needs a key name, e.g. Enter, Tab, ArrowDown, a, Control+a"
    *mods, base = key.split("+") if len(key) > 1 else [key]
    bad = [m for m in mods if m not in MODIFIERS]
    if bad or not (base in NAMED_KEYS or (len(base) == 1 and base.isprintable())):
        return f"unknown key '{key}'; use one printable character or {', '.join(sorted(NAMED_KEYS))}, optionally with Control+/Shift+/Alt+"
    return None


def check_wait(ms: Any) -> str | None:
    """None if ``ms`` is a duration ``wait`` accepts, else the reason it is not."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float, np.integer, np.floating)) or not 0 <= ms <= MAX_WAIT_MS:
        return f"wait needs ms, a number of milliseconds in [0, {MAX_WAIT_MS:g}], got {ms!r}"
    return None


def check_at(at_ms: Any, kind: Any, ms: Any = 0.0) -> str | None:
    """None if ``at_ms`` (Action.at_ms) is absent or a page-clock time the action can wait for, else why not."""
    if at_ms is None:
        return None
    if kind == "wait" and ms != 0:
        return "a wait has ms (a duration) or at_ms (wait_until: a time), not both"
    if isinstance(at_ms, bool) or not isinstance(at_ms, (int, float, np.integer, np.floating)) or not math.isfinite(at_ms):
        return f"at_ms needs a page-clock time in milliseconds (as Observation.time_ms), got {at_ms!r}"
    return None
