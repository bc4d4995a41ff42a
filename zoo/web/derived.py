"""Typing candidates worked out from the page rather than copied whole: what ``read_derived`` adds to both
strategies' candidates (``ppo.read_derived``, ``foundation.read_derived``; off by default).

Every other text an agent may type is copied: a span of an instruction, or an element's own short text
(``zoo.web.types.page_texts``).  Two MiniWoB++ training tasks ask for text that no copy holds, so no
demonstration of them could be imitated and no agent could solve them (``zoo bench actions``):

- find-word asks for "the 8th word in the paragraph": a word inside a long text.  ``named_words`` offers, for each
  ordinal the instruction names before the word "word" ("8th word", "third word"), that word of every visible
  text long enough to hold it, stripped of punctuation (the page compares letters and digits only).
- simple-arithmetic shows "7 x 6 =": ``arithmetic_values`` offers the value of each visible text that is one
  binary operation of integers followed by "=" (a calculator, as a person would use one).

``instruction_values`` serves a third reading: whether a field already holds a value the instruction asks for
(use-spinner's "Select -7": the field shows numbers that no key types, so the agent counts presses until it does).

They are candidates, not answers: an agent still has to learn which field takes which, and when; a page with
several long texts offers a word from each.  Equations to solve ("7 + x = 61", simple-algebra, held out) are
not worked out.  The page stays the only source: nothing here reads the task's name or its seed.
"""
from __future__ import annotations

import re
from typing import Any

ORDINAL_NAMES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9, "tenth": 10}
_WORD_REFERENCE = re.compile(r"\b(?:(\d{1,3})(?:st|nd|rd|th)|(" + "|".join(ORDINAL_NAMES) + r"))\s+word\b", re.I)
_ARITHMETIC = re.compile(r"^\s*(-?\d{1,6})\s*([-+x×*/])\s*(-?\d{1,6})\s*=\s*$")


def named_positions(instruction: str) -> list[int]:
    """The 1-based word positions the instruction names ("the 8th word" -> [8]), in its order, once each."""
    out: list[int] = []
    for m in _WORD_REFERENCE.finditer(instruction or ""):
        n = int(m.group(1)) if m.group(1) else ORDINAL_NAMES[m.group(2).lower()]
        if n >= 1 and n not in out:
            out.append(n)
    return out


def named_words(elements: list[Any], instruction: str) -> list[tuple[int, str]]:
    """(element id, word) for each position ``named_positions`` finds, in every visible element's own text that
    has that many words, letters and digits only; page order, each text once."""
    positions = named_positions(instruction)
    out: list[tuple[int, str]] = []
    if not positions:
        return out
    for e in elements:
        words = (e.text or "").split()
        if not e.visible or len(words) < 2:
            continue
        for n in positions:
            word = re.sub(r"[^A-Za-z0-9]", "", words[n - 1]) if n <= len(words) else ""
            if word and word not in {w for _, w in out}:
                out.append((e.id, word))
    return out


def arithmetic_value(text: str) -> str | None:
    """'7 x 6 =' -> '42'; None for anything that is not one integer operation followed by '=' (a division
    that leaves a remainder included)."""
    m = _ARITHMETIC.match(text or "")
    if m is None:
        return None
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    if op == "/":
        return str(a // b) if b and a % b == 0 else None
    return str(a + b if op == "+" else a - b if op == "-" else a * b)


def arithmetic_values(elements: list[Any]) -> list[tuple[int, str]]:
    """(element id, value) for each visible element whose own text ``arithmetic_value`` works out, page order."""
    out: list[tuple[int, str]] = []
    for e in elements:
        value = arithmetic_value(e.text or "") if e.visible else None
        if value is not None and value not in {v for _, v in out}:
            out.append((e.id, value))
    return out


def instruction_values(instruction: str) -> set[str]:
    """What a field's value may equal to be as the instruction asks, lower-cased: its quoted texts and its words,
    with a number's sign kept ("Select -7 ..." -> "-7", not "7").  ``read_derived`` reads, for each element,
    whether its value is one of them: a spinner is done when it shows the number asked for, which the value read
    against quoted texts alone (the agents' other flag) could not tell."""
    text = (instruction or "").lower()
    out = {m.group(1).strip() for m in re.finditer(r'"([^"]+)"', text)}
    out |= {w.strip("\"'“”.,:;!?()") for w in text.split()}
    return out - {""}


def value_asked(element: Any, asked: set[str]) -> float:
    """1.0 when the element's value is one of ``asked`` (``instruction_values`` of the instruction), else 0.0:
    the element reading both strategies' ``read_derived`` adds."""
    return float(str((element.attrs or {}).get("value", "")).strip().lower() in asked)


def derived_texts(elements: list[Any], instruction: str) -> list[tuple[int, str]]:
    """Both kinds of worked-out candidate, each with the element it was worked out from: named words first."""
    out = named_words(elements, instruction)
    return out + [(eid, v) for eid, v in arithmetic_values(elements) if v not in {t for _, t in out}]
