"""gymnasium spaces for the structured observations and actions of ``WebEnv``.

Observations are ``types.Observation`` (a variable-length DOM tree, not an array) and actions
are ``types.Action``, so both spaces are custom ``gymnasium.spaces.Space`` subclasses with
``contains`` and ``sample``; they are not flattenable (``is_np_flattenable`` is False).

``ActionSpace.sample(mask=...)`` takes an optional boolean mask over element ids (e.g.
``obs.action_mask()``) so a sampled action targets an element the observation offers.  It samples the
element action kinds only, unless the space was made with ``mouse=True`` (then the pointer kinds too:
points drawn uniformly over the task area).  ``wait`` (let time pass in one env) is in every space but
never sampled: only scripted oracles produce it.
"""
from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
from gymnasium import spaces

from zoo.web.action_checks import check_at, check_key, check_wait
from zoo.web.types import ACTION_KINDS, CATEGORIES, ELEMENT_ACTION_KINDS, MOUSE_ACTION_KINDS, Action, Element, Observation

SAMPLE_KEYS = ("Enter", "Tab", "Backspace", "ArrowDown", "ArrowUp", "Space", "a")
TAGS = ("div", "span", "p", "a", "button", "input", "select", "label", "textarea")
TASK_AREA = (160.0, 210.0)  # MiniWoB's task area (width, height) in CSS pixels: where sampled points fall
SCROLL_STEPS = (-100.0, 0.0, 100.0)  # one wheel notch either way, per axis


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_coord(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _is_point(p: Any) -> bool:
    return isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_coord(v) for v in p)


class ActionSpace(spaces.Space):
    """Every well-formed ``Action`` whose element id (click/type/select) is in ``[0, max_elements)``.

    ``contains`` checks the form only: an action can still be invalid for one observation (an
    id past its elements, a hidden element, a wrong element kind), which the env penalises.
    Mouse kinds are in the space whatever ``mouse`` says (the env carries them out): finite
    coordinates, an optional element id in range, a drag path of 1 to ``max_path`` points.
    ``mouse`` only decides whether ``sample`` draws them.
    """

    def __init__(self, max_elements: int = 256, max_text: int = 64, seed: int | np.random.Generator | None = None,
                 mouse: bool = False, max_path: int = 16, area: tuple[float, float] = TASK_AREA):
        self.max_elements, self.max_text = int(max_elements), int(max_text)
        self.mouse, self.max_path, self.area = bool(mouse), int(max_path), (float(area[0]), float(area[1]))
        self.kinds = ELEMENT_ACTION_KINDS + MOUSE_ACTION_KINDS if self.mouse else ELEMENT_ACTION_KINDS
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        if not isinstance(x, Action) or x.kind not in ACTION_KINDS or check_at(x.at_ms, x.kind, x.ms) is not None:
            return False
        if x.kind == "noop":
            return True
        if x.kind == "wait":
            return check_wait(x.ms) is None
        if x.kind == "press":
            return check_key(x.key) is None
        if x.kind in MOUSE_ACTION_KINDS:
            return self._contains_mouse(x)
        if not (_is_int(x.element) and 0 <= int(x.element) < self.max_elements):
            return False
        if x.kind == "type":
            return isinstance(x.text, str) and len(x.text) <= self.max_text
        if x.kind == "select":
            return isinstance(x.option, str)
        return True

    def _contains_mouse(self, x: Action) -> bool:
        if x.element is not None and not (_is_int(x.element) and 0 <= int(x.element) < self.max_elements):
            return False
        if x.kind == "drag":
            return isinstance(x.path, (list, tuple)) and 1 <= len(x.path) <= self.max_path and all(map(_is_point, x.path))
        if not (_is_coord(x.x) and _is_coord(x.y)):
            return False
        return x.kind != "scroll" or (_is_coord(x.dx) and _is_coord(x.dy))

    def sample(self, mask: np.ndarray | None = None, probability: Any = None) -> Action:
        """A random action; with ``mask`` (bool per element id) element actions target only True ids
        (a noop or a key press when none is True).  Mouse kinds (``mouse=True`` only) act at points of
        the task area, never relative to an element."""
        rng = self.np_random
        ids = np.arange(self.max_elements) if mask is None else np.flatnonzero(np.asarray(mask, bool))
        kind = str(rng.choice(self.kinds))
        if kind in ("click", "type", "select") and len(ids) == 0:
            kind = "press"
        if kind == "noop":
            return Action.noop()
        if kind == "press":
            return Action.press(str(rng.choice(SAMPLE_KEYS)))
        if kind in MOUSE_ACTION_KINDS:
            return self._sample_mouse(kind, rng)
        element = int(rng.choice(ids))
        if kind == "click":
            return Action.click(element)
        word = "".join(rng.choice(list(string.ascii_lowercase), size=int(rng.integers(1, 9))))
        return Action.type(element, word) if kind == "type" else Action.select(element, word)

    def _sample_mouse(self, kind: str, rng: np.random.Generator) -> Action:
        def point() -> tuple[float, float]:
            return float(rng.uniform(0, self.area[0])), float(rng.uniform(0, self.area[1]))

        if kind == "drag":
            return Action.drag([point() for _ in range(int(rng.integers(2, min(4, self.max_path) + 1)))])
        if kind == "scroll":
            return Action.scroll(*point(), dx=float(rng.choice(SCROLL_STEPS)), dy=float(rng.choice(SCROLL_STEPS)))
        return {"click_at": Action.click_at, "dblclick_at": Action.dblclick_at, "move": Action.move}[kind](*point())

    def __repr__(self) -> str:
        return f"ActionSpace(max_elements={self.max_elements}, mouse={self.mouse})"

    def _key(self) -> tuple:
        return self.max_elements, self.max_text, self.mouse, self.max_path, self.area

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ActionSpace) and other._key() == self._key()


