"""Observation -> fixed-shape integer/float arrays the agent's encoder reads.

One ``Observation`` (zoo.web.types) becomes a ``dict[str, np.ndarray]`` of fixed shapes, so
rollouts can be stacked and replayed without touching the page again:

  instr_ids (Li,)        BPE ids of the instruction, word by word (lower-cased), padded
  el_text   (E, Lt)      BPE ids of each element's text (a form control's label when it has none)
  el_attr   (E, Lt)      BPE ids of its "key value" attribute text
  el_class  (E, Lt)      with ``read_class`` only: BPE ids of its class attribute (a page's state: a chosen
                         button's "selected", a liked post's "active"), apart from el_attr so a long class list
                         crowds nothing out
  el_context (E, C)      with ``read_context`` only: for the element's 1st..C-th ancestor, how much of the instruction
                         the visible texts under it hold, each word weighted by 1 / the number of texts holding it
                         (``context_overlap``: social-media's retweet button sits in the post naming "@user")
  el_around (E, Lt)      with ``read_context`` only: BPE ids of the texts around it (``context_texts``: the nearest
                         ancestor's other visible texts; an unlabelled field's table row header)
  el_tag / el_cat (E,)   tag and category indices;  el_num (E, NUM_FEATURES) floats (position, flags,
                         overlap of the element's text with the instruction, ticked)
  el_valid / el_click / el_type / el_select (E,)   slot filled / may be clicked / typed into / selected
  span_w  (S, Li)        which instruction tokens each candidate span covers (the "type" arguments)
  span_el (S,)           for a candidate copied off the page (a table cell): its element's slot, else -1
  span_ids (S, Lt)       BPE ids of a candidate from an earlier page's instruction (its tokens are not in
                         instr_ids), padding for the others
  el_value_asked (E, 1)  with ``read_derived`` only: is the element's value a word or quoted text of the instruction
                         (``zoo.web.derived.instruction_values``)?
  span_num (S, 5)        quoted?, already typed somewhere?, position in its instruction, off the page?,
                         from an earlier page's instruction?; with ``read_derived`` (S, 6): and worked out from the
                         page (``zoo.web.derived``: a word the instruction names, a sum), not copied?
  opt_ids (O, Lt), opt_owner (O,), opt_num (O, 2)   <select> options (the "select" arguments)
  step ()                step index within the episode
  screen (3, S, S)       uint8 screenshot, only when the model reads the screen (model.use_screen)

``el_slots`` / ``spans`` / ``options`` (python lists, kept beside the arrays) map chosen indices
back to element ids and strings when an action is built.

Typing candidates come in Strategy 1's order: the instruction's spans, then the spans of the episode's earlier,
different instructions (a page may ask for text only an earlier page showed, as mp-remember-code does; the caller
passes them, ``EpisodeTracker`` keeps them per env), then short texts on the page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.web.context import CONTEXT_LEVELS, context_overlap, context_texts, words
from zoo.web.derived import derived_texts, instruction_values, value_asked
from zoo.web.types import (CATEGORY_VOCAB, CLOCK_TIME, TAG_VOCAB, category_index, field_values, is_typable, page_texts,
                           slot_order, tag_index)

TAGS = list(TAG_VOCAB)  # zoo.web.types: one vocabulary for every strategy, index 0 = unknown
CATEGORIES = list(CATEGORY_VOCAB)
ATTR_KEYS = ("type", "placeholder", "name", "id", "aria-label", "title", "value", "href")
NUM_FEATURES = 15
SPAN_FEATURES = 5


def span_features(read_derived: bool) -> int:
    """span_num's width: one more column with ``ppo.read_derived`` (the candidate was worked out, not copied)."""
    return SPAN_FEATURES + int(bool(read_derived))
