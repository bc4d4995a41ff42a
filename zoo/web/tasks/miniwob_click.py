"""Oracles for the MiniWoB++ click family and its variants: buttons (sequence, delay, transfer),
widgets, dialogs, checkbox variants (large, transfer, by meaning), accordions, tabs and colours.
They act from what the page shows: text, element attributes (``bg`` is the computed background
colour) and boxes; never the task's hidden answer.  The picture-like pages are in miniwob_click_2.py.
"""
from __future__ import annotations

import re

from zoo.web.tasks.miniwob_core import _click_checkboxes
from zoo.web.tasks.oracle import by_text, click, first, has_class, live, oracle, quoted, settle_once, submit_button
from zoo.web.types import Action, Element, Observation

ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2}


def labeled_button(obs: Observation, label: str) -> Element | None:
    return by_text(obs, label, "button")


# ---------------------------------------------------------------- buttons
@oracle("click-test-2", "click-test-transfer")
def _click_named_button(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Click button (\w+)", obs.instruction)
    return _press(obs, m.group(1)) if m else Action.noop()


@oracle("click-button-sequence")
def _click_button_sequence(obs: Observation, mem: dict) -> Action:
    label = "TWO" if mem.get("one") else "ONE"
    mem["one"] = True
    return _press(obs, label)


def clear_point(obs: Observation, target: Element) -> Action:
    """Click ``target``: an element click when no later-drawn button covers its centre, else at the middle of
    its widest strip that none covers (the task pages place their buttons at random, sometimes overlapping)."""
    x, y, w, h = target.bbox
    covers = [e.bbox for e in live(obs) if e.tag == "button" and e.id > target.id]
    best, best_len = None, 0.0
    for fy in (0.5, 0.25, 0.75, 0.1, 0.9):
        py = y + fy * h
        free = [(x + 1, x + w - 1)]
        for cx, cy, cw, ch in covers:
            if cy <= py <= cy + ch:
                free = [seg for a, b in free for seg in ((a, min(b, cx)), (max(a, cx + cw), b)) if seg[1] > seg[0]]
        for a, b in free:
            if b - a > best_len:
                best, best_len = ((a + b) / 2, py), b - a
    if best is None or not any(cy <= y + h / 2 <= cy + ch and cx <= x + w / 2 <= cx + cw for cx, cy, cw, ch in covers):
        return Action.click(target.id)  # nothing covers its centre: an element click lands there (what agents do)
    return Action.click_at(*best)


def _press(obs: Observation, label: str) -> Action:
    button = labeled_button(obs, label)
    return clear_point(obs, button) if button is not None else Action.noop()


BUTTON_DELAY_EARLY_MS = 10.0  # the page's timer fires a little late, and ONE's click came just before the look


@oracle("button-delay")
def _button_delay(obs: Observation, mem: dict) -> Action:
    """Click ONE, then click TWO the asked seconds later by the page's clock: a click timed with ``at_ms`` from
    the observation read right after ONE's click (the step's own look), so the delay does not depend on
    how long the steps in between took."""
    m = re.search(r"wait (\d+) seconds?", obs.instruction)
    if m is None:
        return Action.noop()
    if not mem.get("pressed_one"):
        mem["pressed_one"] = True
        return _press(obs, "ONE")  # where TWO (drawn later) does not cover it; TWO itself is never covered
    one_ms = mem.setdefault("one_ms", obs.time_ms)
    return click(labeled_button(obs, "TWO")).at(one_ms + 1000.0 * int(m.group(1)) - BUTTON_DELAY_EARLY_MS)


@oracle("click-widget")
def _click_widget(obs: Observation, mem: dict) -> Action:
    kind = quoted(obs.instruction)[0]

    def is_kind(e: Element) -> bool:
        if kind in ("textarea", "button"):
            return e.tag == kind
        if kind == "text":
            return e.tag == "input" and e.attrs.get("type") not in ("radio", "checkbox")
        return e.tag == "input" and e.attrs.get("type") == kind

    return click(first([e for e in live(obs) if is_kind(e)]))


@oracle("focus-text-2")
def _focus_text_2(obs: Observation, mem: dict) -> Action:
    m = re.search(r"(1st|2nd|3rd) input", obs.instruction)
    fields = [e for e in live(obs) if e.tag == "input"]
    pos = ORDINALS[m.group(1)] if m else len(fields)
    return click(fields[pos] if pos < len(fields) else None)


@oracle("click-dialog-2")
def _click_dialog_2(obs: Observation, mem: dict) -> Action:
    label = quoted(obs.instruction)[0]
    if label == "x":
        return click(first([e for e in live(obs) if e.tag == "button" and has_class(e, "ui-dialog-titlebar-close")]))
    return click(labeled_button(obs, label))


# ---------------------------------------------------------------- checkboxes
# the large and transfer pages phrase their instruction like click-checkboxes
_oracle_large = oracle("click-checkboxes-large", "click-checkboxes-transfer")(_click_checkboxes)


# ---------------------------------------------------------------- accordions and tabs
def _settle_after_header(mem: dict) -> Action | None:
    """One ``Action.settle`` after a header's click (its panel slides for about 0.4 s), else None."""
    return Action.settle() if mem.pop("sliding", False) else None


def _clicked_header(mem: dict, e: Element) -> Action:
    mem["sliding"] = True
    return Action.click(e.id)


def _section_open(obs: Observation, header: Element) -> bool:
    """An accordion header is open when the panel right after it shows."""
    after = [e for e in obs.elements if e.parent == header.parent and e.id > header.id]
    return bool(after) and after[0].attrs.get("role") == "tabpanel" and after[0].visible


def _link(obs: Observation, text: str) -> Element | None:
    return first([e for e in live(obs) if e.tag == "span" and has_class(e, "alink") and e.text == text])


@oracle("click-collapsible", "click-collapsible-nodelay")
def _click_collapsible(obs: Observation, mem: dict) -> Action:
    header = first([e for e in live(obs) if e.tag == "h3" and has_class(e, "ui-accordion-header")])
    if header is not None and not _section_open(obs, header):
        return _clicked_header(mem, header)
    return _settle_after_header(mem) or click(submit_button(obs))


def _open_next(mem: dict, headers: list[tuple[str, bool, Element]]) -> Action:
    """Open the first header (section or tab) not looked at yet (the open one and every one clicked
    count as looked at; after the last, look again from the first).  headers: (label, is open, element)."""
    seen = mem.setdefault("seen", set())
    seen.update(label for label, is_open, _ in headers if is_open)
    if all(label in seen for label, _, _ in headers):
        seen.clear()
    for label, is_open, e in headers:
        if label not in seen and not is_open:
            seen.add(label)
            return _clicked_header(mem, e)
    return Action.noop()


def _arrow_down(obs: Observation, header: Element) -> bool:
    """An accordion header shows an arrow pointing right while closed and down once opened (it turns at
    the click, before the panel slides; the header's own class list is cut short in the observation)."""
    return any(has_class(c, "ui-icon-triangle-1-s") for c in obs.children(header.id))


def _header_of(obs: Observation, panel: Element) -> Element | None:
    """The accordion header just before a panel (its sibling)."""
    before = [e for e in obs.elements if e.parent == panel.parent and e.id < panel.id]
    return before[-1] if before and before[-1].tag == "h3" else None


@oracle("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(obs: Observation, mem: dict) -> Action:
    """Open the section whose collapsed panel holds the link (the element tree has it, as navigate-tree's
    folders), click the link as soon as it shows; the click lands on it where it is at that moment, so the
    slide need not have ended.  Against the 10 s clock: two clicks and the slide, not a section-by-section search."""
    name = quoted(obs.instruction)[0]
    target = _link(obs, name)
    if target is not None:
        return Action.click(target.id)
    for link in (e for e in obs.elements if e.tag == "span" and has_class(e, "alink") and e.text == name):
        panel = obs.elements[link.parent] if link.parent >= 0 else None
        header = _header_of(obs, panel) if panel is not None and panel.attrs.get("role") == "tabpanel" else None
        if header is None or not (header.visible and header.actionable):
            continue
        if _arrow_down(obs, header):  # opened: the panel is sliding down to the link (about 0.4 s)
            return settle_once(mem, ("opened", header.id), 0.05)
        return Action.click(header.id)
    # no such link in the tree: look through the sections one by one
    step = _settle_after_header(mem)
    if step is not None:
        return step
    headers = [(e.text, _section_open(obs, e), e)
               for e in live(obs) if e.tag == "h3" and has_class(e, "ui-accordion-header")]
    return _open_next(mem, headers)


@oracle("click-tab-2", "click-tab-2-easy", "click-tab-2-medium", "click-tab-2-hard")
def _click_tab_2(obs: Observation, mem: dict) -> Action:
    target = _link(obs, quoted(obs.instruction)[0])
    if target is not None:
        return Action.click(target.id)
    tabs = [(a.text, has_class(obs.elements[a.parent], "ui-tabs-active"), a)
            for a in live(obs) if a.tag == "a" and has_class(a, "ui-tabs-anchor")]
    return _open_next(mem, tabs)


# ---------------------------------------------------------------- checkboxes by meaning
# A small thesaurus (what a reader knows): words in one group mean about the same thing; plural and
# singular forms share a group.
THESAURUS = [
    "big large huge enormous gigantic", "small tiny little mini petite", "red scarlet crimson vermillion",
    "happy cheerful joyful gleeful delighted", "sad unhappy sorrowful miserable tragic",
    "angry mad furious irritated", "evil wicked immoral sinful corrupt depraved", "wrong incorrect mistaken erroneous",
    "real genuine actual", "strange odd peculiar unusual weird", "stop cease halt end finish",
    "scared terrified panicked fearful frightened afraid", "quiet calm peaceful serene mild", "old aged archaic",
    "love like adore favor", "kill murder assassinate", "keep retain preserve sustain maintain",
    "hide conceal camouflage", "hate despise loathe detest dislike", "funny humorous amusing comical laughable",
    "fat fleshy plump chubby", "stupid dumb dull unwise", "delicious savory delectable appetizing",
    "cut slice carve chop", "brave courageous fearless", "begin start initiate launch", "answer reply response",
    "television televisions tv tvs", "house home houses homes", "fire flame fires flames", "pig pork swine",
    "rabbit rabbits bunny bunnies", "car cars automobile automobiles vehicle vehicles", "water",
]
_GROUP_OF = {w: i for i, g in enumerate(THESAURUS) for w in g.split()}


def similar(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or (a in _GROUP_OF and _GROUP_OF.get(a) == _GROUP_OF.get(b))


@oracle("click-checkboxes-soft")
def _click_checkboxes_soft(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Select words similar to (.*) and click Submit", obs.instruction)
    words = [] if m is None or m.group(1) == "nothing" else m.group(1).split(", ")
    for label in (e for e in obs.elements if e.tag == "label" and e.visible):
        box = first([c for c in obs.children(label.id) if c.tag == "input" and c.attrs.get("type") == "checkbox"])
        wanted = any(similar(label.text, w) for w in words)
        if box is not None and box.actionable and (box.attrs.get("checked") == "true") != wanted:
            return Action.click(box.id)
    return click(submit_button(obs))


# ---------------------------------------------------------------- colours
# CSS colour keywords of the colour tasks, as sRGB
NAMED_RGB = {
    "red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255), "olive": (128, 128, 0), "lime": (0, 255, 0),
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "gray": (128, 128, 128),
    "purple": (128, 0, 128), "orange": (255, 165, 0), "yellow": (255, 255, 0), "cyan": (0, 255, 255),
    "aqua": (0, 255, 255), "pink": (255, 192, 203), "magenta": (255, 0, 255),
}


def rgb(css: str) -> tuple[int, int, int] | None:
    """(r, g, b) of a computed colour ``rgb(r, g, b)`` / ``rgba(...)`` or a colour keyword."""
    m = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css or "")
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return NAMED_RGB.get((css or "").strip().lower())


def hue(c: tuple[int, int, int]) -> float:
    """Hue in degrees [0, 360) of an sRGB colour."""
    r, g, b = (v / 255 for v in c)
    hi, lo = max(r, g, b), min(r, g, b)
    if hi == lo:
        return 0.0
    d = hi - lo
    h = (g - b) / d % 6 if hi == r else (b - r) / d + 2 if hi == g else (r - g) / d + 4
    return 60.0 * h % 360


def hue_distance(a: float, b: float) -> float:
    return min(abs(a - b), 360 - abs(a - b))


@oracle("click-color")
def _click_color(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Click on the (\w+) colored box", obs.instruction)
    want = NAMED_RGB.get(m.group(1).lower()) if m else None
    boxes = [(e, rgb(e.attrs.get("bg", ""))) for e in live(obs) if has_class(e, "color")]
    boxes = [(e, c) for e, c in boxes if c is not None]
    if want is None or not boxes:
        return Action.noop()
    best = min(boxes, key=lambda ec: sum((x - y) ** 2 for x, y in zip(ec[1], want)))
    return Action.click(best[0].id)


@oracle("click-shades")
def _click_shades(obs: Observation, mem: dict) -> Action:
    m = re.search(r"shades of (red|green|blue)", obs.instruction)
    if m is None:
        return Action.noop()
    hues = {"red": 0.0, "green": 120.0, "blue": 240.0}
    for e in live(obs):
        c = rgb(e.attrs.get("bg", "")) if e.tag == "span" else None
        if c is None:
            continue
        nearest = min(hues, key=lambda name: hue_distance(hue(c), hues[name]))
        if (nearest == m.group(1)) != has_class(e, "selected"):
            return Action.click(e.id)
    return click(labeled_button(obs, "Submit"))