class ObservationSpace(spaces.Space):
    """Every ``Observation`` of at most ``max_elements`` well-formed elements (ids in order, parents
    before children, depth = parent's + 1, a known category) and, when ``screenshot_size`` is set,
    a uint8 ``(size, size, 3)`` screenshot (``None`` otherwise)."""

    def __init__(self, max_elements: int = 256, screenshot_size: int | None = None,
                 seed: int | np.random.Generator | None = None):
        self.max_elements = int(max_elements)
        self.screenshot_size = int(screenshot_size) if screenshot_size else None
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        if not isinstance(x, Observation) or not isinstance(x.instruction, str) or not isinstance(x.task, str):
            return False
        if not isinstance(x.elements, list) or len(x.elements) > self.max_elements:
            return False
        for k, e in enumerate(x.elements):
            if not isinstance(e, Element) or e.id != k or e.category not in CATEGORIES or len(e.bbox) != 4:
                return False
            if not -1 <= e.parent < k or e.depth != (0 if e.parent < 0 else x.elements[e.parent].depth + 1):
                return False
        shot = x.screenshot
        if self.screenshot_size is None:
            return shot is None
        size = self.screenshot_size
        return isinstance(shot, np.ndarray) and shot.dtype == np.uint8 and shot.shape == (size, size, 3)

    def sample(self, mask: Any = None, probability: Any = None) -> Observation:
        """A random well-formed observation (a random tree of elements), for tests and shape checks."""
        rng = self.np_random
        n = int(rng.integers(1, min(self.max_elements, 16) + 1))
        elements: list[Element] = []
        for k in range(n):
            parent = int(rng.integers(-1, k)) if k else -1
            depth = 0 if parent < 0 else elements[parent].depth + 1
            category = str(rng.choice(CATEGORIES))
            bbox = tuple(float(v) for v in rng.integers(0, 160, size=4))
            elements.append(Element(k, str(rng.choice(TAGS)), "", {}, bbox, parent, depth, bool(rng.random() < 0.9),
                                    category, category in ("link", "input", "action")))
        shot = None
        if self.screenshot_size is not None:
            shot = rng.integers(0, 256, size=(self.screenshot_size, self.screenshot_size, 3), dtype=np.uint8)
        return Observation("sample", "Click the button.", elements, shot, "", 0)

    def __repr__(self) -> str:
        return f"ObservationSpace(max_elements={self.max_elements}, screenshot_size={self.screenshot_size})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ObservationSpace) and (other.max_elements, other.screenshot_size) == (
            self.max_elements, self.screenshot_size)
