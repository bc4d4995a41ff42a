"""Numbered action instructions, the SFT target format of the design note.

A recorded action becomes one line that names the element it acts on::

    1. Press on the input tag "Username" at the top of the page.
    2. Input "Kasey" into the input tag "Username".
    3. Press on the button "Submit" in the middle of the page.

Lines are generated from the recorded actions and the DOM of their step, so the text is
exact and deterministic (the SFT exact-match metric compares strings). ``parse_line`` and
``line_to_action`` go the other way: a generated line names an element by its kind and label,
which is matched back against the current DOM, so the LM head's output is decodable into an
``Action`` as well as the pointer head's.
"""
from __future__ import annotations

import re
from typing import Any

LABEL_CHARS = 28  # element labels are cut here: long texts add tokens, not information


def clean_label(text: str | None) -> str:
    """Whitespace collapsed, double quotes made single (lines quote with them), cut at LABEL_CHARS."""
    text = re.sub(r"\s+", " ", str(text or "")).strip().replace('"', "'")
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3].rstrip() + "..."


def element_noun(el: Any) -> str:
    """What a person would call the element: "button", "link", "input tag", "checkbox" ..."""
    tag = str(el.tag).lower()
    kind = str((el.attrs or {}).get("type", "")).lower()
    if tag == "button" or (tag == "input" and kind in ("submit", "button", "reset")):
        return "button"
    if tag == "a":
        return "link"
    if tag == "input" and kind == "checkbox":
        return "checkbox"
    if tag == "input" and kind == "radio":
        return "radio button"
    if tag == "input":
        return "input tag"
    if tag == "textarea":
        return "text area"
    if tag == "select":
        return "dropdown"
    if tag == "img":
        return "image"
    return f"{tag} element"


def element_label(el: Any) -> str:
    """The element's visible text, else what a person would read for it: its label's text (a checkbox's name),
    then attributes (placeholder, value ...)."""
    attrs = el.attrs or {}
    for candidate in (el.text, attrs.get("label"), attrs.get("aria-label"), attrs.get("placeholder"), attrs.get("value"),
                      attrs.get("title"), attrs.get("name"), attrs.get("id")):
        label = clean_label(candidate)
        if label:
            return label
    return ""


def element_position(el: Any, elements: list[Any]) -> str:
    """Coarse place of the element's centre on the page: "at the top left of the page"."""
    width = max([e.bbox[0] + e.bbox[2] for e in elements] + [1.0])
    height = max([e.bbox[1] + e.bbox[3] for e in elements] + [1.0])
    x, y, w, h = el.bbox
    col = min(2, max(0, int(3 * (x + w / 2) / width)))
    row = min(2, max(0, int(3 * (y + h / 2) / height)))
    vertical, horizontal = ("top", "middle", "bottom")[row], ("left", "middle", "right")[col]
    if row == 1 and col == 1:
        return "in the middle of the page"
    if col == 1:
        return f"at the {vertical} of the page"
    if row == 1:
        return f"on the {horizontal} of the page"
    return f"at the {vertical} {horizontal} of the page"


def _named(el: Any) -> str:
    label = element_label(el)
    return f'the {element_noun(el)} "{label}"' if label else f"the {element_noun(el)}"


def action_line(action: Any, elements: list[Any]) -> str:
    """One instruction sentence (no number) for ``action`` taken on the page ``elements``."""
    kind = action.kind
    el = elements[action.element] if action.element is not None and 0 <= action.element < len(elements) else None
    if kind == "click" and el is not None:
        verb = "Click on" if element_noun(el) == "link" else "Press on"
        return f"{verb} {_named(el)} {element_position(el, elements)}."
    if kind == "type" and el is not None:
        return f'Input "{clean_label(action.text)}" into {_named(el)}.'
    if kind == "select" and el is not None:
        return f'Select "{clean_label(action.option)}" in {_named(el)}.'
    if kind == "press":
        return f"Press the {clean_label(action.key) or 'Enter'} key."
    return "Wait for the page to update."


def number_lines(lines: list[str], start: int = 1) -> list[str]:
    return [f"{i}. {line}" for i, line in enumerate(lines, start=start)]


def format_instructions(lines: list[str]) -> str:
    """The numbered list of the design note, one action per line."""
    return "\n".join(number_lines(lines))


def parse_instructions(text: str) -> list[str]:
    """Numbered list -> its sentences, numbers removed (lines without a number are ignored)."""
    out = []
    for raw in text.splitlines():
        m = re.match(r"\s*\d+\.\s*(.*\S)\s*$", raw)
        if m:
            out.append(m.group(1))
    return out


_ELEMENT = r'the (?P<noun>[a-z ]+?)(?: "(?P<label>[^"]*)")?'
_PATTERNS = [
    ("click", re.compile(rf"^(?:Press|Click) on {_ELEMENT}(?: (?:in|at|on) the [a-z ]+ of the page)?\.$")),
    ("type", re.compile(rf'^Input "(?P<text>[^"]*)" into {_ELEMENT}\.$')),
    ("select", re.compile(rf'^Select "(?P<text>[^"]*)" in {_ELEMENT}\.$')),
    ("press", re.compile(r"^Press the (?P<text>\S+) key\.$")),
    ("noop", re.compile(r"^Wait for the page to update\.$")),
]


def parse_line(line: str) -> dict[str, str] | None:
    """A sentence -> {"kind", "noun", "label", "text"} or None when it is not in the format."""
    line = re.sub(r"^\s*\d+\.\s*", "", line.strip())
    for kind, pattern in _PATTERNS:
        m = pattern.match(line)
        if m:
            parts = m.groupdict()
            return {"kind": kind, "noun": parts.get("noun") or "", "label": parts.get("label") or "",
                    "text": parts.get("text") or ""}
    return None


def line_to_action(line: str, elements: list[Any], action_cls: Any) -> Any | None:
    """Decode an instruction into ``action_cls`` (zoo.web.types.Action) on this DOM; None if nothing matches.

    The element is the first actionable one whose noun and label both match; failing that, the
    first whose label matches (a generated noun may be off while the label is right).
    """
    parsed = parse_line(line)
    if parsed is None:
        return None
    if parsed["kind"] == "press":
        return action_cls.press(parsed["text"])
    if parsed["kind"] == "noop":
        return action_cls.noop()
    candidates = [e for e in elements if getattr(e, "actionable", True)] or list(elements)
    exact = [e for e in candidates if element_noun(e) == parsed["noun"] and element_label(e) == parsed["label"]]
    loose = [e for e in candidates if parsed["label"] and element_label(e) == parsed["label"]]
    match = (exact or loose or [None])[0]
    if match is None:
        return None
    index = next(i for i, e in enumerate(elements) if e is match)
    if parsed["kind"] == "type":
        return action_cls.type(index, parsed["text"])
    if parsed["kind"] == "select":
        return action_cls.select(index, parsed["text"])
    return action_cls.click(index)
