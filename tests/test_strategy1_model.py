"""Strategy 1 model, sequence layout, losses and policy decoding on synthetic episodes (no browser)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from components.attention import list_attention
from components.text import BPETokenizer
from components.tokenizers import list_tokenizer
from strategies.foundation.batch import collate
from strategies.foundation.instructions import action_line, line_to_action
from strategies.foundation.losses import STAGE_TERMS, compute_losses, weighted_total
from strategies.foundation.model import FoundationModel
from strategies.foundation.policy import Policy
from strategies.foundation.sequence import ACT, FRAME, IGNORE, N_FLAGS, POINTED, Episode, SequenceBuilder, Step
from zoo.config import compose
from zoo.web.types import Action, Element

TPF = 16  # 64x64 frames, 16x16 patches
STEPS_TO_OVERFIT = 250


def page(names: list[str]) -> list[Element]:
    els = [Element(0, "div", "", {}, (0, 0, 160, 210), -1, 0, True, "style", False)]
    els.append(Element(1, "input", "", {"type": "text", "id": "name"}, (5, 20, 100, 20), 0, 1, True, "input", True))
    for i, n in enumerate(names):
        els.append(Element(2 + i, "button", n, {}, (5 + 40 * i, 60, 35, 20), 0, 1, True, "action", True))
    return els


def episode(rng: np.random.Generator, with_frames: bool = True) -> Episode:
    names = ["ok", "cancel", "submit", "next"]
    rng.shuffle(names)
    target, who = names[0], ["Ann", "Bob", "Cy"][int(rng.integers(3))]
    goal = f'Enter "{who}" and press the "{target}" button'
    els = page(names)
    frame = lambda: rng.integers(0, 255, (1, 64, 64, 3), dtype=np.uint8) if with_frames else None  # noqa: E731
    a1, a2 = Action.type(1, who), Action.click(2)
    return Episode("synthetic", [
        Step(goal, els, frame(), a1, action_line(a1, els), value=0.9, expert=True),
        Step(goal, els, frame(), a2, action_line(a2, els), value=1.0, visit={2: 0.75, 3: 0.25},
             visit_kind={"click": 0.75, "press": 0.25}, expert=True),
    ])


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one thread, and the suite shares the machine's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    eps = [episode(rng) for _ in range(6)]
    texts = [s.instruction for e in eps for s in e.steps] + [f"1. {s.line}" for e in eps for s in e.steps]
    tok = BPETokenizer.train(texts * 4, vocab_size=300)
    return eps, tok


def tiny_cfg(*extra: str):
    return compose(["strategy=1", "model.dim=32", "model.n_heads=2", *extra], validate_choices=False)


def test_sequence_layout_interleaves_frames_dom_and_instruction_lines(data):
    eps, tok = data
    b = SequenceBuilder(tok, TPF, max_elements=48, max_text_len=8)
    ex = b.build(eps[0])
    assert (ex.ttype == FRAME).sum() == 2 * TPF  # one frame per step
    acts = np.flatnonzero(ex.ttype == ACT)
    assert len(acts) == len(ex.acts) == 2
    # after the act query comes the acted-on element again, which predicts the first token of the
    # numbered line; each line ends with <eol>
    first_line = b.line_ids(1, eps[0].steps[0].line)
    assert ex.ttype[acts[0] + 1] == POINTED and ex.elem_ref[acts[0] + 1] == ex.rows[0][ex.slots[0].index(1)]
    step = eps[0].steps[0]
    name = b.pointed_ids(step.elements[1], step.elements, step.action)  # its name, place and typed text, to copy
    assert tok.decode(name).endswith(f'"{step.action.text}"')
    assert list(ex.ids[acts[0] + 2: acts[0] + 2 + len(name)]) == name
    last_pointed = acts[0] + 1 + len(name)
    assert (ex.lm_target[acts[0]: last_pointed] == IGNORE).all() and ex.lm_target[last_pointed] == first_line[0]
    assert (ex.lm_target == b.EOL).sum() == 2
    # next-frame-token targets: the position before every frame token predicts that token
    assert (ex.next_frame_no >= 0).sum() == 2 * TPF
    assert ex.ttype[np.flatnonzero(ex.next_frame_no >= 0)[0] + 1] == FRAME
    # the step-2 pointer target is the clicked element's slot; the typed text is a goal span
    assert ex.slots[1][ex.acts[1]["slot"]] == 2
    assert ex.spans[0][ex.acts[0]["span"]] == eps[0].steps[0].action.text
    assert ex.acts[1]["visit"][ex.acts[1]["slot"]] == 0.75


@pytest.mark.parametrize("stage", sorted(STAGE_TERMS))
def test_each_stage_loss_is_finite_and_reaches_every_term(data, stage):
    eps, tok = data
    cfg = tiny_cfg()
    b = SequenceBuilder(tok, TPF)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    losses = compute_losses(model, collate([b.build(e) for e in eps[:3]]), STAGE_TERMS[stage])
    expected = STAGE_TERMS[stage] - {"aux"}
    assert expected <= set(losses), expected - set(losses)
    total = weighted_total(losses, {})
    assert torch.isfinite(total)
    total.backward()
    assert model.embed.weight.grad is not None and torch.isfinite(model.embed.weight.grad).all()


@pytest.mark.parametrize("attention", list_attention())
def test_every_attention_variant_trains_the_model(data, attention):
    """Forward, backward and an optimizer step for every registered variant (ring: its one-process
    fallback); the step changes the weights and lowers the loss on the same batch."""
    eps, tok = data
    torch.manual_seed(0)
    from components.attention.registry import attention_fields

    small = {"window": 16, "segment_len": 32, "mem_len": 16}  # set only the fields this variant declares
    fields = [f"model.attention.{k}={v}" for k, v in small.items() if k in attention_fields(attention)]
    cfg = tiny_cfg(f"model.attention={attention}", *fields, "model.use_screen=false")
    b = SequenceBuilder(tok, 0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    batch = collate([b.build(e) for e in eps[:2]])
    h, _ = model(batch)
    assert h.shape == (2, batch.ids.shape[1], 32) and torch.isfinite(h).all()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = [p.detach().clone() for p in model.trunk.parameters()]
    losses = []
    for _ in range(3):
        loss = weighted_total(compute_losses(model, batch, STAGE_TERMS["sft"]), {})
        opt.zero_grad()
        loss.backward()
        grads = [p.grad for p in model.trunk.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, model.trunk.parameters()))


@pytest.mark.parametrize("tokenizer", list_tokenizer())
def test_every_frame_tokenizer_feeds_the_pretraining_objective(data, tokenizer):
    eps, tok = data
    cfg = tiny_cfg(f"model.tokenizer={tokenizer}")
    b = SequenceBuilder(tok, TPF)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    losses = compute_losses(model, collate([b.build(e) for e in eps[:2]]), STAGE_TERMS["pretrain"])
    assert losses["frame"] > 0 and torch.isfinite(weighted_total(losses, {}))


def test_sft_overfits_and_writes_the_exact_numbered_instructions(data):
    """A tiny model overfits a few episodes: the policy decodes the recorded actions and the LM head
    writes the exact numbered instruction lists, step by step and freely as whole lists."""
    from strategies.foundation.metrics import instruction_metrics

    eps, tok = data
    torch.manual_seed(0)
    cfg = tiny_cfg("model.use_screen=false")
    b = SequenceBuilder(tok, 0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    train = eps[:4]
    batch = collate([b.build(e) for e in train])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(STEPS_TO_OVERFIT):
        loss = weighted_total(compute_losses(model, batch, STAGE_TERMS["sft"]), {})
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.2 * first
    policy = Policy(model, b, top_k=3)
    live = [Episode(e.task, [Step(e.steps[0].instruction, e.steps[0].elements)]) for e in train]
    for ep, decision in zip(train, policy.decide(live)):
        assert abs(sum(decision.priors) - 1) < 1e-6 and len(decision.candidates) <= 4
        assert decision.action == ep.steps[0].action  # type the right name into the field
    for ep, line in zip(train, policy.generate_lines(live)):  # the line decodes to the same action
        decoded = line_to_action(line, ep.steps[0].elements, Action)
        assert decoded is not None and decoded.kind == "type" and decoded.element == 1, line
    # freely generated whole lists equal the recorded ones, string for string
    written = policy.write_instructions(train)
    assert ["\n".join(f"{i}. {x}" for i, x in enumerate(lines, 1)) for lines in written] == \
        [ep.instruction_list() for ep in train]
    metrics = instruction_metrics(policy, train)
    assert metrics["exact_match"] == metrics["free_exact_match"] == 1.0
    assert metrics["token_accuracy"] == 1.0 and metrics["action_accuracy"] == 1.0


def test_ignore_targets_never_reach_the_loss(data):
    eps, tok = data
    ex = SequenceBuilder(tok, TPF).build(eps[0])
    mask = ex.lm_target != IGNORE
    assert set(np.unique(ex.lm_kind[mask])) <= {1, 2} and (ex.lm_kind[~mask] == 0).all()


def test_text_shown_only_on_an_earlier_page_is_a_typing_candidate(data):
    _, tok = data
    els = page(["save"])
    first, second = "Remember the code 4821 and open the settings", "Enter the code you remembered"
    ep = Episode("memory", [
        Step(first, els, None, Action.click(2), action_line(Action.click(2), els), expert=True),
        Step(second, els, None, Action.type(1, "4821"), action_line(Action.type(1, "4821"), els), expert=True),
    ])
    ex = SequenceBuilder(tok, 0).build(ep)
    assert "4821" not in second and ex.spans[1][0] == "Enter"  # the current goal comes first
    assert ex.spans[1][ex.acts[1]["span"]] == "4821"
    # its token positions lie in the first step's copy of the goal (before the first <act>)
    assert max(ex.acts[1]["span_pos"][ex.acts[1]["span"]]) < ex.acts[0]["pos"]


def test_a_short_text_on_the_page_is_a_typing_candidate_at_its_element_token(data):
    """read-table's answer is a cell of the table: the cell's text is a candidate after the goal's spans, pointed
    at by the cell's element token; a paragraph (longer than a value) is not."""
    _, tok = data
    els = page(["save"]) + [
        Element(3, "td", "Color", {}, (5, 100, 40, 15), 0, 1, True, "text", False),
        Element(4, "td", "Teal", {}, (50, 100, 40, 15), 0, 1, True, "text", False),
        Element(5, "p", "a paragraph far too long to be a value anyone copies whole", {}, (5, 130, 150, 15), 0, 1,
                True, "text", False)]
    goal = "Enter the value of Color into the text field"
    act = Action.type(1, "Teal")
    ex = SequenceBuilder(tok, 0).build(Episode("table", [Step(goal, els, None, act, action_line(act, els), expert=True)]))
    spans, a = ex.spans[0], ex.acts[0]
    words = list(dict.fromkeys(goal.split()))  # each text once
    assert spans == words + ["save", "Teal"]  # "Color" is a goal word already
    assert spans[a["span"]] == "Teal"
    slot = ex.slots[0].index(4)
    assert a["span_pos"][a["span"]] == [a["elem_pos"][slot]]  # the cell's own element token


