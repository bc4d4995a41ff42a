"""Episodes -> one interleaved token sequence per episode, and batches of them.

Layout of an episode (``t`` = step; the goal is repeated per step so a sliding window still sees it)::

    <bos> | <step> frame_t tokens  goal tokens  element tokens  <act> "t+1. Press on ..." <eol> | <step> ...

* frame tokens come from the registered frame tokenizer (one token per patch); the model predicts
  each frame token's pixels from the position before it (next-frame-token prediction), so the
  frame of step t+1 is predicted right after the action line of step t.
* element tokens are one embedding per DOM element (its text, tag, category, box, state flags).
* ``<act>`` is the acting query: the pointer head scores the step's element tokens from it, the kind
  / key / span heads decode the rest of the Action, and the value head estimates the return.
* after ``<act>`` comes the *pointed* element (the acted-on element's embedding again, then its name
  and coarse place on the page -- and the text typed or option chosen -- as text tokens; the
  recorded action in training, the policy's decision when generating), so the instruction line is
  written about the action taken and can copy its element's name and place and its text.
* the action line is the numbered instruction of the design note; all lines of an episode together
  are its numbered instruction list (the SFT output), produced by the LM head.
* with a pretrained text encoder (``foundation.text_init``, ``pretrained_text.py``) the goal and every
  element text are also written in *its* tokenizer's ids, once per distinct text of the episode
  (``ptext`` rows); goal positions (``text_row``) and elements (``el_prow``) point at their row.

``SequenceBuilder.build`` turns an ``Episode`` into an ``Example`` (numpy arrays), ``collate`` pads
examples into a ``Batch`` of tensors.  The same code serves training and acting (the last step of
an acting episode has no action yet, so its sequence ends at ``<act>``).
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strategies.foundation.instructions import clean_label, element_label, element_noun, element_position, number_lines
from zoo.web.context import CONTEXT_LEVELS, context_overlap, context_texts
from zoo.web.context import words as context_words
from zoo.web.derived import derived_texts, instruction_values, value_asked
from zoo.web.types import (
    ELEMENT_ACTION_KINDS, NAMED_KEYS, category_index, field_values, instruction_spans, page_texts, quoted_spans,
    slot_order,
)

# token types (index into the model's type embedding)
PAD, SPECIAL, GOAL, FRAME, ELEMENT, ACT, LINE, POINTED = range(8)
N_TYPES = 8
KEYS = (*NAMED_KEYS, "<other>")
TAG_BUCKETS = 64
N_FLAGS = 15
# per candidate span (foundation.read_span_flags reads them), Strategy 2's span_num in its order: quoted, already
# some field's value, where it starts in its goal (0-1), copied off the page, from an earlier page's goal; then
# (foundation.read_derived reads it) worked out from the page, not copied (zoo.web.derived)
SPAN_FLAGS = 6
MAX_POS, MAX_STEPS = 512, 32
MAX_GOAL_TOKENS, MAX_LINE_TOKENS, MAX_SPANS, MAX_SPAN_TOKENS, MAX_POINTED_TOKENS = 64, 40, 40, 8, 56
IGNORE = -100


@dataclass
class Step:
    """One recorded (or live) step.  frames: (k, H, W, 3) uint8, the latest frames before the action.
    action / line: what was done and its instruction sentence (None on the live step).
    value: return target.  visit: element id -> search visit share; visit_kind: action kind -> visit
    share (together the distillation target of the search's root visits over whole actions).
    expert: the action is a supervised target (recorded oracle steps, search choices).
    """

    instruction: str
    elements: list[Any]
    frames: np.ndarray | None = None
    action: Any = None
    line: str | None = None
    value: float | None = None
    visit: dict[int, float] | None = None
    visit_kind: dict[str, float] | None = None
    expert: bool = False
    page: str = ""


@dataclass
class Episode:
    task: str
    steps: list[Step] = field(default_factory=list)

    @property
    def instruction(self) -> str:
        return self.steps[0].instruction if self.steps else ""

    def instruction_list(self) -> str:
        """The numbered instruction list of the episode's actions (the SFT target text)."""
        return "\n".join(number_lines([s.line for s in self.steps if s.line]))


def tag_bucket(el: Any) -> int:
    """Stable bucket of the element's tag and input type (crc32: Python's hash() is salted per process)."""
    key = f"{el.tag.lower()}:{str((el.attrs or {}).get('type', '')).lower()}"
    return zlib.crc32(key.encode()) % TAG_BUCKETS


def element_text(el: Any) -> str:
    return f"{element_noun(el)} {element_label(el)}".strip()


def choose_slots(elements: list[Any], max_elements: int) -> list[int]:
    """Up to ``max_elements`` element ids in page order: the visible ones in ``slot_order`` (actionable first,
    then texts), then invisible ones with text, then the rest (a small page fills its slots with its hidden
    parts too)."""
    hidden = sorted((e for e in elements if not e.visible), key=lambda e: (not (e.text or "").strip(), e.id))
    return sorted(e.id for e in (slot_order(elements) + hidden)[:max_elements])


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1}


