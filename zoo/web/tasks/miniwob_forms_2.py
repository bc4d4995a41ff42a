"""Oracles for MiniWoB++ number and widget tasks: arithmetic, guessing, checkbox drawing, cards,
the terminal, the rich-text editor, autocomplete and spinner widgets.  (Forms and text:
``miniwob_forms.py``.)  Keys a person types go through ``press`` one at a time from a queue in ``mem``.
"""
from __future__ import annotations

import colorsys
import re

from zoo.web.tasks.miniwob_forms import by_id, descendants, press_queued
from zoo.web.tasks.oracle import by_attr, click, fill_then, first, has_class, live, oracle, quoted
from zoo.web.types import Action, Observation


def _number(text: str) -> int | None:
    m = re.search(r"-?\d+", text)
    return int(m.group(0)) if m else None


def _answer(obs: Observation, value: int) -> Action:
    return fill_then(by_attr(obs, "id", "math-answer"), str(value)) or click(by_attr(obs, "id", "subbtn"))


# ---------------------------------------------------------------- arithmetic
def solve_arithmetic(problem: str) -> int | None:
    """'3 x 4 =' -> 12."""
    m = re.search(r"(-?\d+)\s*([-+x])\s*(-?\d+)", problem)
    if m is None:
        return None
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    return a + b if op == "+" else a - b if op == "-" else a * b


def solve_for_x(problem: str) -> int | None:
    """'x - 3 = 10' -> 13; '3 - x = 10' -> -7; '4 + x = 9' -> 5."""
    m = re.search(r"x\s*([-+])\s*(-?\d+)\s*=\s*(-?\d+)", problem)
    if m:
        op, d, total = m.group(1), int(m.group(2)), int(m.group(3))
        return total - d if op == "+" else total + d
    m = re.search(r"(-?\d+)\s*([-+])\s*x\s*=\s*(-?\d+)", problem)
    if m:
        d, op, total = int(m.group(1)), m.group(2), int(m.group(3))
        return total - d if op == "+" else d - total
    return None


@oracle("simple-arithmetic")
def _simple_arithmetic(obs: Observation, mem: dict) -> Action:
    problem = by_id(obs, "math-problem")
    value = solve_arithmetic(problem.text) if problem else None
    return Action.noop() if value is None else _answer(obs, value)


@oracle("simple-algebra")
def _simple_algebra(obs: Observation, mem: dict) -> Action:
    problem = by_id(obs, "math-problem")
    value = solve_for_x(problem.text) if problem else None
    return Action.noop() if value is None else _answer(obs, value)


@oracle("visual-addition")
def _visual_addition(obs: Observation, mem: dict) -> Action:
    total = 0
    for group in ("visual-1", "visual-2"):
        box = by_id(obs, group)
        total += len([e for e in obs.children(box.id) if e.visible and has_class(e, "addition-block")]) if box else 0
    return _answer(obs, total)


@oracle("odd-or-even")
def _odd_or_even(obs: Observation, mem: dict) -> Action:
    for row in (e for e in obs.elements if e.tag == "div" and has_class(e, "row") and e.visible):
        inside = descendants(obs, row.id)
        shown = first([e for e in inside if has_class(e, "display-number")])
        value = _number(shown.text) if shown else None
        if value is None:
            continue
        want = first([e for e in inside if e.tag == "button" and has_class(e, "odd" if value % 2 else "even")])
        if want is not None and not has_class(want, "selected"):
            return Action.click(want.id)
    return click(by_attr(obs, "id", "submit"))