def test_a_checkbox_is_named_by_its_label():
    from strategies.foundation.instructions import element_label

    box = Element(1, "input", "", {"type": "checkbox", "value": "on", "label": "ZcHJ"}, (5, 5, 10, 10), 0, 1, True,
                  "input", True)
    assert element_label(box) == "ZcHJ"
    assert action_line(Action.click(1), [page([])[0], box]).startswith('Press on the checkbox "ZcHJ"')


def test_copy_scores_are_each_query_against_its_own_sequence_with_their_gradients():
    """The per-sequence matrix products equal the gathered form (every query against a copy of its
    sequence's keys), values and gradients, with the queries in any order of sequences."""
    torch.manual_seed(0)
    query, keys = torch.randn(7, 5, requires_grad=True), torch.randn(3, 11, 5, requires_grad=True)
    b_idx = torch.tensor([2, 0, 0, 2, 1, 2, 0])
    fast = FoundationModel.copy_scores(query, keys, b_idx)
    gathered = torch.einsum("nd,nsd->ns", query, keys[b_idx])
    assert fast.shape == (7, 11) and torch.allclose(fast, gathered, atol=1e-6)
    weights = torch.randn(7, 11)
    g_fast = torch.autograd.grad((fast * weights).sum(), (query, keys))
    g_ref = torch.autograd.grad((gathered * weights).sum(), (query, keys))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g_fast, g_ref))
    assert FoundationModel.copy_scores(query[:0], keys, b_idx[:0]).shape == (0, 11)