def element_flags(el: Any, goal: str) -> list[float]:
    """State and goal-overlap features: a tiny model learns which element the goal names much faster."""
    attrs = el.attrs or {}
    label = element_label(el).lower()
    words = _words(label)
    overlap = len(words & _words(goal)) / len(words) if words else 0.0
    value = str(attrs.get("value", "")).strip().lower()
    return [
        float(el.actionable), float(el.visible), float(str(attrs.get("checked", "")).lower() in ("true", "checked", "1")),
        float(bool(value)), float(bool(value) and value in goal.lower()), float(bool(label) and label in goal.lower()),
        overlap, float(bool(getattr(el, "options", None))), min(el.depth, 16) / 16.0,
    ]


def grid_cell(cx: float, cy: float) -> list[float]:
    """One-hot column and row of the element's centre in a 3x3 page grid (the coarse place the
    instruction lines name: "at the top left of the page")."""
    col, row = min(2, max(0, int(3 * cx))), min(2, max(0, int(3 * cy)))
    return [float(col == i) for i in range(3)] + [float(row == i) for i in range(3)]


def key_index(key: str | None) -> int:
    return KEYS.index(key) if key in KEYS else len(KEYS) - 1


def span_index(texts: list[str], text: str | None) -> int:
    """Index of the candidate span equal to ``text`` (else case-insensitively), -1 if none is."""
    if not text:
        return -1
    for i, t in enumerate(texts):
        if t == text:
            return i
    low = text.lower()
    return next((i for i, t in enumerate(texts) if t.lower() == low), -1)


@dataclass
class Example:
    """One encoded episode; arrays are indexed by sequence position unless noted."""

    ids: np.ndarray
    ttype: np.ndarray
    pos: np.ndarray
    step: np.ndarray
    frame_no: np.ndarray  # frame (index into frames) of a frame token, else -1
    frame_j: np.ndarray  # token index inside that frame
    elem_ref: np.ndarray  # row of the element table, else -1
    lm_target: np.ndarray  # next text token predicted from this position, else IGNORE
    lm_kind: np.ndarray  # 1 goal text, 2 action line, 0 none
    next_frame_no: np.ndarray  # frame whose token ``next_frame_j`` is predicted from this position, else -1
    next_frame_j: np.ndarray
    frames: np.ndarray  # (F, H, W, 3) uint8
    el_text: np.ndarray  # (NE, L) token ids
    el_tag: np.ndarray
    el_cat: np.ndarray
    el_box: np.ndarray  # (NE, 4)
    el_flags: np.ndarray  # (NE, N_FLAGS), + CONTEXT_LEVELS with read_context, + 1 with read_derived
    text_row: np.ndarray  # row of ``ptext`` whose encoding is added at this position (goal tokens), else -1
    ptext: np.ndarray  # (NT, L) ids of the pretrained text encoder's tokenizer, -1 pad (NT = 0 without one)
    el_prow: np.ndarray  # (NE,) row of ``ptext`` holding each element's text, else -1
    acts: list[dict[str, Any]]  # one per <act>: positions and targets
    slots: list[list[int]]  # per step: element ids of its element tokens
    rows: list[list[int]]  # per step: element-table rows of those tokens
    spans: list[list[str]]  # per step: candidate span texts
    el_around: np.ndarray | None = None  # (NE, L) token ids of the texts around each element (read_context), else None

    def __len__(self) -> int:
        return len(self.ids)