@oracle("guess-number")
def _guess_number(obs: Observation, mem: dict) -> Action:
    """Binary search on 0-9 from the page's 'lower than' / 'higher than' feedback."""
    lo, hi = mem.setdefault("range", [0, 9])
    for hint, higher in (("higher", True), ("lower", False)):
        box = by_id(obs, hint)
        said = first([c for c in obs.children(box.id) if c.tag == "span"]) if box is not None and box.visible else None
        n = _number(said.text) if said else None
        if n is not None:
            lo, hi = (max(lo, n + 1), hi) if higher else (lo, min(hi, n - 1))
    mem["range"] = [lo, hi]
    guess = str((lo + hi) // 2)
    field = by_attr(obs, "id", "tt")
    if field is not None and field.attrs.get("value") != guess:
        return Action.type(field.id, guess)
    return click(by_attr(obs, "id", "subbtn"))


@oracle("generate-number")
def _generate_number(obs: Observation, mem: dict) -> Action:
    shown = by_id(obs, "display-number")
    n = _number(shown.text) if shown else None
    text = obs.instruction
    if n is not None:
        m = re.search(r"(less|greater) than (\d+)", text)
        ok = ((n < int(m.group(2))) if m.group(1) == "less" else (n > int(m.group(2)))) if m else \
            (n % 2 == 1) if "odd number" in text else (n % 2 == 0) if "even number" in text else False
        if ok:
            return click(by_attr(obs, "id", "submit"))
    return click(by_attr(obs, "id", "generate"))


@oracle("find-greatest")
def _find_greatest(obs: Observation, mem: dict) -> Action:
    """Turn each card over (one shows at a time), remember its number, then pick the greatest."""
    cards = [e for e in live(obs) if e.tag == "div" and has_class(e, "card")]
    seen = mem.setdefault("seen", {})
    for i, card in enumerate(cards):
        value = first([c for c in obs.children(card.id) if c.visible and c.text])
        if value is not None and _number(value.text) is not None:
            seen[i] = _number(value.text)
    unseen = [i for i in range(len(cards)) if i not in seen]
    if unseen:
        return Action.click(cards[unseen[0]].id)
    best = max(seen, key=seen.get)
    if has_class(cards[best], "hidden"):
        return Action.click(cards[best].id)
    return click(by_attr(obs, "id", "submit"))


@oracle("ascending-numbers")
def _ascending_numbers(obs: Observation, mem: dict) -> Action:
    """Click 1; the numbers then turn into blank squares, so remember where each number was."""
    texts = [e for e in live(obs) if e.tag == "text" and e.text.isdigit()]
    if texts:
        mem["where"] = {int(e.text): e.center for e in texts}
        mem["next"] = 2
        return click(first([e for e in texts if e.text == "1"]))
    where, k = mem.get("where", {}), mem.get("next", 2)
    squares = [e for e in live(obs) if e.tag == "rect"]
    if k not in where or not squares:
        return Action.noop()
    x, y = where[k]
    mem["next"] = k + 1
    return Action.click(min(squares, key=lambda e: (e.center[0] - x) ** 2 + (e.center[1] - y) ** 2).id)


# The digits as the task's example picture draws them: 7 rows of 4 boxes, 1 = checked.
DIGIT_GLYPHS = {
    0: ["0110", "1001", "1001", "1001", "1001", "1001", "0110"],
    1: ["0010", "0110", "0010", "0010", "0010", "0010", "0010"],
    2: ["0110", "1001", "1001", "0010", "0100", "1000", "1111"],
    3: ["0110", "1001", "0001", "0110", "0001", "1001", "0110"],
    4: ["1000", "1010", "1010", "1111", "0010", "0010", "0010"],
    5: ["1111", "1000", "1000", "1110", "0001", "1001", "0110"],
    6: ["0110", "1001", "1000", "1110", "1001", "1001", "0110"],
    7: ["1111", "1001", "0001", "0010", "0010", "0100", "0100"],
    8: ["0110", "1001", "1001", "0110", "1001", "1001", "0110"],
    9: ["0110", "1001", "1001", "0111", "0001", "1001", "0110"],
}


@oracle("number-checkboxes")
def _number_checkboxes(obs: Observation, mem: dict) -> Action:
    m = re.search(r'Draw the number "(\d)"', obs.instruction)
    holder = by_id(obs, "checkboxes")
    if m is None or holder is None:
        return Action.noop()
    cells = "".join(DIGIT_GLYPHS[int(m.group(1))])
    boxes = [e for e in descendants(obs, holder.id) if e.tag == "input" and e.attrs.get("type") == "checkbox"]
    for box, cell in zip(boxes, cells):
        if box.actionable and box.visible and (box.attrs.get("checked") == "true") != (cell == "1"):
            return Action.click(box.id)
    return click(by_attr(obs, "id", "subbtn"))


@oracle("use-spinner")
def _use_spinner(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Select (-?\d+) with the spinner", obs.instruction)
    field = by_attr(obs, "id", "spinner")
    value = _number(field.attrs.get("value", "")) if field else None
    if m is None or value is None:
        return Action.noop()
    want = int(m.group(1))
    if value == want:
        return click(by_attr(obs, "id", "subbtn"))
    d = want - value
    if field.attrs.get("focused"):
        return Action.press("ArrowUp" if d > 0 else "ArrowDown")
    # Not focused yet: an arrow button steps once and focuses the field.  Arrows only, never PageUp/PageDown
    # (10 at a time): those are no agent's named keys, so a demonstration that pressed them could not be imitated
    # (at most 10 presses and Submit here, well inside the step limit and the page's 10 s).
    arrow = "ui-spinner-up" if d > 0 else "ui-spinner-down"
    return click(first([e for e in live(obs) if e.tag == "a" and has_class(e, arrow)]))


@oracle("use-autocomplete", "use-autocomplete-nodelay")
def _use_autocomplete(obs: Observation, mem: dict) -> Action:
    parts = quoted(obs.instruction)
    start, end = parts[0], (parts[1] if len(parts) > 1 else "")
    field = by_attr(obs, "id", "tags")
    if field is None:
        return Action.noop()
    value = field.attrs.get("value", "")
    if value and value.startswith(start) and value.endswith(end):
        return click(by_attr(obs, "id", "subbtn"))
    items = [e for e in live(obs) if e.tag in ("li", "div") and has_class(e, "ui-menu-item-wrapper") or
             (e.tag == "li" and has_class(e, "ui-menu-item") and e.text)]
    pick = first([e for e in items if e.text.startswith(start) and e.text.endswith(end)])
    if pick is not None:
        return Action.click(pick.id)
    if value != start:
        return Action.type(field.id, start)
    # the suggestions open by themselves after a delay; ArrowDown in the field opens them at once
    return Action.press("ArrowDown") if not items else Action.noop()


# ---------------------------------------------------------------- terminal (typed key by key)
@oracle("terminal")
def _terminal(obs: Observation, mem: dict) -> Action:
    step = press_queued(mem)
    if step is not None:
        return step
    if "listed" not in mem:  # focus the terminal and list the files
        mem["listed"] = True
        mem["keys"] = ["l", "s", "Enter"]
        return click(by_attr(obs, "id", "terminal"))
    if mem.get("removing"):
        return Action.noop()
    files: list[str] = []
    after_ls = False
    for e in obs.elements:
        if e.tag == "span" and has_class(e, "command"):
            after_ls = e.text.strip() == "ls"
        elif after_ls and e.tag == "span" and has_class(e, "output"):
            files = e.text.split()
            break
    m = re.search(r"extension \.(\S+)", obs.instruction)
    wanted = [f for f in files if (f.endswith("." + m.group(1)) if m else "." not in f)]
    if not wanted:
        return Action.noop()
    mem["removing"] = True
    mem["keys"] = list("rm " + wanted[0]) + ["Enter"]
    return press_queued(mem)


# ---------------------------------------------------------------- rich-text editor (keyboard selection)
# Keyboard shortcuts rather than toolbar buttons: a toolbar click right after a keyboard selection can
# restore the editor's previous (stale) selection before it has caught up with the new one.
STYLE_KEYS = {"bold": "Control+b", "italics": "Control+i", "underlined": "Control+u"}
HUES = {"red": 0, "orange": 36, "yellow": 60, "green": 120, "blue": 210, "purple": 270}


def word_selection_keys(text: str, word_index: int) -> list[str]:
    """Keys that select word ``word_index`` (words split on spaces, punctuation included) from the end of
    ``text``: Control+ArrowLeft stops at the start of every letter run and every punctuation mark,
    Control+Shift+ArrowRight selects to the end of the letter run, Shift+ArrowRight adds each trailing mark."""
    words = text.split(" ")
    start = sum(len(w) + 1 for w in words[:word_index])
    stops = [m.start() for m in re.finditer(r"\w+|[^\w\s]", text)]
    back = len(stops) - stops.index(start)
    letters = re.match(r"\w*", words[word_index]).group(0)
    return (["Control+End"] + ["Control+ArrowLeft"] * back + ["Control+Shift+ArrowRight"]
            + ["Shift+ArrowRight"] * (len(words[word_index]) - len(letters)))


def _hue_distance(bg: str, hue: float) -> float:
    """How far a swatch's colour is from a named hue (grey and white swatches are far from all)."""
    rgb = [int(v) / 255 for v in re.findall(r"\d+", bg)[:3]]
    if len(rgb) < 3:
        return 1e9
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    d = abs(h * 360 - hue)
    return min(d, 360 - d) + (0 if s > 0.5 and v > 0.3 else 1000)


STYLE_TAGS = {"bold": "strong", "italics": "em", "underlined": "u"}


@oracle("text-editor")
def _text_editor(obs: Observation, mem: dict) -> Action:
    """Select the word (or everything) by keyboard, apply the style or colour, look that the text now
    shows it (a fresh selection is sometimes not yet the editor's when the toolbar is used) and submit."""
    text = re.sub(r"\s+", " ", obs.instruction)
    m = re.search(r"give the text (.+?) the (style|color) (\w+)", text) or \
        re.search(r"(everything) the (style|color) (\w+)", text)
    para = first([e for e in obs.elements if e.tag == "p" and e.visible])
    if m is None or para is None:
        return Action.noop()
    word, kind, name = m.groups()
    body = mem.setdefault("body", para.text)
    everything = word == "everything" and "give the text" not in text
    target = body if everything else word
    plan = mem.get("plan")
    if not plan:
        styled_tag = STYLE_TAGS.get(name, "span")
        if any(e.tag == styled_tag and e.text == target and e.visible for e in obs.elements):
            return click(by_attr(obs, "id", "subbtn"))
        if mem.get("tries", 0) >= 2 or not (everything or word in body.split(" ")):
            return Action.noop()
        mem["tries"] = mem.get("tries", 0) + 1
        keys = ["Control+a"] if everything else word_selection_keys(body, body.split(" ").index(word))
        # a pause after selecting: the editor notes a new selection a moment after the keys move it
        plan = mem["plan"] = ["focus"] + keys + ["pause", "style", "pause"]
    todo = plan[0]
    if todo == "style" and kind == "color":  # open the colour picker, then click the swatch of that colour
        swatches = [e for e in live(obs) if has_class(e, "ql-picker-item") and e.attrs.get("bg")]
        if not swatches:
            return click(first([e for e in live(obs) if has_class(e, "ql-picker-label")]))
        plan.pop(0)
        return Action.click(min(swatches, key=lambda e: _hue_distance(e.attrs["bg"], HUES[name])).id)
    plan.pop(0)
    if todo == "focus":
        return Action.click_at(3, 6, element=para.id)
    if todo == "style":  # the editor's shortcut acts on the selection as it is now
        return Action.press(STYLE_KEYS[name])
    return Action.noop() if todo == "pause" else Action.press(todo)
