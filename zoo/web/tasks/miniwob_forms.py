"""Oracles for MiniWoB++ form and text tasks: text fields, dates and times, popups, form sequences,
layouts, copying text, reading tables.  (Number and widget tasks: ``miniwob_forms_2.py``.)

Each acts from what the page shows (instruction, visible text, field values, geometry) plus a small
per-episode memory; keys a person would type go through ``press`` one at a time from a queue (``press_queued``),
while dates and times are typed whole, as the instruction writes them.
"""
from __future__ import annotations

import re

from zoo.web.tasks.oracle import by_attr, by_text, click, fill_then, first, has_class, live, oracle, quoted
from zoo.web.types import CLOCK_TIME, Action, Element, Observation

ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2}


def ordinal(word: str) -> int:
    """'1st' -> 0, '12th' -> 11."""
    return ORDINALS.get(word, int(re.sub(r"\D", "", word) or 1) - 1)


def press_queued(mem: dict, key: str = "keys") -> Action | None:
    """The next key of the queue ``mem[key]`` (None once it is empty)."""
    keys = mem.get(key) or []
    return Action.press(keys.pop(0)) if keys else None


def by_id(obs: Observation, element_id: str) -> Element | None:
    return first([e for e in obs.elements if e.attrs.get("id") == element_id])


# ---------------------------------------------------------------- text fields
@oracle("enter-text-2")
def _enter_text_2(obs: Observation, mem: dict) -> Action:
    word = quoted(obs.instruction)[0]
    want = word.upper() if "upper case" in obs.instruction else word.lower()
    return fill_then(by_attr(obs, "id", "tt"), want) or click(by_attr(obs, "id", "subbtn"))


@oracle("enter-text-dynamic")
def _enter_text_dynamic(obs: Observation, mem: dict) -> Action:
    return fill_then(by_attr(obs, "id", "tt"), quoted(obs.instruction)[0]) or click(by_attr(obs, "id", "subbtn"))


def _written_field(obs: Observation, written: str, want_value: str) -> Action:
    """Type a date or time as the instruction writes it (the harness converts it to the field's own format, as
    a person's typing would land in it) and submit once the field holds ``want_value``."""
    field = by_attr(obs, "id", "tt")
    if field is None:
        return Action.noop()
    if field.attrs.get("value") == want_value:
        return click(by_attr(obs, "id", "subbtn"))
    return Action.type(field.id, written)


@oracle("enter-date")
def _enter_date(obs: Observation, mem: dict) -> Action:
    m = re.search(r"(\d\d)/(\d\d)/(\d{4})", obs.instruction)
    if m is None:
        return Action.noop()
    month, day, year = m.groups()
    return _written_field(obs, m.group(), f"{year}-{month}-{day}")


@oracle("enter-time")
def _enter_time(obs: Observation, mem: dict) -> Action:
    m = CLOCK_TIME.search(obs.instruction)
    hm = re.match(r"(\d{1,2}):(\d\d)\s*([AP]M)?", m.group()) if m else None
    if hm is None:
        return Action.noop()
    hour, minute, half = int(hm.group(1)), hm.group(2), hm.group(3)
    hour24 = hour % 12 + (12 if half == "PM" else 0) if half else hour
    return _written_field(obs, m.group(), f"{hour24:02d}:{minute}")


@oracle("login-user-popup")
def _login_user_popup(obs: Observation, mem: dict) -> Action:
    cancel = by_attr(obs, "id", "popup-cancel")
    if cancel is not None:  # "exit to home page?" -> stay
        return Action.click(cancel.id)
    user, password = quoted(obs.instruction)[:2]
    return (fill_then(by_attr(obs, "id", "username"), user) or fill_then(by_attr(obs, "id", "password"), password)
            or click(by_attr(obs, "id", "subbtn")))


@oracle("text-transform")
def _text_transform(obs: Observation, mem: dict) -> Action:
    captcha = by_id(obs, "captcha")
    if captcha is None:
        return Action.noop()
    text = "".join(e.text for e in obs.children(captcha.id) if e.visible)
    return fill_then(by_attr(obs, "id", "tt"), text) or click(by_attr(obs, "id", "subbtn"))


@oracle("unicode-test")
def _unicode_test(obs: Observation, mem: dict) -> Action:
    return click(by_text(obs, quoted(obs.instruction)[0], "button"))


