"""Oracles for the MiniWoB++ click family and its variants: button sequences and delays, checkbox
variants, accordions, tabs, dialogs, menus, widgets and the shape / colour / grid pages.  They act
from what the page shows: text, element attributes and boxes; never the task's hidden answer.
"""
from __future__ import annotations

import re
import time

from zoo.web.tasks.miniwob_core import _click_checkboxes
from zoo.web.tasks.oracle import by_text, click, first, has_class, live, oracle, quoted, submit_button
from zoo.web.types import Action, Element, Observation

ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2}


def _button(obs: Observation, label: str) -> Element | None:
    return by_text(obs, label, "button")


# ---------------------------------------------------------------- buttons
@oracle("click-test-2", "click-test-transfer")
def _click_named_button(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Click button (\w+)", obs.instruction)
    return click(_button(obs, m.group(1)) if m else None)


@oracle("click-button-sequence")
def _click_button_sequence(obs: Observation, mem: dict) -> Action:
    label = "TWO" if mem.get("one") else "ONE"
    mem["one"] = True
    return click(_button(obs, label))


# When the last click of button-delay was decided (any env): the actions of one vectorised step are
# computed one env after another and carried out together, so an env that sleeps after another env
# decided its timed click would delay that click.
_TIMED_CLICK_AT = [0.0]
WAIT_SLICE_S = 0.15


@oracle("button-delay")
def _button_delay(obs: Observation, mem: dict) -> Action:
    """Click ONE, wait the asked seconds on the wall clock (no-op steps), then click TWO."""
    m = re.search(r"wait (\d+) seconds?", obs.instruction)
    if m is None:
        return Action.noop()
    if "one_at" not in mem:
        mem["one_at"] = time.monotonic()
        return click(_button(obs, "ONE"))
    now = time.monotonic()
    left = int(m.group(1)) - (now - mem["one_at"])
    if now - _TIMED_CLICK_AT[0] < 0.05:  # another env's timed click is waiting for this batch: do not hold it up
        return Action.noop() if left > 0.05 else click(_button(obs, "TWO"))
    if left > WAIT_SLICE_S:
        time.sleep(WAIT_SLICE_S)
        return Action.noop()
    time.sleep(max(left, 0.0))
    _TIMED_CLICK_AT[0] = time.monotonic()
    return click(_button(obs, "TWO"))


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
    return click(_button(obs, label))


# ---------------------------------------------------------------- checkboxes
# the large and transfer pages phrase their instruction like click-checkboxes
_oracle_large = oracle("click-checkboxes-large", "click-checkboxes-transfer")(_click_checkboxes)


# ---------------------------------------------------------------- accordions and tabs
def _settled(obs: Observation, mem: dict) -> bool:
    """True when no panel changed its box since the last observation (an opening animation is
    over); while one moves, wait a little so the animation gets on without using up steps."""
    boxes = [e.bbox for e in obs.elements if e.attrs.get("role") == "tabpanel"]
    history = mem.setdefault("panel_boxes", [])
    history.append(boxes)
    del history[:-2]
    if any(b != boxes for b in history):
        time.sleep(0.15)
        return False
    return True


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
        _settled(obs, mem)
        return Action.click(header.id)
    return click(submit_button(obs)) if _settled(obs, mem) else Action.noop()


def _open_next(mem: dict, headers: list[tuple[str, bool, Element]]) -> Action:
    """Open the first header (section or tab) not looked at yet (the open one and every one clicked
    count as looked at).  headers: (label, is open, element to click)."""
    seen = mem.setdefault("seen", set())
    seen.update(label for label, is_open, _ in headers if is_open)
    for label, _, e in headers:
        if label not in seen:
            seen.add(label)
            return Action.click(e.id)
    return Action.noop()


@oracle("click-collapsible-2", "click-collapsible-2-nodelay")
def _click_collapsible_2(obs: Observation, mem: dict) -> Action:
    settled = _settled(obs, mem)
    if not settled:
        return Action.noop()
    target = _link(obs, quoted(obs.instruction)[0])
    if target is not None:
        return Action.click(target.id)
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
    return click(_button(obs, "Submit"))


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
    return click(_button(obs, str(n)))


@oracle("identify-shape")
def _identify_shape(obs: Observation, mem: dict) -> Action:
    item = first(drawn_items(obs))
    if item is None:
        return Action.noop()
    kind, name = item_kind(item)
    label = {"digit": "Number", "letter": "Letter"}.get(kind) or name.capitalize()
    return click(_button(obs, label))


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
def _hover_open(obs: Observation, mem: dict, item: Element) -> Action:
    """Rest the pointer on a menu item so its submenu opens (menus open after a short hover delay)."""
    key = ("hover", item.text)
    waited = mem.get(key, -1)
    mem[key] = waited + 1
    if waited < 0 or waited >= 6:  # first time, or the submenu never came: point at it again
        mem[key] = 0
        x, y = item.center
        return Action.move(x, y)
    time.sleep(0.1)
    return Action.noop()


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


@oracle("count-sides")
def _count_sides(obs: Observation, mem: dict) -> Action:
    canvas = first([e for e in obs.elements if e.tag == "canvas" and e.visible])
    got = _pixels_of(obs, canvas) if canvas else None
    if got is None:
        return Action.noop()
    pixels, _ = got
    n = polygon_sides(pixels.mean(axis=2))
    return click(_button(obs, str(n)) if n else None)


def darkness(pixels):
    """How much darker than its background (the median) each pixel is, in [0, 1]."""
    import numpy as np

    gray = pixels.mean(axis=2)
    bg = float(np.median(gray))
    return np.clip((bg - gray) / max(bg, 1.0), 0.0, 1.0)


def best_icon(obs: Observation, icons: list[Element]) -> Element | None:
    """The icon whose picture appears in the instruction box (the strip above #area): slide each
    icon's picture (cut to its ink plus a 1 px margin) over the strip and keep the closest fit."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    wrap = first([w for w in obs.elements if w.attrs.get("id") == "wrap"])
    area = first([w for w in obs.elements if w.attrs.get("id") == "area"])
    if obs.screenshot is None or wrap is None or area is None:
        return None
    strip = Element(-1, "div", "", {}, (wrap.bbox[0], wrap.bbox[1], wrap.bbox[2], area.bbox[1] - wrap.bbox[1]),
                    -1, 0, True, "style", False)
    got = _pixels_of(obs, strip)
    if got is None:
        return None
    query = darkness(got[0])
    best, best_score = None, None
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
        score = float(((sliding_window_view(query, ink.shape) - ink) ** 2).sum(axis=(2, 3)).min())
        if best_score is None or score < best_score:
            best, best_score = icon, score
    return best


@oracle("click-menu-2")
def _click_menu_2(obs: Observation, mem: dict) -> Action:
    items = [e for e in live(obs) if e.attrs.get("role") == "menuitem"]
    if not items:
        return click(_button(obs, "Menu"))
    playback = _menu_item(obs, "Playback")
    names = quoted(obs.instruction)
    if "labeled" in obs.instruction and len(names) >= 2:
        target = _menu_item(obs, names[1])
        if target is not None:
            return Action.click(target.id)
        return _hover_open(obs, mem, playback) if playback else Action.noop()
    if playback is not None and _menu_item(obs, "Prev") is None:  # show the submenu's icons too
        return _hover_open(obs, mem, playback)
    icons = [e for e in live(obs) if has_class(e, "ui-icon") and not has_class(e, "ui-menu-icon")]
    icon = best_icon(obs, icons)
    return click(obs.elements[icon.parent] if icon else None)


@oracle("click-pie", "click-pie-nodelay")
def _click_pie(obs: Observation, mem: dict) -> Action:
    """Open the wheel with its centre button, let it finish spreading, click the labelled slice."""
    titles = {t.text: obs.elements[t.parent] for t in obs.elements
              if t.tag == "tspan" and obs.elements[t.parent].attrs.get("id", "").startswith("wheelnav-divWheel-title-")}
    if not mem.get("spread"):
        mem["spread"] = True
        return click(first([e for e in live(obs) if e.attrs.get("id") == "wheelnav-divWheel-spreader"]))
    boxes = sorted(e.bbox for e in titles.values())
    if boxes != mem.get("title_boxes"):  # still spreading
        mem["title_boxes"] = boxes
        time.sleep(0.15)
        return Action.noop()
    target = titles.get(quoted(obs.instruction)[0])
    # the slice selected at the start shows no pointer cursor but takes clicks all the same
    return Action.click(target.id) if target is not None else Action.noop()


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