def test_read_context_adds_the_ancestors_flags_and_the_texts_around(data):
    """foundation.read_context: every element row gets zoo.web.context's four overlaps after its flags and the texts
    around it as a second token row; the model reads both (a different "around" row moves the element's embedding)
    and every stage's loss still reaches the embedding table.  Off, the rows are what they were."""
    from strategies.foundation.sequence import N_FLAGS
    from zoo.web.context import CONTEXT_LEVELS

    eps, tok = data
    plain, ctx = SequenceBuilder(tok, 0), SequenceBuilder(tok, 0, read_context=True)
    a, b = plain.build(eps[0]), ctx.build(eps[0])
    assert a.el_around is None and a.el_flags.shape[1] == N_FLAGS
    assert b.el_flags.shape == (len(a.el_tag), N_FLAGS + CONTEXT_LEVELS)
    assert np.array_equal(b.el_flags[:, :N_FLAGS], a.el_flags) and np.array_equal(b.el_text, a.el_text)
    assert b.el_around.shape == a.el_text.shape
    # the buttons sit under the page's div beside the others: their "around" rows hold the other buttons' names
    assert (b.el_around[2] != tok.pad_id).any()
    cfg = tiny_cfg("model.use_screen=false", "foundation.read_context=true")
    model = FoundationModel(cfg.model, ctx.vocab_size, tok.pad_id, read_context=True)
    batch = collate([ctx.build(e) for e in eps[:2]])
    assert batch.el_around is not None and batch.el_around.shape[0] == batch.el_flags.shape[0]
    losses = compute_losses(model, batch, STAGE_TERMS["sft"])
    weighted_total(losses, {}).backward()
    assert model.elements.around.weight.grad is not None and model.elements.around.weight.grad.abs().sum() > 0
    with torch.no_grad():
        emb = model.elements(batch.el_text, batch.el_tag, batch.el_cat, batch.el_box, batch.el_flags, None, batch.el_around)
        moved = model.elements(batch.el_text, batch.el_tag, batch.el_cat, batch.el_box, batch.el_flags, None,
                               torch.full_like(batch.el_around, tok.pad_id))
    assert not torch.allclose(emb, moved)
    assert collate([plain.build(e) for e in eps[:2]]).el_around is None