@oracle("find-word")
def _find_word(obs: Observation, mem: dict) -> Action:
    m = re.search(r"(\d+(?:st|nd|rd|th)) word", obs.instruction)
    para = first([e for e in obs.elements if e.tag == "p" and e.visible and e.text])
    if m is None or para is None:
        return Action.noop()
    words = para.text.split()
    word = re.sub(r"[^a-zA-Z]", "", words[ordinal(m.group(1))])
    return fill_then(by_attr(obs, "id", "answer-input"), word) or click(by_attr(obs, "id", "subbtn"))


# ---------------------------------------------------------------- copy and paste (keyboard)
def _copy_paste(obs: Observation, mem: dict, source: Element | None) -> Action:
    target = by_attr(obs, "id", "answer-input")
    if source is None or target is None:
        return Action.noop()
    if target.attrs.get("value") and target.attrs.get("value") == source.attrs.get("value"):
        return click(by_attr(obs, "id", "subbtn"))
    plan = mem.get("plan")
    if not plan:  # (again, if the pasted text came out different: select-all in the field replaces it)
        mem["tries"] = mem.get("tries", 0) + 1
        if mem["tries"] > 3:
            return Action.noop()
        plan = mem["plan"] = [Action.click(source.id), Action.press("Control+a"), Action.press("Control+c"),
                              Action.click(target.id), Action.press("Control+v")]
        if target.attrs.get("value"):  # (an empty field needs no select-all: one step less against the 10 s clock)
            plan.insert(4, Action.press("Control+a"))
    return plan.pop(0)


@oracle("copy-paste")
def _copy_paste_1(obs: Observation, mem: dict) -> Action:
    return _copy_paste(obs, mem, first([e for e in live(obs) if e.tag == "textarea"]))


@oracle("copy-paste-2")
def _copy_paste_2(obs: Observation, mem: dict) -> Action:
    m = re.search(r"(\d+(?:st|nd|rd|th)) text area", obs.instruction)
    areas = [e for e in live(obs) if e.tag == "textarea"]
    if m is None or ordinal(m.group(1)) >= len(areas):
        return Action.noop()
    return _copy_paste(obs, mem, areas[ordinal(m.group(1))])


# ---------------------------------------------------------------- tables
def _table_pairs(obs: Observation) -> dict[str, str]:
    """Row header -> value of a two-column table."""
    pairs = {}
    for row in (e for e in obs.elements if e.tag == "tr" and e.visible):
        cells = [c.text for c in obs.children(row.id) if c.tag in ("td", "th")]
        if len(cells) == 2:
            pairs[cells[0]] = cells[1]
    return pairs


@oracle("read-table")
def _read_table(obs: Observation, mem: dict) -> Action:
    m = re.search(r"value of (.+?) into", obs.instruction)
    value = _table_pairs(obs).get(m.group(1)) if m else None
    if value is None:
        return Action.noop()
    return fill_then(by_attr(obs, "id", "tt"), value) or click(by_attr(obs, "id", "subbtn"))


@oracle("read-table-2")
def _read_table_2(obs: Observation, mem: dict) -> Action:
    pairs = _table_pairs(obs)
    for label_id, field_id in (("ll1", "tt1"), ("ll2", "tt2")):
        label = by_id(obs, label_id)
        value = pairs.get(label.text.rstrip(":")) if label else None
        if value is None:
            return Action.noop()
        step = fill_then(by_attr(obs, "id", field_id), value)
        if step is not None:
            return step
    return click(by_attr(obs, "id", "subbtn"))