# single quotes only as quotes, not apostrophes: no letter or digit just outside them ("user's 'abc'")
QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<![\w'])'([^']+)'(?![\w'])")


@dataclass
class Featurized:
    arrays: dict[str, np.ndarray]
    el_slots: list[int]  # slot -> element id in obs.elements
    spans: list[str]  # span index -> text to type
    options: list[str]  # option index -> option text
    press_keys: bool = False  # the agent may press a key of zoo.web.types.NAMED_KEYS (ppo.press_keys)
    focus_slot: int = -1  # slot of the focused element (where a pressed key goes), -1 when none is a slot
    noop: bool = False  # the agent may do nothing for a step (ppo.noop)


class EpisodeTracker:
    """What each env's current episode showed and did so far, for ``Featurizer``: its distinct instructions
    (``earlier(i, instruction, start)`` records env i's instruction, forgetting the others first when ``start``:
    the observation opens an episode, and returns the episode's other instructions, oldest first; asking twice
    for one observation gives the same answer, as the rollout's bootstrap pass does) and how many no-ops it ended
    with (``acted`` after each action; ``ppo.noop_limit``)."""

    def __init__(self, n: int):
        self.seen: list[list[str]] = [[] for _ in range(n)]
        self.noops = [0] * n  # no-op actions in a row at the end of env i's episode

    def earlier(self, i: int, instruction: str, start: bool) -> tuple[str, ...]:
        if start:
            self.seen[i], self.noops[i] = [], 0
        out = tuple(g for g in self.seen[i] if g != instruction)
        if instruction and instruction not in self.seen[i]:
            self.seen[i].append(instruction)
        return out

    def acted(self, i: int, noop: bool) -> None:
        self.noops[i] = self.noops[i] + 1 if noop else 0


def featurize_in_episode(featurizer: "Featurizer", tracker: EpisodeTracker, i: int, obs: Any, start: bool) -> "Featurized":
    """Env i's observation with what its episode showed and did before (``start``: it opens an episode)."""
    earlier = tracker.earlier(i, obs.instruction or "", start)
    return featurizer(obs, earlier, noops_in_a_row=tracker.noops[i])


class Featurizer:
    """Turns observations into arrays; ``tokenizer`` needs ``encode(str) -> list[int]`` and ``pad_id``."""

    def __init__(self, tokenizer: Any, max_elements: int = 48, max_text_len: int = 16,
                 max_instruction_len: int = 48, max_spans: int = 16, max_options: int = 16,
                 screen_size: int | None = None, press_keys: bool = False, noop: bool = False, noop_limit: int = 0,
                 read_class: bool = False, read_context: bool = False, read_derived: bool = False):
        self.press_keys, self.noop, self.read_class = bool(press_keys), bool(noop), bool(read_class)
        self.read_context = bool(read_context)
        self.read_derived = bool(read_derived)  # worked-out candidates (zoo.web.derived), one more span column
        self.noop_limit = int(noop_limit)  # with noop: no-ops allowed in a row (0: no limit)
        self.tok = tokenizer
        self.screen_size = screen_size  # None: no screenshot array
        self.pad = int(tokenizer.pad_id)
        self.E, self.Lt, self.Li = max_elements, max_text_len, max_instruction_len
        self.S, self.O = max_spans, max_options
        specials = {getattr(tokenizer, n, None) for n in ("bos_id", "eos_id")}
        self._specials = {int(s) for s in specials if s is not None and int(s) != self.pad}

    # ------------------------------------------------------------------ text
    def encode(self, text: str, length: int) -> np.ndarray:
        out = np.full(length, self.pad, dtype=np.int64)
        ids = [i for i in self.tok.encode((text or "").lower()) if i not in self._specials][:length]
        out[: len(ids)] = ids
        return out

    def _instruction(self, instruction: str) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """Token ids word by word, and for each word (char_start, char_end, tok_start, tok_end)."""
        ids: list[int] = []
        spans = []
        for m in re.finditer(r"\S+", instruction or ""):
            piece = [i for i in self.tok.encode(m.group().lower()) if i not in self._specials]
            start = len(ids)
            ids.extend(piece)
            spans.append((m.start(), m.end(), min(start, self.Li), min(len(ids), self.Li)))
        arr = np.full(self.Li, self.pad, dtype=np.int64)
        ids = ids[: self.Li]
        arr[: len(ids)] = ids
        return arr, spans

    @staticmethod
    def candidate_spans(instruction: str) -> list[tuple[str, int, int, bool]]:
        """Strings the agent may type: quoted strings first, then clock times ("5:09 PM"), then single words;
        (text, start, end, quoted)."""
        out: list[tuple[str, int, int, bool]] = []
        seen: set[str] = set()
        for m in QUOTED.finditer(instruction or ""):
            g = next(i for i in range(1, 4) if m.group(i) is not None)
            text = m.group(g)
            if text.strip() and text not in seen:
                seen.add(text)
                out.append((text, m.start(g), m.end(g), True))
        for m in CLOCK_TIME.finditer(instruction or ""):
            if m.group() not in seen:
                seen.add(m.group())
                out.append((m.group(), m.start(), m.end(), False))
        for m in re.finditer(r"\S+", instruction or ""):
            raw = m.group()
            text = raw.strip("\"'“”.,:;!?()")
            if text and text not in seen:
                seen.add(text)
                offset = m.start() + raw.index(text)
                out.append((text, offset, offset + len(text), False))
        return out

    # ------------------------------------------------------------------ elements
    def _pick_elements(self, elements: list[Any]) -> list[int]:
        """Up to E visible element ids (``slot_order``: actionable and texted ones first), kept in page order."""
        return sorted(e.id for e in slot_order(elements)[: self.E])

    def __call__(self, obs: Any, earlier: tuple[str, ...] = (), noops_in_a_row: int = 0) -> Featurized:
        """``earlier``: the episode's earlier, different instructions (``EpisodeTracker``), whose spans
        are candidates too.  ``noops_in_a_row``: the no-ops the episode ended with so far; at ``noop_limit`` of
        them the no-op kind is not allowed (``noop_ok``)."""
        E, Lt, S, O = self.E, self.Lt, self.S, self.O
        instr = obs.instruction or ""
        instr_words = set(words(instr))
        instr_ids, word_spans = self._instruction(instr)
        slots = self._pick_elements(obs.elements)
        by_id = {e.id: e for e in obs.elements}
        cands = self.candidate_spans(instr)
        typed = {c[0] for c in cands}
        past: list[tuple[str, float, bool]] = []  # (text, position in its instruction, quoted)
        for goal in earlier:
            for text, start, _end, is_quoted in self.candidate_spans(goal):
                if text not in typed:
                    typed.add(text)
                    past.append((text, start / max(len(goal), 1), is_quoted))
        # short texts on the page (a table cell to copy) after the instructions', with up to half the places
        page = [(eid, t) for eid, t in page_texts([by_id[i] for i in slots]) if t not in typed]
        # worked out from the page (a word the instruction names, a sum) first: a long page must not push them out
        derived = [(eid, t) for eid, t in derived_texts([by_id[i] for i in slots], instr)
                   if t not in typed] if self.read_derived else []
        worked_out = {t for _, t in derived}
        page = derived + [(eid, t) for eid, t in page if t not in worked_out]
        cands = cands[: S - min(len(page), S // 2)]
        past = past[: S - min(len(page), S // 2) - len(cands)]
        page = page[: S - len(cands) - len(past)]
        quoted = {c[0].strip().lower() for c in cands if c[3]}
        values = field_values(obs.elements)

        a: dict[str, np.ndarray] = {
            "instr_ids": instr_ids,
            "el_text": np.full((E, Lt), self.pad, np.int64), "el_attr": np.full((E, Lt), self.pad, np.int64),
            "el_tag": np.zeros(E, np.int64), "el_cat": np.zeros(E, np.int64),
            "el_num": np.zeros((E, NUM_FEATURES), np.float32),
            "el_valid": np.zeros(E, bool), "el_click": np.zeros(E, bool),
            "el_type": np.zeros(E, bool), "el_select": np.zeros(E, bool),
            "span_w": np.zeros((S, self.Li), np.float32),
            "span_num": np.zeros((S, span_features(self.read_derived)), np.float32),
            "span_el": np.full(S, -1, np.int64), "span_ids": np.full((S, Lt), self.pad, np.int64),
            "span_valid": np.zeros(S, bool),
            "opt_ids": np.full((O, Lt), self.pad, np.int64), "opt_owner": np.full(O, -1, np.int64),
            "opt_num": np.zeros((O, 2), np.float32), "opt_valid": np.zeros(O, bool),
            "step": np.array(min(int(getattr(obs, "step", 0)), 31), np.int64),
            "noop_ok": np.array(self.noop and not 0 < self.noop_limit <= int(noops_in_a_row)),
        }
        if self.read_class:
            a["el_class"] = np.full((E, Lt), self.pad, np.int64)
        context = context_overlap(obs.elements, instr_words) if self.read_context else {}
        around = context_texts(obs.elements) if self.read_context else {}
        if self.read_derived:
            a["el_value_asked"] = np.zeros((E, 1), np.float32)
            asked = instruction_values(instr)
        if self.read_context:
            a["el_context"] = np.zeros((E, CONTEXT_LEVELS), np.float32)
            a["el_around"] = np.full((E, Lt), self.pad, np.int64)
        width = max([e.bbox[0] + e.bbox[2] for e in obs.elements] + [1.0])
        height = max([e.bbox[1] + e.bbox[3] for e in obs.elements] + [1.0])
        options: list[str] = []
        for s, eid in enumerate(slots):
            e = by_id[eid]
            attrs = {k: str(v) for k, v in (e.attrs or {}).items()}
            text = (e.text or "").strip() or attrs.get("label", "").strip()
            a["el_text"][s] = self.encode(text, Lt)
            a["el_attr"][s] = self.encode(" ".join(f"{k} {attrs[k]}" for k in ATTR_KEYS if attrs.get(k)), Lt)
            if self.read_class:
                a["el_class"][s] = self.encode(attrs.get("class", ""), Lt)
            if self.read_derived:  # its value is one the instruction asks for (a spinner at "Select -7")
                a["el_value_asked"][s, 0] = value_asked(e, asked)
            if self.read_context:
                a["el_context"][s] = context[eid]
                a["el_around"][s] = self.encode(around[eid], Lt)
            a["el_tag"][s] = tag_index(e.tag)
            a["el_cat"][s] = category_index(e.category)
            # the one rule every strategy and the action-space probe use: a list of input types of its own left
            # date and time fields untypable here, so Strategy 2 could not take enter-date / enter-time's step
            can_type = bool(e.actionable) and is_typable(e.category, e.tag.lower(), attrs)
            has_options = bool(getattr(e, "options", None))
            a["el_valid"][s], a["el_click"][s] = True, bool(e.actionable)
            a["el_type"][s], a["el_select"][s] = can_type, e.actionable and has_options
            ew = words(text)
            aw = words(" ".join(attrs.get(k, "") for k in ("placeholder", "name", "id", "aria-label", "title")))
            value = attrs.get("value", "").strip().lower()
            x, y, w, h = e.bbox
            a["el_num"][s] = [
                x / width, y / height, w / width, h / height, min(e.depth, 16) / 16.0,
                float(e.actionable), float(can_type), float(has_options),
                float(text.lower() in quoted) if text else 0.0,  # exact match with a quoted string
                sum(t in instr_words for t in ew) / len(ew) if ew else 0.0,  # share of its words in the instruction
                float(bool(text) and text.lower() in instr.lower()),
                float(any(t in instr_words for t in aw)),  # e.g. placeholder "username" vs instruction
                float(bool(value)), float(bool(value) and value in quoted),  # filled, filled as asked
                # a ticked checkbox or radio button: without it the page's state after a click was invisible here
                # (Strategy 1's element flags had it), so click-checkboxes had to be remembered, not read
                float(attrs.get("checked", "").lower() in ("true", "checked", "1")),
            ]
            for opt in (getattr(e, "options", None) or []):
                if len(options) < O and e.actionable:
                    k = len(options)
                    options.append(str(opt))
                    a["opt_ids"][k] = self.encode(str(opt), Lt)
                    a["opt_owner"][k], a["opt_valid"][k] = s, True
                    ow = words(str(opt))
                    a["opt_num"][k] = [float(str(opt).strip().lower() in quoted),
                                       sum(t in instr_words for t in ow) / len(ow) if ow else 0.0]
        spans: list[str] = []
        for k, (text, start, end, is_quoted) in enumerate(cands):
            toks = [(ts, te) for (cs, ce, ts, te) in word_spans if cs < end and ce > start]
            for ts, te in toks:
                a["span_w"][k, ts:te] = 1.0
            a["span_num"][k, :SPAN_FEATURES] = [float(is_quoted), float(text.strip().lower() in values),
                                                start / max(len(instr), 1), 0.0, 0.0]
            a["span_valid"][k] = True
            spans.append(text)
        for k, (text, position, is_quoted) in enumerate(past, start=len(cands)):
            a["span_ids"][k] = self.encode(text, Lt)
            a["span_num"][k, :SPAN_FEATURES] = [float(is_quoted), float(text.strip().lower() in values), position,
                                                0.0, 1.0]
            a["span_valid"][k] = True
            spans.append(text)
        for k, (eid, text) in enumerate(page, start=len(cands) + len(past)):
            a["span_el"][k] = slots.index(eid)
            a["span_num"][k, :SPAN_FEATURES] = [0.0, float(text.lower() in values), 1.0, 1.0, 0.0]
            if self.read_derived:  # the extra column: worked out, not copied (its element is where it came from)
                a["span_num"][k, SPAN_FEATURES] = float(text in worked_out)
            a["span_valid"][k] = True
            spans.append(text)
        if self.screen_size:
            a["screen"] = self.screen(getattr(obs, "screenshot", None))
        focused = [s for s, eid in enumerate(slots) if by_id[eid].attrs.get("focused") == "true"]
        return Featurized(a, slots, spans, options, self.press_keys, focused[0] if focused else -1, self.noop)

    def screen(self, shot: Any) -> np.ndarray:
        """uint8 (3, S, S) screenshot (black when the observation has none)."""
        S = int(self.screen_size)
        if shot is None:
            return np.zeros((3, S, S), np.uint8)
        shot = np.asarray(shot, np.uint8)
        if shot.shape[:2] != (S, S):
            from PIL import Image

            shot = np.asarray(Image.fromarray(shot).convert("RGB").resize((S, S), Image.BILINEAR))
        return np.ascontiguousarray(shot[..., :3].transpose(2, 0, 1))


def stack(items: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Batch featurized observations along a new first axis."""
    return {k: np.stack([it[k] for it in items]) for k in items[0]}


def make_featurizer(tokenizer: Any, cfg: Any) -> Featurizer:
    """The featurizer a run's config describes (training, validation and the loaded agent share it)."""
    return Featurizer(tokenizer, max_elements=int(cfg.model.max_elements), max_text_len=int(cfg.model.max_text_len),
                      max_instruction_len=int(cfg.ppo.max_instruction_len), max_spans=int(cfg.ppo.max_spans),
                      max_options=int(cfg.ppo.max_options),
                      screen_size=int(cfg.env.screenshot_size) if cfg.model.use_screen else None,
                      press_keys=bool(cfg.ppo.press_keys), noop=bool(cfg.ppo.noop),
                      noop_limit=int(cfg.ppo.noop_limit), read_class=bool(cfg.ppo.read_class),
                      read_context=bool(cfg.ppo.read_context),
                      read_derived=bool(cfg.ppo.read_derived))