def test_span_flags_mark_a_typed_text_a_page_text_and_an_earlier_goal(data):
    """Each typing candidate carries Strategy 2's span readings (sequence.SPAN_FLAGS): quoted, already a field's
    value, where it starts in its goal, copied off the page, from an earlier page's goal.  With
    foundation.read_span_flags the span head reads them (a flag moves the span's logit, and the SFT loss reaches
    their weights); without, the model has no such weights."""
    _, tok = data
    first, second = "Enter the code 4821 then the name", 'Enter "Ann" too'
    els = page(["save"]) + [Element(3, "td", "Teal", {}, (50, 100, 40, 15), 0, 1, True, "text", False)]
    filled = [e if e.id != 1 else Element(1, "input", "", {"type": "text", "id": "name", "value": "4821"},
                                          e.bbox, 0, 1, True, "input", True) for e in els]
    act1, act2 = Action.type(1, "4821"), Action.type(1, "Ann")
    ep = Episode("fields", [Step(first, els, None, act1, action_line(act1, els), expert=True),
                            Step(second, filled, None, act2, action_line(act2, filled), expert=True)])
    ex = SequenceBuilder(tok, 0).build(ep)
    flags = [dict(zip(texts, a["span_flags"])) for texts, a in zip(ex.spans, ex.acts)]
    where = first.index("4821") / len(first)
    assert flags[0]["4821"] == [0.0, 0.0, where, 0.0, 0.0, 0.0]  # not typed yet
    assert flags[1]["4821"] == [0.0, 1.0, where, 0.0, 1.0, 0.0]  # in the field now, and from the first page's goal
    assert flags[1]["Ann"] == [1.0, 0.0, second.index("Ann") / len(second), 0.0, 0.0, 0.0]
    assert flags[1]["Teal"] == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]  # copied, not worked out

    cfg = tiny_cfg("model.use_screen=false", "foundation.read_span_flags=true")
    model = FoundationModel(cfg.model, SequenceBuilder(tok, 0).vocab_size, tok.pad_id, read_span_flags=True)
    batch = collate([ex])
    compute_losses(model, batch, STAGE_TERMS["sft"])["span"].backward()
    assert model.span_flags.weight.grad is not None and model.span_flags.weight.grad.abs().sum() > 0
    rows = torch.tensor([1])
    with torch.no_grad():
        h, _ = model(batch)
        heads = model.act_heads(h, batch)
        slot = ex.acts[1]["slot"]
        args = (h, batch, rows, heads["q"][rows], torch.tensor([slot]))
        seen = model.span_logits(*args)
        batch.span_flags.zero_()
        blind = model.span_logits(*args)
    typed = ex.spans[1].index("4821")
    assert not torch.isclose(seen[0, typed], blind[0, typed])
    assert not torch.allclose(seen, blind)
    assert FoundationModel(cfg.model, SequenceBuilder(tok, 0).vocab_size, tok.pad_id).span_flags is None