class SequenceBuilder:
    """Encodes episodes with a BPE tokenizer; three special tokens are appended after its vocabulary.

    tokens_per_frame: frame tokens per frame (0: screen not used).  max_elements / max_text_len:
    element slots per step and BPE tokens per element text.  text_tokenizer: the pretrained text
    encoder's tokenizer (``pretrained_text.TextTokenizer``), or None for a scratch text side.
    """

    def __init__(self, tokenizer: Any, tokens_per_frame: int, max_elements: int = 48, max_text_len: int = 16,
                 frames_per_step: int = 1, text_tokenizer: Any = None, read_context: bool = False,
                 read_derived: bool = False):
        self.tok = tokenizer
        self.read_derived = bool(read_derived)  # worked-out typing candidates and a flag (foundation.read_derived)
        self.read_context = bool(read_context)  # zoo.web.context's readings per element (foundation.read_context)
        self.n_flags = N_FLAGS + (CONTEXT_LEVELS if self.read_context else 0) + int(self.read_derived)
        self.text_tok = text_tokenizer
        base = int(tokenizer.vocab_size)
        self.STEP, self.ACT, self.EOL = base, base + 1, base + 2
        self.vocab_size = base + 3
        self.tokens_per_frame = int(tokens_per_frame)
        self.max_elements, self.max_text_len = int(max_elements), int(max_text_len)
        self.frames_per_step = int(frames_per_step)

    # ------------------------------------------------------------------ text
    def encode(self, text: str, max_len: int) -> list[int]:
        return self.tok.encode(text, max_len=max_len)

    def goal_pieces(self, goal: str) -> tuple[list[int], list[tuple[int, int, int, int]]]:
        """Goal ids word by word (each with its leading space, as byte-level BPE sees it in context)
        and per word (char_start, char_end, tok_start, tok_end)."""
        ids: list[int] = []
        words = []
        for m in re.finditer(r"\s*\S+", goal):
            piece = self.tok.encode(m.group())
            start = len(ids)
            ids.extend(piece)
            words.append((m.start(), m.end(), start, len(ids)))
        keep = MAX_GOAL_TOKENS
        return ids[:keep], [(cs, ce, ts, min(te, keep)) for cs, ce, ts, te in words if ts < keep]

    def pointed_ids(self, el: Any, elements: list[Any] | None = None, action: Any = None) -> list[int]:
        """The acted-on element described as the line will name it, with its coarse place on the page
        when the page's ``elements`` are given, and the text typed / option chosen by ``action``
        (` input tag "Name" on the left of the page: "Ann"`): the tokens the line copies from.  The
        action heads decide the action; the LM head writes it down."""
        label = element_label(el)
        text = f' {element_noun(el)} "{label}"' if label else f" {element_noun(el)}"
        if elements:
            text += " " + element_position(el, elements)
        value = getattr(action, "text", None) if getattr(action, "kind", None) == "type" else \
            getattr(action, "option", None) if getattr(action, "kind", None) == "select" else None
        if value:
            text += f': "{clean_label(value)}"'
        return self.encode(text, MAX_POINTED_TOKENS)

    def line_ids(self, number: int, line: str) -> list[int]:
        return self.encode(f"{number}. {line}", MAX_LINE_TOKENS)

    def decode_line(self, ids: list[int]) -> str:
        """Generated ids of one line -> the sentence without its number."""
        text = self.tok.decode([i for i in ids if i < self.STEP])
        return re.sub(r"^\s*\d+\.\s*", "", text).strip()

    # ------------------------------------------------------------------ episodes
    def build(self, episode: Episode) -> Example:
        cols: dict[str, list[int]] = {k: [] for k in (
            "ids", "ttype", "pos", "step", "frame_no", "frame_j", "elem_ref", "lm_target", "lm_kind",
            "next_frame_no", "next_frame_j", "text_row")}
        frames: list[np.ndarray] = []
        table: dict[str, list[Any]] = {k: [] for k in ("text", "tag", "cat", "box", "flags", "prow", "around")}
        ptext: dict[str, int] = {}  # distinct text -> its row of the pretrained encoder's table
        ptext_ids: list[list[int]] = []

        def text_row(text: str, max_len: int) -> int:
            if self.text_tok is None:
                return -1
            if text not in ptext:
                ptext[text] = len(ptext)
                ptext_ids.append(self.text_tok.encode(text, max_len))
            return ptext[text]

        acts: list[dict[str, Any]] = []
        all_slots, all_spans, all_rows = [], [], []
        goals_seen: dict[str, tuple[int, list]] = {}  # distinct goal text -> its first copy's position, words
        seg_start = 0

        def push(tok: int, ttype: int, t: int, frame_no: int = -1, frame_j: int = 0, elem: int = -1) -> int:
            p = len(cols["ids"])
            for k, v in (("ids", tok), ("ttype", ttype), ("pos", min(p - seg_start, MAX_POS - 1)),
                         ("step", min(t, MAX_STEPS - 1)), ("frame_no", frame_no), ("frame_j", frame_j),
                         ("elem_ref", elem), ("lm_target", IGNORE), ("lm_kind", 0), ("next_frame_no", -1),
                         ("next_frame_j", 0), ("text_row", -1)):
                cols[k].append(v)
            return p

        def predict_text(p: int, target: int, kind: int) -> None:
            cols["lm_target"][p], cols["lm_kind"][p] = target, kind

        push(self.tok.bos_id, SPECIAL, 0)
        for t, step in enumerate(episode.steps):
            seg_start = len(cols["ids"])
            push(self.STEP, SPECIAL, t)
            if self.tokens_per_frame and step.frames is not None and len(step.frames):
                for frame in step.frames[-self.frames_per_step:]:
                    f = len(frames)
                    frames.append(frame)
                    for j in range(self.tokens_per_frame):
                        prev = len(cols["ids"]) - 1
                        cols["next_frame_no"][prev], cols["next_frame_j"][prev] = f, j
                        push(0, FRAME, t, frame_no=f, frame_j=j)
            goal = step.instruction or ""
            goal_ids, words = self.goal_pieces(goal)
            goal_start = len(cols["ids"])
            goal_row = text_row(goal, MAX_GOAL_TOKENS)
            for tok_id in goal_ids:
                if t == 0:  # the goal is predicted once; its later copies are only context
                    predict_text(len(cols["ids"]) - 1, tok_id, 1)
                cols["text_row"][push(tok_id, GOAL, t)] = goal_row
            slots = choose_slots(step.elements, self.max_elements)
            by_id = {e.id: e for e in step.elements}
            width = max([e.bbox[0] + e.bbox[2] for e in step.elements] + [1.0])
            height = max([e.bbox[1] + e.bbox[3] for e in step.elements] + [1.0])
            elem_pos, step_rows = [], []
            context = context_overlap(step.elements, set(context_words(goal))) if self.read_context else {}
            asked = instruction_values(goal) if self.read_derived else set()
            around = context_texts(step.elements) if self.read_context else {}
            for eid in slots:
                el = by_id[eid]
                row = len(table["text"])
                table["prow"].append(text_row(element_text(el), self.max_text_len))
                ids = self.encode(element_text(el), self.max_text_len)
                table["text"].append(ids + [self.tok.pad_id] * (self.max_text_len - len(ids)))
                table["tag"].append(tag_bucket(el))
                table["cat"].append(category_index(el.category))
                x, y, w, h = el.bbox
                table["box"].append([x / width, y / height, w / width, h / height])
                table["flags"].append(element_flags(el, goal) + grid_cell((x + w / 2) / width, (y + h / 2) / height)
                                      + context.get(eid, []) + ([value_asked(el, asked)] if self.read_derived else []))
                if self.read_context:
                    ids = self.encode(around[eid], self.max_text_len)
                    table["around"].append(ids + [self.tok.pad_id] * (self.max_text_len - len(ids)))
                step_rows.append(row)
                elem_pos.append(push(0, ELEMENT, t, elem=row))
            # candidate spans to type/select: this step's goal first, then earlier, different goals of
            # the episode (a page may ask for text shown only on an earlier page); as token positions
            if goal not in goals_seen:
                goals_seen[goal] = (goal_start, words)
            span_texts, span_pos, span_flags = [], [], []
            values = field_values(step.elements)
            for g in [goal] + [g for g in goals_seen if g != goal]:
                g_start, g_words = (goal_start, words) if g == goal else goals_seen[g]
                quoted = set(quoted_spans(g))
                for s, e in instruction_spans(g):
                    if g[s:e] in span_texts or len(span_texts) >= MAX_SPANS:
                        continue
                    toks = [p for cs, ce, ts, te in g_words if cs < e and ce > s for p in range(ts, te)]
                    span_texts.append(g[s:e])
                    span_pos.append([g_start + p for p in toks[:MAX_SPAN_TOKENS]] or [g_start])
                    span_flags.append([float((s, e) in quoted), float(g[s:e].strip().lower() in values),
                                       s / max(len(g), 1), 0.0, float(g != goal), 0.0])
            # then texts worked out from the page (read_derived: a word the goal names, a sum) and short texts on
            # it (a table cell to copy), each represented by its element's token
            shown = [by_id[i] for i in slots]
            derived = derived_texts(shown, goal) if self.read_derived else []
            for eid, text in derived + page_texts(shown):
                if text not in span_texts and len(span_texts) < MAX_SPANS:
                    span_texts.append(text)
                    span_pos.append([elem_pos[slots.index(eid)]])
                    span_flags.append([0.0, float(text.strip().lower() in values), 1.0, 1.0, 0.0,
                                       float((eid, text) in derived)])
            act_pos = push(self.ACT, ACT, t)
            action = step.action
            target_slot = slots.index(action.element) if action is not None and action.element in slots else -1
            visit = visit_kind = None
            if step.visit:  # normalised over the step's element slots: the pointer head's target
                visit = [float(step.visit.get(eid, 0.0)) for eid in slots]
                visit = [v / sum(visit) for v in visit] if sum(visit) > 0 else None
            if step.visit_kind and sum(step.visit_kind.values()) > 0:
                total = sum(step.visit_kind.values())
                visit_kind = [float(step.visit_kind.get(k, 0.0)) / total for k in ELEMENT_ACTION_KINDS]
            # a demonstration step the model cannot express (an oracle's mouse action at a point) stays in the
            # sequence, so the model sees the page, but teaches no action
            expert = step.expert and action is not None and action.kind in ELEMENT_ACTION_KINDS
            acts.append({
                "pos": act_pos, "elem_pos": elem_pos, "span_pos": span_pos, "span_flags": span_flags,
                "slot": target_slot if expert else -1,
                "kind": ELEMENT_ACTION_KINDS.index(action.kind) if expert else -1,
                "key": key_index(action.key) if expert and action.kind == "press" else -1,
                "span": span_index(span_texts, action.text or action.option) if expert
                and action.kind in ("type", "select") else -1,
                "value": float("nan") if step.value is None else float(step.value),
                "visit": visit, "visit_kind": visit_kind,
            })
            all_slots.append(slots)
            all_spans.append(span_texts)
            all_rows.append(step_rows)
            if step.line is not None:
                in_slots = action is not None and action.element in slots
                prev = push(0, POINTED, t, elem=step_rows[slots.index(action.element)] if in_slots else -1)
                for tok_id in self.pointed_ids(by_id[action.element], step.elements, action) if in_slots else []:
                    prev = push(tok_id, POINTED, t)
                for tok_id in self.line_ids(t + 1, step.line) + [self.EOL]:
                    predict_text(prev, tok_id, 2)
                    if tok_id == self.EOL:
                        break
                    prev = push(tok_id, LINE, t)
        size = self.frame_shape(frames)
        return Example(
            **{k: np.asarray(v, dtype=np.int64) for k, v in cols.items()},
            frames=np.stack(frames) if frames else np.zeros((0, *size), np.uint8),
            el_text=np.asarray(table["text"], np.int64).reshape(-1, self.max_text_len),
            el_tag=np.asarray(table["tag"], np.int64), el_cat=np.asarray(table["cat"], np.int64),
            el_box=np.asarray(table["box"], np.float32).reshape(-1, 4),
            el_flags=np.asarray(table["flags"], np.float32).reshape(-1, self.n_flags),
            ptext=self.pad_rows(ptext_ids), el_prow=np.asarray(table["prow"], np.int64),
            acts=acts, slots=all_slots, spans=all_spans, rows=all_rows,
            el_around=np.asarray(table["around"], np.int64).reshape(-1, self.max_text_len) if self.read_context else None,
        )

    @staticmethod
    def pad_rows(rows: list[list[int]]) -> np.ndarray:
        """The pretrained encoder's id rows as one (NT, longest) array, padded with -1."""
        width = max([len(r) for r in rows] + [1])
        return np.asarray([r + [-1] * (width - len(r)) for r in rows], np.int64).reshape(-1, width)

    @staticmethod
    def frame_shape(frames: list[np.ndarray]) -> tuple[int, int, int]:
        return tuple(frames[0].shape) if frames else (1, 1, 3)  # type: ignore[return-value]
