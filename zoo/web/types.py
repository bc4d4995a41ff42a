"""The benchmark's data types: what an agent sees (``Observation`` of ``Element``s) and does (``Action``).

Element ids are indices into ``Observation.elements``; they are only valid for the step
that produced the observation (the page may re-render between steps).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Category = Literal["style", "text", "link", "input", "action"]
ActionKind = Literal["click", "type", "select", "press", "noop", "click_at", "dblclick_at", "move", "drag", "scroll", "wait"]
CATEGORIES: tuple[str, ...] = ("style", "text", "link", "input", "action")
# The observation vocabulary models embed, one copy for every strategy: index 0 is an explicit unknown slot
# (a category or tag outside the list), so nothing unknown is silently read as a real class.
UNKNOWN = "<unknown>"
CATEGORY_VOCAB: tuple[str, ...] = (UNKNOWN, *CATEGORIES)
TAG_VOCAB: tuple[str, ...] = (
    UNKNOWN, "div", "span", "p", "label", "a", "button", "input", "textarea", "select", "option",
    "form", "img", "ul", "ol", "li", "table", "tr", "td", "th", "h1", "h2", "h3", "h4", "b", "i",
    "strong", "em", "br", "svg", "canvas", "body", "section", "nav", "header", "footer", "t",
)
_CATEGORY_INDEX = {c: i for i, c in enumerate(CATEGORY_VOCAB)}
_TAG_INDEX = {t: i for i, t in enumerate(TAG_VOCAB)}


def category_index(category: str) -> int:
    """Index of an element category in ``CATEGORY_VOCAB`` (0, the unknown slot, for anything else)."""
    return _CATEGORY_INDEX.get(category, 0)


def tag_index(tag: str) -> int:
    """Index of a tag name in ``TAG_VOCAB`` (0, the unknown slot, for any other tag)."""
    return _TAG_INDEX.get(tag.lower(), 0)
# Element actions: what both strategies produce (the default action space).
ELEMENT_ACTION_KINDS: tuple[str, ...] = ("click", "type", "select", "press", "noop")
# Mouse actions at points, for tasks a person does with the pointer (SVG shapes, drag and drop, hover,
# sliders, text selection).  Coordinates are CSS pixels of the viewport (the frame of ``Element.bbox``);
# with ``element`` set they are an offset from that element's top-left corner instead.
MOUSE_ACTION_KINDS: tuple[str, ...] = ("click_at", "dblclick_at", "move", "drag", "scroll")
# Waiting: ``wait`` lets ``ms`` milliseconds of wall time pass in its own env, then observes (a person watching a
# timer or an animation).  No strategy produces it and no space samples it; scripted oracles use it so that one
# env's wait runs beside the others' actions instead of holding up the whole vectorised step.
TIMING_ACTION_KINDS: tuple[str, ...] = ("wait",)
MAX_WAIT_MS = 5000.0
SETTLE_MAX_MS = 2000.0  # Action.settle's default cap: jQuery UI's slides and fades last 0.2-0.4 s
ACTION_KINDS: tuple[str, ...] = ELEMENT_ACTION_KINDS + MOUSE_ACTION_KINDS + TIMING_ACTION_KINDS
# Keys a learned agent names when it presses one (Strategy 1's key head; any other key is one "<other>" class it
# cannot tell apart, so a step pressing it teaches nothing specific).
# ArrowLeft/ArrowRight came last (2026-12-06) so the earlier keys kept their indices: they move a focused slider.
NAMED_KEYS: tuple[str, ...] = ("Enter", "Tab", "Escape", "Backspace", "ArrowDown", "ArrowUp", "Space", "ArrowLeft",
                               "ArrowRight")


def is_typable(category: str, tag: str, attrs: dict[str, str]) -> bool:
    """Whether an element takes typed text: an input that is not a select, checkbox or radio button."""
    return category == "input" and tag != "select" and attrs.get("type") not in ("checkbox", "radio")


@dataclass
class Element:
    """One DOM element, in document (pre-)order so ``parent < id``.

    text: the element's own text (its direct text nodes, whitespace-collapsed); inputs carry
    their current value in ``attrs["value"]`` instead.  attrs: a few key attributes (id, class,
    name, type, value, placeholder, href, title, alt, role, aria-label, for, checked, disabled; ``label``: the
    text of a form control's <label>s).
    bbox: (x, y, w, h) in CSS pixels of the viewport.  visible: has area, not hidden by style and
    inside the viewport, or outside it where a user could scroll to it (no box that only hides its
    overflow cuts it off; the harness scrolls it into view before acting on it).  category: design-note class (style / text / link / input / action; a
    style tag holding its own text counts as text).  actionable: clicking or typing into it can
    do something (interactive tag, ARIA role, click handler or pointer cursor).
    options: the option texts of a <select>, else empty.
    """

    id: int
    tag: str
    text: str
    attrs: dict[str, str]
    bbox: tuple[float, float, float, float]
    parent: int
    depth: int
    visible: bool
    category: str
    actionable: bool
    options: list[str] = field(default_factory=list)

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.bbox
        return (x + w / 2, y + h / 2)

    @property
    def typable(self) -> bool:
        return is_typable(self.category, self.tag, self.attrs)

    def describe(self) -> str:
        """Short one-line form for logs and text prompts: ``[3] button "Submit"``."""
        label = self.text or self.attrs.get("value") or self.attrs.get("placeholder") or self.attrs.get("id", "")
        return f'[{self.id}] {self.tag} "{label[:40]}"'


@dataclass
class Observation:
    """task: task name.  instruction: the page's utterance (may change across pages).
    elements: the DOM tree, flattened.  screenshot: uint8 (H, W, 3) of the task area, or None.
    page: path of the current page on the task site (``miniwob/click-test.html``; the full URL when off the
    site, e.g. a blocked link's error page).  step: actions so far.  time_ms: the page's clock (the browser's
    ``Date.now()``) when it was read, what a clock on the wall tells a person; not part of equality.

    It is all a deployed agent would see: no episode seed (the harness keeps that, and the page's
    reward, to itself; an agent holding the seed could replay the test episode elsewhere and read
    its verdict before acting).
    """

    task: str
    instruction: str
    elements: list[Element]
    screenshot: np.ndarray | None = None
    page: str = ""
    step: int = 0
    time_ms: float = 0.0

    def __eq__(self, other: object) -> bool:
        """Field-wise equality (screenshots compared by value, so equal observations compare equal)."""
        if not isinstance(other, Observation):
            return NotImplemented
        a, b = self.screenshot, other.screenshot
        same_shot = a is b or (a is not None and b is not None and a.shape == b.shape and bool(np.array_equal(a, b)))
        return same_shot and (self.task, self.instruction, self.elements, self.page, self.step) == (
            other.task, other.instruction, other.elements, other.page, other.step)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass default

    def action_mask(self) -> np.ndarray:
        """bool[len(elements)]: elements an agent can sensibly target (actionable and visible)."""
        return np.array([e.actionable and e.visible for e in self.elements], dtype=bool)

    def find(self, text: str | None = None, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements whose own text equals ``text`` (if given), tag equals ``tag`` and attrs match."""
        out = []
        for e in self.elements:
            if text is not None and e.text != text:
                continue
            if tag is not None and e.tag != tag:
                continue
            if any(e.attrs.get(k) != v for k, v in attrs.items()):
                continue
            out.append(e)
        return out

    def children(self, element_id: int) -> list[Element]:
        return [e for e in self.elements if e.parent == element_id]

    def ancestors(self, element_id: int) -> list[Element]:
        """Parents of an element, nearest first."""
        out, parent = [], self.elements[element_id].parent
        while parent >= 0:
            out.append(self.elements[parent])
            parent = self.elements[parent].parent
        return out


@dataclass
class Action:
    """kind: click | type | select | press | noop.  element: target element id (click/type/select).
    text: what ``type`` writes (replacing the field's content).  option: the <select> option text
    (or value) to choose.  key: a key name for ``press`` (``Enter``, ``Tab``, ``ArrowDown``, ``a``,
    ``Control+a``, ``Control+c``) sent to the focused element.
    Mouse kinds: ``click_at`` / ``dblclick_at`` / ``move`` (hover) at ``(x, y)``; ``drag`` presses at
    ``path[0]``, moves through every point and releases at ``path[-1]``; ``scroll`` turns the wheel by
    ``(dx, dy)`` pixels with the pointer at ``(x, y)``.  Points are viewport CSS pixels, or offsets from
    the top-left of ``element``'s box when ``element`` is given.
    ``wait``: let ``ms`` milliseconds (0 to ``MAX_WAIT_MS``) pass in this env, then observe.
    ``at_ms``: carry the action out when the page's clock (as ``Observation.time_ms``) reaches it, waiting in
    the page (at most ``MAX_WAIT_MS``); for real-time tasks (a delay between two clicks), where when a step's
    round trip ends would be too coarse.  ``wait_until(at_ms)`` (a ``wait`` of 0 ms with ``at_ms``) is a look
    at a set time (a blink due, a price tick).  Like ``wait``, no strategy produces it and no space samples it
    (the scripted oracles use it).
    ``until_still``: a ``wait`` that ends as soon as the page is still: no animation running (jQuery's effects,
    CSS animations and transitions) and no autocomplete search pending in the focused field, ``ms`` at most
    (``settle``).  A wait of a fixed length, looked at again until
    the page has settled, takes as many steps as the machine is slow; this one takes one, so an oracle's
    recording of an animating page does not depend on the machine's speed.
    """

    kind: str
    element: int | None = None
    text: str | None = None
    option: str | None = None
    key: str | None = None
    x: float | None = None
    y: float | None = None
    path: list[tuple[float, float]] | None = None
    dx: float = 0.0
    dy: float = 0.0
    ms: float | None = None
    at_ms: float | None = None
    until_still: bool | None = None  # None rather than False: a recorded action's dict leaves it out

    def at(self, ms: float) -> Action:
        """This action, carried out when the page's clock reads ``ms`` (see ``at_ms``)."""
        return replace(self, at_ms=float(ms))

    @classmethod
    def click(cls, element: int) -> Action:
        return cls("click", element=element)

    @classmethod
    def type(cls, element: int, text: str) -> Action:
        return cls("type", element=element, text=text)

    @classmethod
    def copy(cls, element: int, instruction: str, start: int, end: int) -> Action:
        """Type the span ``instruction[start:end]`` (a pointer-style copy from the instruction)."""
        return cls("type", element=element, text=instruction[start:end])

    @classmethod
    def select(cls, element: int, option: str) -> Action:
        return cls("select", element=element, option=option)

    @classmethod
    def press(cls, key: str) -> Action:
        return cls("press", key=key)

    @classmethod
    def noop(cls) -> Action:
        return cls("noop")

    @classmethod
    def click_at(cls, x: float, y: float, element: int | None = None) -> Action:
        return cls("click_at", element=element, x=float(x), y=float(y))

    @classmethod
    def dblclick_at(cls, x: float, y: float, element: int | None = None) -> Action:
        return cls("dblclick_at", element=element, x=float(x), y=float(y))

    @classmethod
    def move(cls, x: float, y: float, element: int | None = None) -> Action:
        """Move the pointer there (hover)."""
        return cls("move", element=element, x=float(x), y=float(y))

    @classmethod
    def drag(cls, path: list[tuple[float, float]], element: int | None = None) -> Action:
        """Press at ``path[0]``, move through the points, release at ``path[-1]``."""
        return cls("drag", element=element, path=[(float(a), float(b)) for a, b in path])

    @classmethod
    def scroll(cls, x: float, y: float, dx: float = 0.0, dy: float = 0.0) -> Action:
        return cls("scroll", x=float(x), y=float(y), dx=float(dx), dy=float(dy))

    @classmethod
    def wait(cls, ms: float) -> Action:
        """Let ``ms`` milliseconds pass in this env, then observe."""
        return cls("wait", ms=float(ms))

    @classmethod
    def wait_until(cls, at_ms: float) -> Action:
        """Wait until the page's clock reads ``at_ms`` (as ``Observation.time_ms``), then observe: a look at a
        set time, not an action (the step cut-off does not count it)."""
        return cls("wait", ms=0.0, at_ms=float(at_ms))

    @classmethod
    def settle(cls, max_ms: float = SETTLE_MAX_MS) -> Action:
        """Wait until the page is still, ``max_ms`` at most, then observe (``until_still``)."""
        return cls("wait", ms=float(max_ms), until_still=True)

    def __str__(self) -> str:
        text = self._str()
        return text if self.at_ms is None else f"{text} at {self.at_ms:.0f} ms"

    def _str(self) -> str:
        arg = {"click": "", "type": f", {self.text!r}", "select": f", {self.option!r}"}.get(self.kind, "")
        if self.kind == "press":
            return f"press({self.key!r})"
        if self.kind == "noop":
            return "noop()"
        if self.kind == "wait":
            length = f"{self.ms:g} ms" if isinstance(self.ms, (int, float)) else "?"
            return f"settle(<= {length})" if self.until_still else f"wait({length})"
        at = "" if self.element is None else f"@{self.element}"
        if self.kind in ("click_at", "dblclick_at", "move"):
            return f"{self.kind}{at}({self.x:g}, {self.y:g})"
        if self.kind == "drag":
            return f"drag{at}({' -> '.join(f'({a:g}, {b:g})' for a, b in self.path or [])})"
        if self.kind == "scroll":
            return f"scroll({self.x:g}, {self.y:g}, dx={self.dx:g}, dy={self.dy:g})"
        return f"{self.kind}({self.element}{arg})"


_QUOTED = re.compile(r'"([^"]+)"')
# A clock time as people write it ("5:09 PM", "17:09"): one span, though the word split cuts it at the colon.
CLOCK_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm]\b)?")
PAGE_TEXT_CHARS = 40  # longer texts are paragraphs, not values a task asks to copy whole


