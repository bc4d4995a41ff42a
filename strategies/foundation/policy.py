"""Acting with the trained model: the pointer/action heads as a policy (and PUCT prior), the value
head as the search's leaf evaluator, the LM head for the numbered instruction of the next action.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from strategies.foundation.batch import collate
from strategies.foundation.model import FoundationModel
from strategies.foundation.sequence import (
    IGNORE, KEYS, LINE, MAX_POS, POINTED, Episode, Example, SequenceBuilder, Step,
)
from zoo.web.types import ELEMENT_ACTION_KINDS, Action

MAX_GENERATED = 40


@dataclass
class Decision:
    """The policy's reading of the live step.  candidates / priors: the top-k actions (one per element,
    plus a key press when the kind head wants one) and their prior probabilities.  value: V(state).
    """

    candidates: list[Action] = field(default_factory=list)
    priors: list[float] = field(default_factory=list)
    value: float = 0.0
    kind_probs: list[float] = field(default_factory=list)

    @property
    def action(self) -> Action:
        if not self.candidates:
            return Action.noop()
        return self.candidates[int(np.argmax(self.priors))]


def pick_option(options: list[str], wanted: str) -> str | None:
    """The <select> option best matching ``wanted``: exact, case-insensitive, containment, else the first."""
    if not options:
        return wanted or None
    low = wanted.lower().strip()
    for test in (lambda o: o == wanted, lambda o: o.lower().strip() == low,
                 lambda o: bool(low) and (low in o.lower() or o.lower() in low)):
        hits = [o for o in options if test(o)]
        if hits:
            return hits[0]
    return options[0]


class Policy:
    def __init__(self, model: FoundationModel, builder: SequenceBuilder, top_k: int = 6, device: Any = "cpu"):
        self.model, self.builder, self.top_k, self.device = model, builder, int(top_k), torch.device(device)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def decide(self, episodes: list[Episode]) -> list[Decision]:
        """One Decision per episode for its last step (which must have no action yet)."""
        if not episodes:
            return []
        was_training = self.model.training
        self.model.eval()
        try:
            examples = [self.builder.build(ep) for ep in episodes]
            batch = collate(examples).to(self.device)
            h, _ = self.model(batch)
            heads = self.model.act_heads(h, batch)
            act_b = batch.act_b.tolist()
            last_rows = [max(r for r, b in enumerate(act_b) if b == i) for i in range(len(examples))]  # live step
            return [self._decision(ex, ep, batch, h, heads, row) for ex, ep, row in zip(examples, episodes, last_rows)]
        finally:
            self.model.train(was_training)

    def _decision(self, ex: Example, ep: Episode, batch: Any, h: torch.Tensor, heads: dict, row: int) -> Decision:
        slots, spans = ex.slots[-1], ex.spans[-1]
        step = ep.steps[-1]
        by_id = {e.id: e for e in step.elements}
        kind_p = torch.softmax(heads["kind"][row], -1).cpu().numpy()
        key = KEYS[int(heads["key"][row].argmax())]
        key = "Enter" if key == "<other>" else key
        value = float(heads["value"][row])
        mask = np.array([by_id[s].actionable and by_id[s].visible for s in slots], bool)
        decision = Decision(value=value, kind_probs=kind_p.tolist())
        if mask.any():
            logits = heads["pointer"][row, : len(slots)].cpu().numpy().copy()
            logits[~mask] = -np.inf
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            top = [int(i) for i in np.argsort(-probs)[: self.top_k] if probs[i] > 0]
            texts = self._span_texts(batch, h, heads, row, top, spans)
            element_p = 1.0 - kind_p[ELEMENT_ACTION_KINDS.index("press")] - kind_p[ELEMENT_ACTION_KINDS.index("noop")]
            for slot, text in zip(top, texts):
                el = by_id[slots[slot]]
                decision.candidates.append(self._element_action(el, kind_p, text))
                decision.priors.append(float(probs[slot]) * max(element_p, 1e-3))
        press_p = float(kind_p[ELEMENT_ACTION_KINDS.index("press")])
        if press_p > 0.1 or not decision.candidates:
            decision.candidates.append(Action.press(key))
            decision.priors.append(max(press_p, 1e-3))
        total = sum(decision.priors)
        decision.priors = [p / total for p in decision.priors]
        return decision

    def _span_texts(self, batch: Any, h: torch.Tensor, heads: dict, row: int, top: list[int],
                    spans: list[str]) -> list[str]:
        if not top or not spans:
            return [""] * len(top)
        rows = torch.full((len(top),), row, dtype=torch.long, device=h.device)
        slots = torch.tensor(top, dtype=torch.long, device=h.device)
        logits = self.model.span_logits(h, batch, rows, heads["q"][rows], slots)
        return [spans[int(i)] if int(i) < len(spans) else "" for i in logits.argmax(-1)]

    @staticmethod
    def _element_action(el: Any, kind_p: np.ndarray, text: str) -> Action:
        if el.options:
            return Action.select(el.id, pick_option(list(el.options), text) or "")
        if el.typable and kind_p[ELEMENT_ACTION_KINDS.index("type")] > kind_p[ELEMENT_ACTION_KINDS.index("click")] and text:
            return Action.type(el.id, text)
        return Action.click(el.id)

    # ------------------------------------------------------------------ instructions
    @torch.no_grad()
    def generate_lines(self, episodes: list[Episode]) -> list[str]:
        """Greedy numbered instruction (without the number) for the last step of each episode."""
        return [line for _, line in self.write_steps(episodes)]

    @torch.no_grad()
    def write_steps(self, episodes: list[Episode]) -> list[tuple[Action, str]]:
        """For the last step of each episode: the policy's action and the greedy instruction line
        written about it (the pointed element is the one the pointer head chose)."""
        if not episodes:
            return []
        was_training = self.model.training
        self.model.eval()
        try:
            examples = [copy.deepcopy(self.builder.build(ep)) for ep in episodes]
            decisions = self.decide(episodes)
            for ep, ex, decision in zip(episodes, examples, decisions):  # write about the chosen element
                element, slots = decision.action.element, ex.slots[-1]
                if element in slots:
                    append_position(ex, POINTED, 0, ex.rows[-1][slots.index(element)])
                    by_id = {e.id: e for e in ep.steps[-1].elements}
                    for tok in self.builder.pointed_ids(by_id[element], ep.steps[-1].elements, decision.action):
                        append_position(ex, POINTED, tok)
                else:
                    append_position(ex, POINTED, 0)
            out: list[list[int]] = [[] for _ in examples]
            live = list(range(len(examples)))
            for _ in range(MAX_GENERATED):
                if not live:
                    break
                batch = collate([examples[i] for i in live]).to(self.device)
                h, _ = self.model(batch)
                last = torch.tensor([len(examples[i]) - 1 for i in live], device=h.device)
                rows = torch.arange(len(live), device=h.device)
                tokens = self.model.lm_log_probs(h, batch, rows, last).argmax(-1).tolist()
                still = []
                for i, tok in zip(live, tokens):
                    if tok == self.builder.EOL or tok >= self.builder.vocab_size:
                        continue
                    out[i].append(tok)
                    append_position(examples[i], LINE, tok)
                    still.append(i)
                live = still
            return [(d.action, self.builder.decode_line(ids)) for d, ids in zip(decisions, out)]
        finally:
            self.model.train(was_training)

    @torch.no_grad()
    def write_instructions(self, episodes: list[Episode]) -> list[list[str]]:
        """Free generation of each episode's whole numbered list from its observations alone: step by
        step the model points, writes the line, and that action and line (not the recorded ones)
        become the history of the next step."""
        written: list[list[Step]] = [[] for _ in episodes]
        for t in range(max((len(ep.steps) for ep in episodes), default=0)):
            live = [i for i, ep in enumerate(episodes) if t < len(ep.steps)]
            queries = [Episode(episodes[i].task, written[i] + [open_step(episodes[i].steps[t])]) for i in live]
            for i, query, (action, line) in zip(live, queries, self.write_steps(queries)):
                written[i].append(dataclasses.replace(query.steps[-1], action=action, line=line))
        return [[s.line for s in steps] for steps in written]


def open_step(step: Step) -> Step:
    """The step as the agent sees it before acting: no action, line or training targets."""
    return dataclasses.replace(step, action=None, line=None, visit=None, visit_kind=None, value=None)


def append_position(ex: Example, ttype: int, tok: int, elem_ref: int = -1) -> None:
    """Extend an encoded episode by one position (a generated line token, the pointed element), in place."""
    last = len(ex) - 1
    grow = {"ids": tok, "ttype": ttype, "pos": min(int(ex.pos[last]) + 1, MAX_POS - 1), "step": int(ex.step[last]),
            "frame_no": -1, "frame_j": 0, "elem_ref": elem_ref, "lm_target": IGNORE, "lm_kind": 0, "next_frame_no": -1,
            "next_frame_j": 0, "text_row": -1}
    for name, value in grow.items():
        setattr(ex, name, np.append(getattr(ex, name), value))
