"""foundation.span_lexical: the span pointer's second score, read off the trunk's inputs (hand-made batch, then the
model, its losses, policy and config on synthetic episodes; no browser)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from strategies.foundation.batch import collate
from strategies.foundation.losses import STAGE_TERMS, compute_losses, weighted_total
from strategies.foundation.model import FoundationModel, LexicalSpanScore
from strategies.foundation.policy import Policy
from strategies.foundation.sequence import ACT, ELEMENT, GOAL, SPECIAL, Episode, SequenceBuilder, Step

sys.path.insert(0, str(Path(__file__).parent))
from test_strategy1_model import data, one_thread, tiny_cfg  # noqa: E402, F401  (fixtures)

DIM = 8


def hand_made_batch() -> SimpleNamespace:
    """One sequence: <bos> g1 .. g6 e0 e1 <act> (goal tokens at 1-6 with ids 11-16, two elements at 7 and 8).
    Candidates: the goal word at 3, the two-token word at 5-6, and the page text at element 8."""
    ttype = torch.tensor([[SPECIAL, GOAL, GOAL, GOAL, GOAL, GOAL, GOAL, ELEMENT, ELEMENT, ACT]])
    ids = torch.tensor([[1, 11, 12, 13, 14, 15, 16, 0, 0, 2]])
    elem_ref = torch.tensor([[-1, -1, -1, -1, -1, -1, -1, 0, 1, -1]])
    span_pos = torch.full((1, 3, 2), -1)
    span_pos[0, 0, 0] = 3
    span_pos[0, 1] = torch.tensor([5, 6])
    span_pos[0, 2, 0] = 8
    return SimpleNamespace(ttype=ttype, ids=ids, elem_ref=elem_ref, span_pos=span_pos,
                           act_b=torch.tensor([0]), elem_pos=torch.tensor([[7, 8]]))


def test_lexical_score_reads_each_candidate_and_the_goal_words_right_before_it():
    torch.manual_seed(0)
    score = LexicalSpanScore(DIM).eval()
    batch = hand_made_batch()
    vocab, table = torch.randn(20, DIM), torch.randn(2, DIM)
    rows, slots, valid = torch.tensor([0]), torch.tensor([0]), torch.tensor([[True, True, True]])

    def logits(vocab: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return score((vocab, table), batch, rows, slots, valid)[0]

    base = logits(vocab, table)

    def moved(token_id: int) -> torch.Tensor:  # which candidates' scores change when one token's embedding does
        v = vocab.clone()
        v[token_id] += 1.0
        return ~torch.isclose(logits(v, table), base, atol=1e-6)

    assert moved(11).tolist() == [True, False, False]  # 2 goal tokens before the first, 4 before the second
    assert moved(13).tolist() == [True, True, False]  # the first candidate itself, 2 tokens before the second
    assert moved(14).tolist() == [False, True, False]  # after the first, right before the second
    assert moved(16).tolist() == [False, True, False]  # inside the second only
    assert moved(12).tolist() == [True, False, False]
    assert LexicalSpanScore.BEFORE == 2
    moved_bos = hand_made_batch()
    moved_bos.span_pos[0, 0, 0] = 2  # a candidate right after <bos> reads one goal token before it, not <bos>
    with torch.no_grad():
        v = vocab.clone()
        v[1] += 1.0
        after_bos = [score((w, table), moved_bos, rows, slots, valid) for w in (v, vocab)]
        assert torch.allclose(*after_bos)
    t = table.clone()
    t[1] += 1.0  # the page text's element: only its own candidate (the chosen element is slot 0)
    assert (~torch.isclose(logits(vocab, t), base, atol=1e-6)).tolist() == [False, False, True]
    t = table.clone()
    t[0] += 1.0  # the chosen element: the query, so every candidate's score
    assert (~torch.isclose(logits(vocab, t), base, atol=1e-6)).all()


def test_span_lexical_trains_decides_and_reaches_the_model_from_the_config(data):  # noqa: F811
    from strategies.foundation.module import FoundationModule

    eps, tok = data
    b = SequenceBuilder(tok, 0)
    cfg = tiny_cfg("model.use_screen=false", "foundation.span_lexical=true")
    torch.manual_seed(0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id, span_lexical=True)
    plain = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    assert plain.lexical is None
    assert {k.split(".")[0] for k in set(model.state_dict()) - set(plain.state_dict())} == {"lexical"}
    batch = collate([b.build(e) for e in eps[:2]])
    losses = compute_losses(model, batch, STAGE_TERMS["sft"])
    assert np.isfinite(float(losses["span"].detach()))
    weighted_total(losses, {}).backward()
    assert float(model.lexical.query.weight.grad.abs().sum()) > 0
    assert float(model.lexical.before.weight.grad.abs().sum()) > 0  # "Enter" is a goal word before "Ann"
    live = [Episode(e.task, [Step(e.steps[0].instruction, e.steps[0].elements)]) for e in eps[:2]]
    decisions = Policy(model.eval(), b, top_k=3).decide(live)
    assert all(abs(sum(d.priors) - 1) < 1e-6 for d in decisions)
    assert FoundationModule(cfg, "sft", b.vocab_size, tok.pad_id, tokenizer_json="{}").model.lexical is not None


def test_span_choices_lists_each_typed_field_with_the_demonstrated_and_the_chosen_text(data):  # noqa: F811
    from strategies.foundation.span_choices import span_choices

    eps, tok = data
    b = SequenceBuilder(tok, 0, read_context=True)
    cfg = tiny_cfg("model.use_screen=false", "foundation.read_context=true", "foundation.span_lexical=true")
    torch.manual_seed(0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id, read_context=True, span_lexical=True)
    rows = span_choices(model, b, eps[:3])
    assert [r["step"] for r in rows] == [0, 0, 0]  # each synthetic episode types once, at its first step
    for row, ep in zip(rows, eps):
        assert row["task"] == "synthetic" and row["field"] == ""  # the input has no text of its own
        assert row["around"].split() == [e.text for e in ep.steps[0].elements[2:]]  # the buttons beside it
        assert row["target"] == ep.steps[0].action.text
        assert row["chosen"] in b.build(ep).spans[0]