def quoted_spans(instruction: str) -> list[tuple[int, int]]:
    """(start, end) of each double-quoted string's inside, the first of ``instruction_spans``."""
    return [(m.start(1), m.end(1)) for m in _QUOTED.finditer(instruction)]


def instruction_spans(instruction: str) -> list[tuple[int, int]]:
    """Candidate (start, end) spans an agent may copy: quoted strings first, then clock times, then single words."""
    spans = quoted_spans(instruction)
    spans += [(m.start(), m.end()) for m in CLOCK_TIME.finditer(instruction) if (m.start(), m.end()) not in spans]
    spans += [(m.start(), m.end()) for m in re.finditer(r"[^\s\",.:]+", instruction) if (m.start(), m.end()) not in spans]
    return spans


def field_values(elements: list[Element]) -> set[str]:
    """The non-empty values the page's fields hold, lower-cased: a text an agent means to type is already typed
    when it is one of them (both strategies read this of each typing candidate)."""
    return {str((e.attrs or {}).get("value", "")).strip().lower() for e in elements} - {""}


def slot_order(elements: list[Element]) -> list[Element]:
    """The visible elements in the order the agents fill their element slots: actionable ones first, then those
    with text of their own, each in page order.  A page with more visible elements than an agent has slots
    (``model.max_elements``) shows it only the first ones."""
    return sorted((e for e in elements if e.visible), key=lambda e: (not e.actionable, not (e.text or "").strip(), e.id))


def page_texts(elements: list[Element]) -> list[tuple[int, str]]:
    """(element id, text) an agent may copy off the page: each visible element's own text, whitespace-collapsed,
    when it is short enough to be a value (a table cell, a name, a code), first element of each text, page order.
    A person reading a table copies the cell, not a word of the instruction."""
    out, seen = [], set()
    for e in elements:
        text = " ".join((e.text or "").split())
        if e.visible and text and len(text) <= PAGE_TEXT_CHARS and text not in seen:
            seen.add(text)
            out.append((e.id, text))
    return out
