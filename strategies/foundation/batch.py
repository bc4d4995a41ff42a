"""Pad encoded episodes (``sequence.Example``) into one batch of tensors."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from strategies.foundation.sequence import IGNORE, MAX_SPAN_TOKENS, SPAN_FLAGS, Example
from zoo.web.types import ELEMENT_ACTION_KINDS

SEQ_PAD = {"ids": 0, "ttype": 0, "pos": 0, "step": 0, "frame_no": -1, "frame_j": 0, "elem_ref": -1,
           "lm_target": IGNORE, "lm_kind": 0, "next_frame_no": -1, "next_frame_j": 0, "text_row": -1}


@dataclass
class Batch:
    """Sequence tensors (B, S); the frame and element tables of the whole batch; one row per ``<act>``.

    act_b / act_pos: batch row and position of each act query.  elem_pos (NA, E): positions of that
    step's element tokens (-1 pad).  span_pos (NA, C, L): token positions of each candidate span;
    span_flags (NA, C, SPAN_FLAGS): its flags (sequence.py; read with foundation.read_span_flags).
    slot / kind / key / span: supervised targets (-1: none).  value: return target (nan: none).
    visit (NA, E): search visit distribution over the step's elements; has_visit marks rows with one.
    visit_kind (NA, K): search visit distribution over action kinds; has_visit_kind likewise.
    text_row (B, S) / ptext (NT, L) / el_prow (NE,): the pretrained text encoder's rows (see sequence.py).
    """

    ids: torch.Tensor
    ttype: torch.Tensor
    pos: torch.Tensor
    step: torch.Tensor
    frame_no: torch.Tensor
    frame_j: torch.Tensor
    elem_ref: torch.Tensor
    lm_target: torch.Tensor
    lm_kind: torch.Tensor
    next_frame_no: torch.Tensor
    next_frame_j: torch.Tensor
    text_row: torch.Tensor
    frames: torch.Tensor
    el_text: torch.Tensor
    el_tag: torch.Tensor
    el_cat: torch.Tensor
    el_box: torch.Tensor
    el_flags: torch.Tensor
    ptext: torch.Tensor
    el_prow: torch.Tensor
    act_b: torch.Tensor
    act_pos: torch.Tensor
    elem_pos: torch.Tensor
    span_pos: torch.Tensor
    span_flags: torch.Tensor
    slot: torch.Tensor
    kind: torch.Tensor
    key: torch.Tensor
    span: torch.Tensor
    value: torch.Tensor
    visit: torch.Tensor
    has_visit: torch.Tensor
    visit_kind: torch.Tensor
    has_visit_kind: torch.Tensor
    el_around: torch.Tensor | None = None  # (NE, L) with foundation.read_context, else None

    def to(self, device: Any) -> Batch:
        return Batch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                        for f in fields(self)})

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])


def _long(x: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.long)


def pad_text_rows(examples: list[Example]) -> np.ndarray:
    """Every example's pretrained-tokenizer rows in one (NT, longest) array, padded with -1."""
    tables = [e.ptext for e in examples if len(e.ptext)]
    if not tables:
        return np.zeros((0, 1), np.int64)
    width = max(t.shape[1] for t in tables)
    return np.concatenate([np.pad(t, ((0, 0), (0, width - t.shape[1])), constant_values=-1) for t in tables])


def collate(examples: list[Example]) -> Batch:
    length = max(len(e) for e in examples)
    seq: dict[str, torch.Tensor] = {}
    frame_off = np.cumsum([0] + [len(e.frames) for e in examples])
    elem_off = np.cumsum([0] + [len(e.el_tag) for e in examples])
    text_off = np.cumsum([0] + [len(e.ptext) for e in examples])
    for name, pad in SEQ_PAD.items():
        rows = []
        for i, ex in enumerate(examples):
            col = getattr(ex, name).copy()
            if name in ("frame_no", "next_frame_no"):
                col[col >= 0] += frame_off[i]
            elif name == "elem_ref":
                col[col >= 0] += elem_off[i]
            elif name == "text_row":
                col[col >= 0] += text_off[i]
            rows.append(np.pad(col, (0, length - len(col)), constant_values=pad))
        seq[name] = _long(np.stack(rows))
    frames = [e.frames for e in examples if len(e.frames)]
    frames_t = (torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).float() / 255.0) if frames \
        else torch.zeros(0, 3, 1, 1)
    acts = [(i, a) for i, ex in enumerate(examples) for a in ex.acts]
    n_el = max([len(a["elem_pos"]) for _, a in acts] + [1])
    n_span = max([len(a["span_pos"]) for _, a in acts] + [1])
    elem_pos = np.full((len(acts), n_el), -1, np.int64)
    span_pos = np.full((len(acts), n_span, MAX_SPAN_TOKENS), -1, np.int64)
    span_flags = np.zeros((len(acts), n_span, SPAN_FLAGS), np.float32)
    visit = np.zeros((len(acts), n_el), np.float32)
    has_visit = np.zeros(len(acts), bool)
    visit_kind = np.zeros((len(acts), len(ELEMENT_ACTION_KINDS)), np.float32)
    has_visit_kind = np.zeros(len(acts), bool)
    for r, (_, a) in enumerate(acts):
        elem_pos[r, : len(a["elem_pos"])] = a["elem_pos"]
        for c, toks in enumerate(a["span_pos"]):
            span_pos[r, c, : len(toks)] = toks
        if a["span_flags"]:
            span_flags[r, : len(a["span_flags"])] = a["span_flags"]
        if a["visit"] is not None:
            visit[r, : len(a["visit"])] = a["visit"]
            has_visit[r] = True
        if a.get("visit_kind") is not None:
            visit_kind[r] = a["visit_kind"]
            has_visit_kind[r] = True
    cat = lambda name: torch.from_numpy(np.concatenate([getattr(e, name) for e in examples]))  # noqa: E731
    return Batch(
        **seq,
        frames=frames_t,
        el_text=cat("el_text").long(), el_tag=cat("el_tag").long(), el_cat=cat("el_cat").long(),
        el_box=cat("el_box").float(), el_flags=cat("el_flags").float(),
        ptext=_long(pad_text_rows(examples)),
        el_prow=_long(np.concatenate([np.where(e.el_prow >= 0, e.el_prow + text_off[i], -1)
                                      for i, e in enumerate(examples)])),
        act_b=_long([i for i, _ in acts]), act_pos=_long([a["pos"] for _, a in acts]),
        elem_pos=_long(elem_pos), span_pos=_long(span_pos), span_flags=torch.from_numpy(span_flags),
        slot=_long([a["slot"] for _, a in acts]), kind=_long([a["kind"] for _, a in acts]),
        key=_long([a["key"] for _, a in acts]), span=_long([a["span"] for _, a in acts]),
        value=torch.tensor([a["value"] for _, a in acts], dtype=torch.float32),
        visit=torch.from_numpy(visit), has_visit=torch.from_numpy(has_visit),
        visit_kind=torch.from_numpy(visit_kind), has_visit_kind=torch.from_numpy(has_visit_kind),
        el_around=cat("el_around").long() if examples[0].el_around is not None else None,
    )