def test_read_derived_offers_a_named_word_and_a_sum_and_the_span_head_reads_that_flag_alone(data):
    """foundation.read_derived: the word the goal names and a shown sum are candidates at their element's token,
    flagged as worked out (the last span flag); the span head reads that flag alone (all six with
    read_span_flags too), so the sum is told apart from the copy of its own element's text."""
    _, tok = data
    goal = "Type the 2nd word of the text, or the sum"
    els = page(["save"]) + [Element(3, "p", "alpha beta gamma", {}, (50, 100, 40, 15), 0, 1, True, "text", False),
                            Element(4, "div", "3 + 4 =", {}, (50, 130, 40, 15), 0, 1, True, "text", False)]
    act = Action.type(1, "beta")
    ep = Episode("derived", [Step(goal, els, None, act, action_line(act, els), expert=True)])
    ex = SequenceBuilder(tok, 0, read_derived=True).build(ep)
    flags = dict(zip(ex.spans[0], ex.acts[0]["span_flags"]))
    assert flags["beta"][5] == 1.0 and flags["7"][5] == 1.0 and flags["3 + 4 ="][5] == 0.0
    assert ex.acts[0]["span"] == ex.spans[0].index("beta")  # the demonstration's typed word is learnable
    word, total, copy = (ex.acts[0]["span_pos"][ex.spans[0].index(t)] for t in ("beta", "7", "3 + 4 ="))
    assert total == copy  # one element's token: only the flag tells them apart
    assert "beta" not in SequenceBuilder(tok, 0).build(ep).spans[0]
    cfg = tiny_cfg("model.use_screen=false")
    vocab = SequenceBuilder(tok, 0).vocab_size
    assert FoundationModel(cfg.model, vocab, tok.pad_id, read_derived=True).span_flags.in_features == 1
    assert FoundationModel(cfg.model, vocab, tok.pad_id, read_derived=True,
                           read_span_flags=True).span_flags.in_features == 6
    assert FoundationModel(cfg.model, vocab, tok.pad_id, read_span_flags=True).span_flags.in_features == 5
    model = FoundationModel(cfg.model, vocab, tok.pad_id, read_derived=True)
    batch = collate([ex])
    with torch.no_grad():
        h, _ = model(batch)
        heads = model.act_heads(h, batch)
        rows = torch.tensor([0])
        logits = model.span_logits(h, batch, rows, heads["q"][rows], torch.tensor([ex.acts[0]["slot"]]))
    spans = ex.spans[0]
    assert not torch.isclose(logits[0, spans.index("7")], logits[0, spans.index("3 + 4 =")])


@pytest.mark.parametrize(("value", "asked"), [("-7", 1.0), ("7", 0.0), ("", 0.0)])
def test_read_derived_flags_an_element_showing_the_value_the_goal_asks_for(data, value, asked):
    """foundation.read_derived's element flag (the last): the value is a word of the goal, sign kept; the
    substring flag before it matched "7" in "-7"."""
    _, tok = data
    goal = "Select -7 with the spinner and hit Submit."
    els = [e if e.id != 1 else Element(1, "input", "", {"type": "text", "value": value}, e.bbox, 0, 1, True, "input",
                                       True) for e in page(["save"])]
    act = Action.click(2)
    ep = Episode("spin", [Step(goal, els, None, act, action_line(act, els), expert=True)])
    ex = SequenceBuilder(tok, 0, read_derived=True).build(ep)
    row = ex.rows[0][ex.slots[0].index(1)]
    assert ex.el_flags.shape[1] == N_FLAGS + 1 and ex.el_flags[row, -1] == asked
    assert SequenceBuilder(tok, 0).build(ep).el_flags.shape[1] == N_FLAGS