# ---------------------------------------------------------------- form sequences
@oracle("form-sequence")
def _form_sequence(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Select (-?\d+) with the slider, click the (\w+) checkbox", obs.instruction)
    slider, shown = by_attr(obs, "id", "slider"), by_id(obs, "val")
    if m is None or slider is None or shown is None:
        return Action.noop()
    want, box_index = int(m.group(1)), ordinal(m.group(2))
    value = int(shown.text)
    if value != want:
        # a click on the slider (its centre: value 0 of -10..10) focuses the handle there, then one arrow key per
        # unit: every step an element action or a named key, so the learned agents can imitate it; at most 15
        # steps with the checkbox and the submit (a click that lands on the handle, within about 2 of 0, leaves
        # the value; from the random start value by arrows alone it took up to 23)
        if not mem.get("centred"):
            mem["centred"] = True
            return Action.click(slider.id)
        handle = first([e for e in obs.children(slider.id) if has_class(e, "ui-slider-handle")])
        if handle is not None and not handle.attrs.get("focused"):
            return Action.click(handle.id)
        return Action.press("ArrowRight" if value < want else "ArrowLeft")
    boxes = [e for e in live(obs) if e.tag == "input" and e.attrs.get("type") == "checkbox"]
    for i, box in enumerate(boxes):
        if (box.attrs.get("checked") == "true") != (i == box_index):
            return Action.click(box.id)
    return click(by_attr(obs, "id", "subbtn"))


@oracle("form-sequence-2")
def _form_sequence_2(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Check the (\w+) radio button and enter the number \"(-?\d+)\" into the (\w+) textbox", obs.instruction)
    if m is None:
        return Action.noop()
    radios = [e for e in live(obs) if e.tag == "input" and e.attrs.get("type") == "radio"]
    fields = [e for e in live(obs) if e.tag == "input" and e.attrs.get("type") == "text"]
    radio = radios[ordinal(m.group(1))]
    if radio.attrs.get("checked") != "true":
        return Action.click(radio.id)
    return fill_then(fields[ordinal(m.group(3))], m.group(2)) or click(by_attr(obs, "id", "subbtn"))


@oracle("form-sequence-3")
def _form_sequence_3(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Choose (.+) from the dropdown, then click the button labeled \"(\w+)\"", obs.instruction)
    if m is None:
        return Action.noop()
    choice, button = m.groups()
    label = first([e for e in obs.elements if e.tag == "span" and has_class(e, "label") and e.visible])
    if label is None:
        return Action.noop()
    if label.text != choice:
        item = first([e for e in obs.elements if e.tag == "li" and e.text == choice])
        box = first([e for e in obs.elements if has_class(e, "selectric-scroll") and e.visible])
        if item is None or box is None:  # the list is closed: open it
            return click(first([e for e in live(obs) if has_class(e, "selectric")]))
        if item.visible:
            return Action.click(item.id)
        x, y, w, h = box.bbox  # the option is below the list's fold: scroll the list to it
        return Action.scroll(x + w / 2, y + h / 2, dy=item.bbox[1] - y)
    return click(by_text(obs, button, "button"))


# ---------------------------------------------------------------- movie search layouts
def _field_label(obs: Observation, field: Element) -> str:
    """The visible text of the smallest ancestor of ``field`` that holds some (the field's row)."""
    for anc in obs.ancestors(field.id):
        texts = [e.text for e in descendants(obs, anc.id) if e.visible and e.text]
        if texts:
            return " ".join(texts).lower()
    return ""


def descendants(obs: Observation, element_id: int) -> list[Element]:
    out, inside = [], {element_id}
    for e in obs.elements:  # pre-order: a descendant comes after its parent
        if e.parent in inside:
            out.append(e)
            inside.add(e.id)
    return out


@oracle("multi-layouts", "multi-orderings")
def _movie_search(obs: Observation, mem: dict) -> Action:
    m = re.search(r"Search for (.+?) movies directed by (.+?) from year (\d+)", obs.instruction)
    if m is None:
        return Action.noop()
    genre, name, year = m.groups()
    for field in (e for e in live(obs) if e.tag == "input" and e.typable):
        label = _field_label(obs, field)
        value = genre if "genre" in label else name if "director" in label else year if ("year" in label or "date" in label) else None
        step = fill_then(field, value) if value is not None else None
        if step is not None:
            return step
    return click(first([e for e in live(obs) if e.text in ("Submit", "Search", "Go!")]))


@oracle("sign-agreement")
def _sign_agreement(obs: Observation, mem: dict) -> Action:
    if obs.instruction.startswith("Click the cancel"):
        return click(by_attr(obs, "id", "cancel"))
    m = re.search(r'enter the name "(.+?)" then press "(\w+)"', obs.instruction)
    name_field, area = by_id(obs, "name"), by_id(obs, "text-area")
    if m is None or name_field is None or area is None:
        return Action.noop()
    if name_field.attrs.get("disabled"):  # scroll the agreement to its end first
        x, y, w, h = area.bbox
        return Action.scroll(x + w / 2, y + h / 2, dy=2000)
    return fill_then(name_field, m.group(1)) or click(by_attr(obs, "id", m.group(2).lower()))


@oracle("phone-book")
def _phone_book(obs: Observation, mem: dict) -> Action:
    m = re.match(r"Find (.+?) in the contact book and click on their (phone|email|address)", obs.instruction)
    name = first([e for e in obs.elements if e.tag == "h2" and has_class(e, "name") and e.visible])
    if m is None or name is None:
        return Action.noop()
    if name.text == m.group(1):
        return click(first([e for e in live(obs) if e.tag == "a" and has_class(e, m.group(2))]))
    return click(first([e for e in live(obs) if e.tag == "a" and e.text == ">"]))
