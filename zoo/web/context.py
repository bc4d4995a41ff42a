"""Where an element sits, as an agent can read it: the texts around it and how much of the instruction they hold.

Several MiniWoB++ tasks act on an element whose own text says nothing: social-media's retweet button is one of ten
alike, one per post, and only the post around it names the user; multi-orderings' inputs have no label, only their
table row's header; email-inbox-delete's trash icons sit in the sender's row.  Both strategies' observations read
these (``ppo.read_context`` for Strategy 2), so they live here, beside ``slot_order`` and ``page_texts``.
"""
from __future__ import annotations

import re
from typing import Any

CONTEXT_LEVELS = 4  # ancestors read by ``context_overlap``: the parent, the grandparent, ...
CONTEXT_CAP = 2.0  # a weighted overlap is clipped here and scaled to [0, 1]
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._\-]*")


def words(text: str) -> list[str]:
    """Lower-cased words, edge punctuation stripped ("@kasey," -> "kasey")."""
    return [w.lower().strip(".-_") for w in WORD.findall(text or "") if w.strip(".-_")]


def context_overlap(elements: list[Any], instr_words: set[str], levels: int = CONTEXT_LEVELS) -> dict[int, list[float]]:
    """For each element id: for its 1st..``levels``-th ancestor, the instruction words that the visible elements'
    own texts under that ancestor hold, each weighted by 1 / (how many visible texts on the page hold it), summed,
    clipped at CONTEXT_CAP and scaled to [0, 1] (0 past the root).  An element whose own text says nothing (an icon
    button) is then told apart by the container it sits in: on social-media only the named user's post holds
    "@user", so only its buttons read more than 0 at the post's level, whatever the name; a word every post repeats
    ("reply") weighs 1 / posts and tells them apart no more than it should."""
    visible = [e for e in elements if e.visible]
    held = {e.id: set(words((e.text or "") or str((e.attrs or {}).get("label", "")))) & instr_words for e in visible}
    texts_holding = {w: sum(w in ws for ws in held.values()) for w in instr_words}
    parent = {e.id: e.parent for e in elements}
    under: dict[int, set[str]] = {}  # ancestor id -> instruction words held under it
    for eid, ws in held.items():
        a = parent.get(eid, -1)
        while ws and a is not None and a >= 0:
            under.setdefault(a, set()).update(ws)
            a = parent.get(a, -1)
    out: dict[int, list[float]] = {}
    for e in elements:
        row, a = [], e.parent
        for _ in range(levels):
            if a is None or a < 0:
                row.append(0.0)
                continue
            weight = sum(1.0 / texts_holding[w] for w in under.get(a, ()))
            row.append(min(weight, CONTEXT_CAP) / CONTEXT_CAP)
            a = parent.get(a, -1)
        out[e.id] = row
    return out


def context_texts(elements: list[Any], levels: int = CONTEXT_LEVELS, max_words: int = 12) -> dict[int, str]:
    """For each element id: the visible texts under its nearest ancestor (up to ``levels`` up) that holds any outside
    the element's own subtree, in page order, cut to ``max_words`` words ("" when none does).  A field in a table
    row without a <label> reads its row's header (multi-orderings' "Year" input), an icon button its post."""
    parent = {e.id: e.parent for e in elements}
    texted = [(e.id, " ".join((e.text or "").split())) for e in elements if e.visible and (e.text or "").strip()]
    under: dict[int, list[tuple[int, str]]] = {}  # ancestor id -> (id, text) of the visible texts under it
    for eid, text in texted:
        a = parent.get(eid, -1)
        while a is not None and a >= 0:
            under.setdefault(a, []).append((eid, text))
            a = parent.get(a, -1)

    def inside(eid: int, root: int) -> bool:
        while eid is not None and eid >= 0:
            if eid == root:
                return True
            eid = parent.get(eid, -1)
        return False

    out: dict[int, str] = {}
    for e in elements:
        a, found = e.parent, ""
        for _ in range(levels):
            if a is None or a < 0:
                break
            others = [t for i, t in sorted(under.get(a, ())) if not inside(i, e.id)]
            if others:
                found = " ".join(" ".join(others).split()[:max_words])
                break
            a = parent.get(a, -1)
        out[e.id] = found
    return out