def test_observation_layers_read_each_step_both_ways_and_never_across_steps(data):
    """foundation.observation_layers: a step's goal and element tokens read one another both ways (the packed
    encoder equals running each step's block alone), tokens of another step or sequence are never read, the rest
    of the sequence passes through untouched; in the model a goal token then sees its own step's fields (the causal
    trunk alone cannot: the goal comes first), the SFT loss trains the layer and the policy acts with it."""
    from strategies.foundation.model import ObservationEncoder
    from strategies.foundation.sequence import ELEMENT, GOAL

    torch.manual_seed(0)
    enc = ObservationEncoder(16, 2, 0.0, 1).eval()
    x = torch.randn(2, 9, 16)
    mask = torch.tensor([[0, 1, 1, 1, 0, 1, 1, 0, 0], [1, 1, 0, 1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    step = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1, 0, 0]])
    with torch.no_grad():
        out = enc(x, mask, step)
        assert torch.equal(out[~mask], x[~mask])
        for b, positions in ((0, [1, 2, 3]), (0, [5, 6]), (1, [0, 1]), (1, [3, 4, 5])):  # each block alone
            alone = enc.layers[0](x[b, positions].unsqueeze(0))[0]
            assert torch.allclose(out[b, positions], alone, atol=1e-5)
        moved = x.clone()
        moved[0, 5] += torch.randn(16)  # sequence 0, step 1: step 0's block and sequence 1 do not see it
        again = enc(moved, mask, step)
    assert torch.equal(again[0, :5], out[0, :5]) and torch.equal(again[1], out[1])
    assert not torch.allclose(again[0, 6], out[0, 6])

    eps, tok = data
    b = SequenceBuilder(tok, 0)
    cfg = tiny_cfg("model.use_screen=false", "foundation.observation_layers=1")
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id, observation_layers=1)
    plain = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    assert plain.observation is None and not any(k.startswith("observation") for k in plain.state_dict())
    ex = b.build(Episode("one", eps[0].steps[:1]))
    batch = collate([ex])
    goal = (batch.ttype[0] == GOAL).nonzero()[:, 0]
    elements = batch.elem_ref[0][batch.ttype[0] == ELEMENT]
    assert goal.numel() and elements.numel() and goal.max() < (batch.ttype[0] == ELEMENT).nonzero()[:, 0].min()
    with torch.no_grad():
        h_model, h_plain = model(batch)[0][0, goal], plain(batch)[0][0, goal]
        batch.el_box[elements] += torch.rand_like(batch.el_box[elements])  # move the step's fields
        assert not torch.allclose(model(batch)[0][0, goal], h_model)
        assert torch.allclose(plain(batch)[0][0, goal], h_plain)  # causal alone: the goal cannot see them
    batch = collate([b.build(e) for e in eps[:2]])
    weighted_total(compute_losses(model, batch, STAGE_TERMS["sft"]), {}).backward()
    grads = [p.grad for p in model.observation.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    live = [Episode(e.task, [Step(e.steps[0].instruction, e.steps[0].elements)]) for e in eps[:2]]
    decisions = Policy(model.eval(), b, top_k=3).decide(live)
    assert all(abs(sum(d.priors) - 1) < 1e-6 for d in decisions)


def test_read_position_gives_elements_their_box_centres_fourier_features(data):
    """foundation.read_position: fourier_position is sin/cos of the box centre at each frequency (hand-made box);
    with the option the element encoder reads them, so two fields a Linear of the box keeps almost alike (a few
    pixels apart) move further apart than without it; off builds no module (old checkpoints load); the SFT loss
    trains it and the policy acts with it; the composed config carries it to the module."""
    from components.position import FEATURES, FREQUENCIES, fourier_position
    from strategies.foundation.module import FoundationModule

    f = fourier_position(torch.tensor([[0.25, 0.0, 0.5, 0.5]]))  # centre (0.5, 0.25)
    assert f.shape == (1, FEATURES)
    ax, ay = (torch.tensor([c * k * torch.pi for k in FREQUENCIES]) for c in (0.5, 0.25))
    assert torch.allclose(f[0], torch.cat([ax.sin(), ax.cos(), ay.sin(), ay.cos()]), atol=1e-6)

    eps, tok = data
    b = SequenceBuilder(tok, 0)
    cfg = tiny_cfg("model.use_screen=false", "foundation.read_position=true")
    torch.manual_seed(0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id, read_position=True)
    torch.manual_seed(0)
    plain = FoundationModel(cfg.model, b.vocab_size, tok.pad_id)
    assert plain.elements.position is None and not any(".position." in k for k in plain.state_dict())
    assert set(model.state_dict()) - set(plain.state_dict()) == {"elements.position.weight", "elements.position.bias"}
    n = 2
    text, tag, cat = torch.zeros(n, 4, dtype=torch.long), torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
    flags = torch.zeros(n, model.elements.flags.in_features)
    box = torch.tensor([[0.40, 0.5, 0.1, 0.05], [0.43, 0.5, 0.1, 0.05]])  # 3% of the page apart
    with torch.no_grad():
        gap = lambda m: float((m.elements(text, tag, cat, box, flags)[0] - m.elements(text, tag, cat, box, flags)[1]).norm())  # noqa: E731
        assert gap(model) > 2 * gap(plain)
    batch = collate([b.build(e) for e in eps[:2]])
    weighted_total(compute_losses(model, batch, STAGE_TERMS["sft"]), {}).backward()
    assert float(model.elements.position.weight.grad.abs().sum()) > 0
    live = [Episode(e.task, [Step(e.steps[0].instruction, e.steps[0].elements)]) for e in eps[:2]]
    decisions = Policy(model.eval(), b, top_k=3).decide(live)
    assert all(abs(sum(d.priors) - 1) < 1e-6 for d in decisions)
    module = FoundationModule(cfg, "sft", b.vocab_size, tok.pad_id, tokenizer_json="{}")
    assert module.model.elements.position is not None


def test_centre_keys_takes_the_candidates_shared_part_out_of_both_pointers(data):
    """foundation.centre_keys: centred_keys subtracts the mean of the allowed candidates only (hand-made keys); with
    it a part every element key shares, or every span key, changes no pointer logit (without it it does); it adds
    no weights; the SFT loss and the policy run with it; the composed config reaches the model."""
    from components.heads import centred_keys
    from strategies.foundation.module import FoundationModule

    keys = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(centred_keys(keys, torch.tensor([[True, True, False]])),
                       torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [98.0, 97.0]]]))

    eps, tok = data
    b = SequenceBuilder(tok, 0)
    cfg = tiny_cfg("model.use_screen=false", "foundation.centre_keys=true")
    torch.manual_seed(0)
    model = FoundationModel(cfg.model, b.vocab_size, tok.pad_id, centre_keys=True).eval()
    torch.manual_seed(0)
    plain = FoundationModel(cfg.model, b.vocab_size, tok.pad_id).eval()
    assert set(model.state_dict()) == set(plain.state_dict())
    batch = collate([b.build(e) for e in eps[:2]])
    with torch.no_grad():
        h = model(batch)[0]
        shifted = h.clone()
        shifted[batch.act_b.unsqueeze(1), batch.elem_pos.clamp(min=0)] += torch.randn(model.dim)  # every element key
        mask = batch.elem_pos >= 0
        for m, same in ((model, True), (plain, False)):
            a, c = m.act_heads(h, batch)["pointer"], m.act_heads(shifted, batch)["pointer"]
            assert torch.allclose(a[mask], c[mask], atol=1e-4) == same
        rows = torch.tensor([r for r, n in enumerate((batch.span_pos >= 0).any(-1).sum(-1).tolist()) if n > 1])
        assert rows.numel()
        heads = model.act_heads(h, batch)
        first_slot = torch.zeros_like(rows)
        spans = batch.span_pos[rows]
        moved = h.clone()
        moved[batch.act_b[rows].view(-1, 1, 1), spans.clamp(min=0)] += torch.randn(model.dim)  # every span token
        valid = (spans >= 0).any(-1)
        for m, same in ((model, True), (plain, False)):
            a = m.span_logits(h, batch, rows, heads["q"][rows], first_slot)
            c = m.span_logits(moved, batch, rows, heads["q"][rows], first_slot)
            assert torch.allclose(a[valid], c[valid], atol=1e-4) == same
    weighted_total(compute_losses(model.train(), batch, STAGE_TERMS["sft"]), {}).backward()
    assert float(model.pointer.key[1].weight.grad.abs().sum()) > 0
    live = [Episode(e.task, [Step(e.steps[0].instruction, e.steps[0].elements)]) for e in eps[:2]]
    decisions = Policy(model.eval(), b, top_k=3).decide(live)
    assert all(abs(sum(d.priors) - 1) < 1e-6 for d in decisions)
    assert FoundationModule(cfg, "sft", b.vocab_size, tok.pad_id, tokenizer_json="{}").model.centre_keys
