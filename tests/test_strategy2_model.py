"""Strategy 2: featurizer, factored action space and optional screen tokens on hand-made pages (no browser)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from strategies.compressive_rl.features import NUM_FEATURES, Featurizer, stack
from zoo.web.context import CONTEXT_CAP, CONTEXT_LEVELS, context_overlap, context_texts, words
from strategies.compressive_rl.model import trim_padding
from strategies.compressive_rl.module import PPOModule
from strategies.compressive_rl.policy import SELECT, TYPE
from strategies.compressive_rl.rollout import policy_step, to_action, to_tensors
from strategies.compressive_rl.tokenizer import tokenizer_to_json, train_tokenizer
from zoo.config import compose
from zoo.web.types import Element, Observation


def el(i, tag, text, cat, actionable, y=0.0, options=(), **attrs):
    return Element(i, tag, text, dict(attrs), (5.0, float(y), 50.0, 15.0), 0 if i else -1, 1 if i else 0, True, cat,
                   actionable, list(options))


def form_page(shot: bool = False) -> Observation:
    instr = 'Enter "Kasey" into the text field, pick "blue" and press Submit.'
    els = [el(0, "body", "", "style", False), el(1, "div", instr, "text", False, id="query"),
           el(2, "input", "", "input", True, 40, type="text", value=""),
           el(3, "select", "", "input", True, 60, options=["red", "blue"]),
           el(4, "button", "Submit", "action", True, 80), el(5, "span", "lorem ipsum", "text", False, 100)]
    screenshot = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8) if shot else None
    return Observation("form", instr, els, screenshot, "form", 0)


def module_for(pages, *overrides) -> PPOModule:
    cfg = compose(["strategy=2", "model.dim=32", "model.n_heads=2", "model.vocab_size=300", *overrides],
                  validate_choices=False)
    tok = train_tokenizer(pages * 4, 300)
    return PPOModule(cfg, tokenizer_to_json(tok))


def test_featurizer_masks_spans_and_overlap():
    page = form_page()
    f = module_for([page]).featurizer(page)
    a = f.arrays
    assert f.el_slots == [0, 1, 2, 3, 4, 5]
    assert a["el_click"].tolist()[:6] == [False, False, True, True, True, False]
    assert a["el_type"].tolist()[:6] == [False, False, True, False, False, False]
    assert a["el_select"].tolist()[:6] == [False, False, False, True, False, False]
    assert f.spans[:2] == ["Kasey", "blue"]  # quoted strings first, case kept for typing
    assert a["span_num"][0, 0] == 1.0 and a["span_w"][0].sum() > 0
    assert f.options == ["red", "blue"] and a["opt_owner"][:2].tolist() == [3, 3]
    assert a["opt_num"][1, 0] == 1.0 and a["opt_num"][0, 0] == 0.0  # "blue" is quoted in the instruction
    submit = a["el_num"][4]
    assert submit[9] == 1.0  # every word of "Submit" occurs in the instruction


def test_featurizer_reads_whether_a_checkbox_is_ticked():
    """A click on a checkbox changes only its ``checked`` attribute: the agent must see it to know what is done."""
    instr = "Select AU, HF2 and click Submit."

    def page(ticked: str) -> Observation:
        els = [el(0, "div", "", "style", False), el(1, "label", "AU", "input", True, 20),
               el(2, "input", "", "input", True, 20, type="checkbox", checked=ticked, label="AU"),
               el(3, "button", "Submit", "action", True, 60)]
        return Observation("checkboxes", instr, els, None, "checkboxes", 0)

    before, after = page("false"), page("true")
    featurize = module_for([before]).featurizer
    was, now = featurize(before).arrays["el_num"], featurize(after).arrays["el_num"]
    assert was[2, -1] == 0.0 and now[2, -1] == 1.0
    assert np.array_equal(np.delete(was, -1, axis=1), np.delete(now, -1, axis=1))  # nothing else tells them apart
    assert now[[0, 1, 3], -1].tolist() == [0.0, 0.0, 0.0]


def test_featurizer_reads_a_state_the_page_keeps_in_a_class():
    """With ppo.read_class: odd-or-even marks the chosen button with the class "selected" and social-media-some a
    liked post's button with "active": nothing else on the page changes, so without it the click left no trace."""
    instr = "Mark the numbers below as odd or even and press submit when done."

    def page(chosen: str) -> Observation:
        els = [el(0, "div", "", "style", False), el(1, "button", "Odd", "action", True, 20, **{"class": chosen}),
               el(2, "div", "3", "text", False, 20, **{"class": "display-number"}),
               el(3, "button", "Even", "action", True, 20, **{"class": "even"}),
               el(4, "button", "Submit", "action", True, 60, id="submit")]
        return Observation("odd-or-even", instr, els, None, "odd-or-even", 0)

    before, after = page("odd"), page("odd selected")
    module = module_for([before, after], "ppo.read_class=true")
    was, now = module.featurizer(before).arrays, module.featurizer(after).arrays
    assert not np.array_equal(was["el_class"][1], now["el_class"][1])
    for key in was:
        if key != "el_class":
            assert np.array_equal(was[key], now[key]), key  # the class is the only trace of the click
    assert np.array_equal(np.delete(was["el_class"], 1, axis=0), np.delete(now["el_class"], 1, axis=0))
    assert (was["el_class"][0] == module.featurizer.pad).all()  # no class: padding
    enc = module.model.encoder
    with torch.no_grad():
        out = [enc(trim_padding(to_tensors(stack([f]), torch.device("cpu")), enc.pad_id)).elements[0, 1]
               for f in (was, now)]
    assert not torch.allclose(*out)  # the encoder reads it
    plain = module_for([before, after])  # the default (ppo.read_class=false) has no such input
    assert "el_class" not in plain.featurizer(after).arrays
    assert plain.model.encoder.element[0].in_features == 5 * 32


def posts_page(user: str) -> Observation:
    """social-media's shape by hand: three posts (div > name span + empty retweet button), the instruction naming
    one user; the buttons' own texts and classes are all alike."""
    instr = f"For the user @{user}, click on the Retweet button."
    els = [Element(0, "div", "", {}, (0.0, 0.0, 160.0, 200.0), -1, 0, True, "style", False)]
    for k, name in enumerate(["molestie", user, "truman"]):
        post = len(els)
        els.append(Element(post, "div", "", {"class": "media"}, (0.0, 60.0 * k, 160.0, 60.0), 0, 1, True, "style", False))
        els.append(Element(post + 1, "span", f"@{name}", {"class": "username"}, (5.0, 60.0 * k, 50.0, 10.0), post, 2,
                           True, "text", False))
        els.append(Element(post + 2, "span", "", {"class": "retweet"}, (5.0, 60.0 * k + 40, 14.0, 14.0), post, 2,
                           True, "action", True))
    return Observation("social-media", instr, els, None, "social-media", 0)


def test_context_overlap_by_hand():
    """The named user's post holds "kasey" (in one text: weight 1) and the instruction's other words nowhere, so its
    button reads 1 / CONTEXT_CAP at its parent and the other buttons 0; at the root (their grandparent), which holds
    every matched word, all three read the same; past the root, 0."""
    page = posts_page("kasey")
    got = context_overlap(page.elements, set(words(page.instruction)))
    assert got[6] == pytest.approx([1 / CONTEXT_CAP, 1 / CONTEXT_CAP, 0.0, 0.0])  # the named post's button
    assert got[3] == got[9] == pytest.approx([0.0, 1 / CONTEXT_CAP, 0.0, 0.0])  # the others: only the root holds it
    assert got[0] == [0.0] * CONTEXT_LEVELS  # the root has no ancestor
    # a word two texts hold weighs a half in each: a second "@kasey" post halves what each of them reads
    twice = posts_page("kasey")
    twice.elements[2] = Element(2, "span", "@kasey", {"class": "username"}, (5.0, 0.0, 50.0, 10.0), 1, 2, True,
                                "text", False)
    again = context_overlap(twice.elements, set(words(twice.instruction)))
    assert again[3][0] == again[6][0] == pytest.approx(0.5 / CONTEXT_CAP) and again[9][0] == 0.0
    # an invisible text counts for nothing (social-media's hidden "Mute @user" menus)
    hidden = posts_page("kasey")
    hidden.elements[5] = Element(5, "span", "@kasey", {}, (0.0, 0.0, 0.0, 0.0), 4, 2, False, "text", False)
    assert context_overlap(hidden.elements, set(words(hidden.instruction)))[6][0] == 0.0


def test_context_texts_by_hand():
    """An icon button reads its post's texts (its parent's, the nearest with any); the named span, whose own text is
    its post's only one, reads the page's other texts one level up; an unlabelled field in a table row reads the row's
    header; nothing past ``levels`` ancestors."""
    page = posts_page("kasey")
    around = context_texts(page.elements)
    assert around[3] == "@molestie" and around[6] == "@kasey"
    assert around[5] == "@molestie @truman"  # the span's post holds only itself: the root's other texts
    assert around[0] == ""  # no ancestor
    row = [Element(0, "table", "", {}, (0.0, 0.0, 100.0, 20.0), -1, 0, True, "style", False),
           Element(1, "tr", "", {}, (0.0, 0.0, 100.0, 20.0), 0, 1, True, "style", False),
           Element(2, "th", "Year", {}, (0.0, 0.0, 40.0, 20.0), 1, 2, True, "text", False),
           Element(3, "td", "", {}, (40.0, 0.0, 60.0, 20.0), 1, 2, True, "style", False),
           Element(4, "input", "", {}, (40.0, 0.0, 60.0, 20.0), 3, 3, True, "input", True)]
    assert context_texts(row)[4] == "Year"
    assert context_texts(row, levels=1)[4] == ""  # the cell alone holds nothing else


def test_the_encoder_reads_the_context_only_when_asked():
    page = posts_page("kasey")
    module = module_for([page], "ppo.read_context=true")
    f = module.featurizer(page)
    slot = f.el_slots.index(6)
    assert f.arrays["el_context"][slot].tolist() == pytest.approx([1 / CONTEXT_CAP, 1 / CONTEXT_CAP, 0.0, 0.0])
    moved = module.featurizer(posts_page("truman")).arrays  # the same page naming the last post's user
    enc = module.model.encoder
    with torch.no_grad():
        out = [enc(trim_padding(to_tensors(stack([a]), torch.device("cpu")), enc.pad_id)).elements[0, slot]
               for a in (f.arrays, moved)]
    assert not torch.allclose(*out)
    plain = module_for([page])
    assert "el_context" not in plain.featurizer(page).arrays
    assert f.arrays["el_around"][slot].tolist() == f.arrays["el_text"][f.el_slots.index(5)].tolist()  # "@kasey"
    assert "el_around" not in plain.featurizer(page).arrays
    assert plain.model.encoder.num.in_features == NUM_FEATURES
    assert enc.num.in_features == NUM_FEATURES + CONTEXT_LEVELS
    assert enc.element[0].in_features == plain.model.encoder.element[0].in_features + 32  # one more pooled text


@pytest.mark.parametrize(("instruction", "quoted"), [
    ("Type the user's code 'abc' here.", ["abc"]),  # the apostrophe does not open a quote
    ("It's Bob's 'x y' and 'z'.", ["x y", "z"]),
    ('Enter "Myron" and \u201cAnn\u201d.', ["Myron", "Ann"]),
    ("Don't click, it's fine.", []),
])
def test_quoted_spans_are_not_fooled_by_apostrophes(instruction, quoted):
    from strategies.compressive_rl.features import Featurizer

    assert [t for t, _, _, q in Featurizer.candidate_spans(instruction) if q] == quoted


def test_featurizer_keeps_actionable_elements_when_the_page_is_too_long():
    page = form_page()
    filler = [el(6 + i, "p", f"filler text {i}", "text", False, 120 + i) for i in range(40)]
    page.elements = page.elements + filler
    tok = train_tokenizer([page], 300)
    f = Featurizer(tok, max_elements=8)(page)
    assert {2, 3, 4} <= set(f.el_slots) and len(f.el_slots) == 8


def test_actions_map_back_to_elements_and_strings():
    page = form_page()
    f = module_for([page]).featurizer(page)
    assert str(to_action(f, np.array([2, TYPE, 0]))) == "type(2, 'Kasey')"
    assert str(to_action(f, np.array([3, SELECT, 1]))) == "select(3, 'blue')"
    assert str(to_action(f, np.array([4, 0, 0]))) == "click(4)"
    assert to_action(f, np.array([40, 0, 0])).kind == "noop"  # a padding slot (empty page) does nothing


def test_sampled_actions_respect_masks_and_log_probs_match():
    torch.manual_seed(0)
    page = form_page()
    m = module_for([page])
    batch = to_tensors(stack([m.featurizer(page).arrays] * 64), "cpu")
    state = m.model.init_state(64, torch.device("cpu"))
    dist, _ = policy_step(m.model, batch, state, torch.ones(64, dtype=torch.bool))
    slots, kinds = dist.slot[:, 0], dist.slot[:, 1]
    assert set(slots.tolist()) <= {2, 3, 4}
    assert (kinds[slots != 2] != TYPE).all() and (kinds[slots != 3] != SELECT).all()
    assert (dist.slot[kinds == SELECT, 2] <= 1).all()
    with torch.no_grad():  # the same (trimmed) inputs as policy_step: trimming's own rounding is tested apart
        trimmed = trim_padding(batch, m.model.encoder.pad_id)
        enc = m.model.encoder(trimmed)
        h, _ = m.model.core.step(enc.summary, state, torch.ones(64, dtype=torch.bool))
        again = m.model.heads(h, enc, trimmed, actions=dist.slot)
    # relative tolerance: in a full-suite process the two passes once differed by 1e-4 on log-probs near -4
    # (float summation order); another sampled action's log-prob differs by 7e-3 or more on this page
    assert torch.allclose(again.logp, dist.logp, rtol=1e-4, atol=1e-5)
    assert (dist.entropy > 0).all()


@pytest.mark.parametrize("tokenizer", ["patch", "vq"])
def test_screen_tokens_enter_the_observation(tokenizer):
    torch.manual_seed(0)
    page = form_page(shot=True)
    m = module_for([page], "model.use_screen=true", f"model.tokenizer={tokenizer}", "env.screenshot=true")
    arrays = m.featurizer(page).arrays
    assert arrays["screen"].shape == (3, 64, 64) and arrays["screen"].dtype == np.uint8
    black = dict(arrays, screen=np.zeros_like(arrays["screen"]))
    with torch.no_grad():
        a = m.model.encoder(to_tensors(stack([arrays]), "cpu"))
        b = m.model.encoder(to_tensors(stack([black]), "cpu"))
    assert not torch.allclose(a.summary, b.summary)  # the pixels reach the summary token
    assert a.aux_loss.dim() == 0


@pytest.mark.parametrize("bptt", [True, False])
def test_xl_replay_memory_gradient_uses_blocks_only_through_forward(bptt):
    """ppo.bptt: the loss at the last step reaches earlier steps' inputs through the XL memory, and
    the memory rows are taken inside each Block's forward (the FSDP rule: norm1 runs once per Block call)."""
    from strategies.compressive_rl.model import MemoryCore

    cfg = compose(["strategy=2", "model.attention=xl", "model.dim=16", "model.n_layers=2", "model.n_heads=2"],
                  validate_choices=False)
    torch.manual_seed(0)
    core = MemoryCore(cfg.model, bptt=bptt)
    calls = {"block": 0, "norm1": 0}
    for blk in core.trunk.blocks:
        blk.register_forward_pre_hook(lambda *_: calls.__setitem__("block", calls["block"] + 1))
        blk.norm1.register_forward_pre_hook(lambda *_: calls.__setitem__("norm1", calls["norm1"] + 1))
    x = torch.randn(4, 3, 16, requires_grad=True)
    starts = torch.zeros(4, 3, dtype=torch.bool)
    starts[0] = True
    y = core.unroll(x, core.init_state(3, torch.device("cpu")), starts)
    (y[-1] * torch.randn(3, 16)).sum().backward()  # (a plain sum of a LayerNorm output has no gradient)
    # with bptt the whole rollout goes through each Block in one call (MemoryCore.unroll_at_once)
    assert calls["norm1"] == calls["block"] == (1 if bptt else 4) * 2
    assert bool(x.grad[:-1].abs().sum() > 0) == bptt  # earlier steps reached; without bptt memory is a stop-gradient


def test_trimming_the_padding_leaves_every_distribution_unchanged():
    """trim_padding drops element slots after the last filled one and instruction tokens after the last
    real one: log-probs, entropies and values of given actions, and the argmax, equal the padded batch's."""

    pages = [form_page(), form_page()]
    pages[1].elements = pages[1].elements[:4]  # a shorter page in the same batch
    module = module_for(pages)
    model = module.model.eval()
    batch = to_tensors(stack([module.featurizer(p).arrays for p in pages]), torch.device("cpu"))
    trimmed = trim_padding(batch, model.encoder.pad_id)
    assert trimmed["el_valid"].shape[-1] == 6 < batch["el_valid"].shape[-1]
    assert trimmed["instr_ids"].shape[-1] < batch["instr_ids"].shape[-1]
    actions = torch.tensor([[2, TYPE, 0], [3, SELECT, 1]])
    with torch.no_grad():
        out = []
        for b in (batch, trimmed):
            enc = model.encoder(b)
            h, _ = model.core.step(enc.summary, model.init_state(2, torch.device("cpu")), torch.ones(2, dtype=torch.bool))
            out.append((model.heads(h, enc, b, actions=actions), model.heads(h, enc, b, greedy=True)))
    (full, full_greedy), (cut, cut_greedy) = out
    for name in ("logp", "entropy", "value"):
        torch.testing.assert_close(getattr(cut, name), getattr(full, name), rtol=1e-5, atol=1e-5)
    assert torch.equal(cut_greedy.slot, full_greedy.slot)


@pytest.mark.parametrize(("mem_len", "gated"), [(64, False), (3, False), (3, True)])
def test_xl_rollout_at_once_matches_step_by_step(mem_len, gated):
    """MemoryCore.unroll (every step of the rollout through each xl Block in one call) against
    unroll_stepwise (one token per call, memory carried and cleared at episode starts): same outputs
    and same gradients for the inputs and every weight.  Hand-made starts: an env that starts at step 0
    and again mid-way, one that never starts (start memory seen throughout), one starting twice in a
    row; the start memory has empty slots; mem_len=3 < T puts the window's edge inside the rollout."""
    from strategies.compressive_rl.model import MemoryCore

    cfg = compose(["strategy=2", "model.attention=xl", f"model.attention.mem_len={mem_len}", "model.dim=16",
                   "model.n_layers=2", "model.n_heads=2", f"model.gated_residual={str(gated).lower()}"],
                  validate_choices=False)
    torch.manual_seed(0)
    core = MemoryCore(cfg.model, bptt=True)
    assert core.unroll_at_once
    with torch.no_grad():
        for blk in core.trunk.blocks:
            blk.attn.rel_bias.normal_()  # zero-initialised: a random bias checks the distances line up
    T, B = 7, 3
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[0, 0] = starts[4, 0] = True
    starts[2, 2] = starts[3, 2] = True
    state = [torch.randn(B, mem_len, 16) for _ in core.trunk.blocks]
    for mem in state:
        mem[:, : mem_len // 2] = 0.0  # empty slots (a memory not yet full)
    x = torch.randn(T, B, 16)
    weights = torch.randn(T, B, 16)
    results = []
    for unroll in (core.unroll, core.unroll_stepwise):
        core.zero_grad()
        xi = x.clone().requires_grad_()
        y = unroll(xi, state, starts)
        (y * weights).sum().backward()
        grads = {n: p.grad.clone() for n, p in core.named_parameters()}
        results.append((y.detach(), xi.grad, grads))
    (y, gx, gw), (y_ref, gx_ref, gw_ref) = results
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-5)
    assert gx_ref[:3, 1].abs().sum() > 0  # the env without a start: later losses reach earlier steps
    for name, g in gw_ref.items():
        torch.testing.assert_close(gw[name], g, rtol=1e-4, atol=1e-5, msg=name)


def test_pooled_text_is_the_masked_mean_of_token_embeddings():
    """ObservationEncoder.pooled_text (one embedding_bag) against the mean of the non-pad token
    embeddings, values and gradients; an all-pad text pools to 0."""
    def masked_mean(x, mask, dim):
        w = mask.to(x.dtype).unsqueeze(-1)
        return (x * w).sum(dim) / w.sum(dim).clamp(min=1.0)

    m = module_for([form_page()]).model.encoder
    pad = m.pad_id
    torch.manual_seed(0)
    ids = torch.randint(0, m.tok.num_embeddings, (2, 5, 7))
    ids[ids == pad] = (pad + 1) % m.tok.num_embeddings
    ids[0, 1] = pad  # an empty text
    ids[1, :, 4:] = pad  # padded texts
    ids[1, 2, 0] = pad  # a pad token before real ones
    w = torch.randn(2, 5, m.tok.embedding_dim)
    got = m.pooled_text(ids)
    (g_got,) = torch.autograd.grad((got * w).sum(), m.tok.weight)
    ref = masked_mean(m.tok(ids), ids != pad, dim=-2)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), m.tok.weight)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-5, atol=1e-6)
    assert got[0, 1].abs().max() == 0


@pytest.mark.parametrize("mem_len", [3, 0])
def test_xl_acting_step_matches_the_xl_layer(mem_len):
    """XLAttention's acting path (one token, no gradient: an explicit softmax) against its blockwise
    path (the same call with gradients on): same output and same next memory, with empty slots."""
    from components.attention.xl import XLAttention
    from strategies.compressive_rl.model import MemoryCore

    cfg = compose(["strategy=2", "model.attention=xl", f"model.attention.mem_len={mem_len}", "model.dim=16",
                   "model.n_layers=1", "model.n_heads=2"], validate_choices=False)
    torch.manual_seed(0)
    attn = MemoryCore(cfg.model).trunk.blocks[0].attn
    assert type(attn) is XLAttention
    with torch.no_grad():
        attn.rel_bias.normal_()
    state = torch.randn(3, mem_len, 16)
    state[0] = 0.0  # an empty memory (episode start)
    state[1, :1] = 0.0  # a memory not yet full
    x = torch.randn(3, 1, 16)
    with torch.no_grad():
        y, mem = attn(x, state)
    y_ref, mem_ref = attn(x, state)  # gradients on: the blockwise kernel
    torch.testing.assert_close(y, y_ref.detach(), rtol=1e-5, atol=1e-6)
    assert torch.equal(mem, mem_ref) and mem.shape == (3, mem_len, 16)


def test_page_texts_and_clock_times_are_typing_candidates_and_labels_name_controls():
    """A cell on the page is a candidate after the instruction's spans, encoded as its element's slot; a clock
    time is one candidate; a checkbox without text is read by its label."""
    instr = "Enter the value of Color at 5:09 PM into the text field"
    els = [el(0, "body", "", "style", False), el(1, "input", "", "input", True, 20, type="text", value=""),
           el(2, "td", "Color", "text", False, 40), el(3, "td", "Teal", "text", False, 40),
           el(4, "input", "", "input", True, 60, type="checkbox", label="Teal")]
    page = Observation("table", instr, els, None, "table", 0)
    m = module_for([page])
    f = m.featurizer(page)
    a = f.arrays
    assert f.spans[0] == "5:09 PM" and f.spans[-1] == "Teal" and "Color" in f.spans[:-1]
    k = f.spans.index("Teal")
    assert a["span_el"][k] == f.el_slots.index(3) and a["span_num"][k, 3] == 1.0 and a["span_w"][k].sum() == 0
    assert (a["span_el"][:k] == -1).all() and a["span_valid"][: k + 1].all()
    box = f.el_slots.index(4)
    assert (a["el_text"][box] == a["el_text"][f.el_slots.index(3)]).all()  # "Teal", from its label
    assert str(to_action(f, np.array([1, TYPE, k]))) == "type(1, 'Teal')"
    # the page text's encoding is its element's, so the type head can tell cells apart
    batch = to_tensors(stack([a]), "cpu")
    with torch.no_grad():
        enc = m.model.encoder(batch)
    assert not torch.allclose(enc.spans[0, k], m.model.encoder.span_num(batch["span_num"])[0, k])


def test_read_derived_offers_worked_out_texts_at_their_element_with_a_column_saying_so():
    """ppo.read_derived: the word the instruction names and a shown sum become typing candidates, first of the
    page's, each encoded as the element it came from, with one more span_num column (1 for them, 0 for the
    copy of the sum's own text, which shares its element); the span head reads that column, and a policy step
    can type them.  Without the option neither is a candidate and span_num keeps its five columns."""
    instr = "Find the 3rd word in the paragraph and type it, or the answer to the sum, then press Submit."
    els = [el(0, "body", "", "style", False), el(1, "p", "Lorem ipsum, dolor sit amet.", "text", False, 20),
           el(2, "div", "7 x 6 =", "text", False, 40), el(3, "input", "", "input", True, 60, type="text"),
           el(4, "button", "Submit", "action", True, 80)]
    page = Observation("derived", instr, els, None, "derived", 0)
    m = module_for([page], "ppo.read_derived=true")
    f = m.featurizer(page)
    a = f.arrays
    assert a["span_num"].shape[1] == 6 and m.model.encoder.span_num.in_features == 6
    k_word, k_sum, k_copy = f.spans.index("dolor"), f.spans.index("42"), f.spans.index("7 x 6 =")
    assert k_word < k_sum < k_copy  # worked out first, named words before sums
    assert a["span_el"][k_word] == f.el_slots.index(1) and a["span_el"][k_sum] == a["span_el"][k_copy]
    assert a["span_num"][[k_word, k_sum, k_copy], 5].tolist() == [1.0, 1.0, 0.0]
    assert (a["span_num"][: k_word, 5] == 0).all()  # the instruction's own spans
    assert str(to_action(f, np.array([f.el_slots.index(3), TYPE, k_sum]))) == "type(3, '42')"
    batch = to_tensors(stack([a]), "cpu")
    with torch.no_grad():
        enc = m.model.encoder(batch)
    assert not torch.allclose(enc.spans[0, k_sum], enc.spans[0, k_copy])  # told apart though one element
    plain = module_for([page]).featurizer(page)
    assert plain.arrays["span_num"].shape[1] == 5 and "dolor" not in plain.spans and "42" not in plain.spans


@pytest.mark.parametrize(("value", "asked"), [("-7", 1.0), ("7", 0.0), ("0", 0.0), ("", 0.0)])
def test_read_derived_tells_a_field_showing_the_asked_value(value, asked):
    """ppo.read_derived's element column: the field's value is one the instruction asks for, sign kept (the
    value flag beside it compares with quoted texts only, and the instruction quotes nothing here)."""
    instr = "Select -7 with the spinner and hit Submit."
    els = [el(0, "body", "", "style", False), el(1, "input", "", "input", True, 20, type="text", value=value),
           el(2, "button", "Submit", "action", True, 40)]
    page = Observation("spin", instr, els, None, "spin", 0)
    m = module_for([page], "ppo.read_derived=true")
    a = m.featurizer(page).arrays
    assert a["el_value_asked"][:, 0].tolist()[:3] == [0.0, asked, 0.0]
    assert m.model.encoder.num.in_features == NUM_FEATURES + 1
    batch = to_tensors(stack([a]), "cpu")
    with torch.no_grad():
        seen = m.model.encoder(batch).elements
        batch["el_value_asked"] = 1.0 - batch["el_value_asked"]
        flipped = m.model.encoder(batch).elements
    assert not torch.allclose(seen[0, 1], flipped[0, 1])
    assert "el_value_asked" not in module_for([page]).featurizer(page).arrays


def test_page_texts_get_at_most_half_the_candidates_when_the_instruction_is_long():
    instr = " ".join(f"word{i}" for i in range(20))
    els = [el(0, "body", "", "style", False), el(1, "input", "", "input", True, 20, type="text")]
    els += [el(2 + i, "td", f"cell{i}", "text", False, 40 + i) for i in range(12)]
    page = Observation("long", instr, els, None, "long", 0)
    tok = train_tokenizer([page], 300)
    f = Featurizer(tok, max_spans=16)(page)
    assert f.spans == [f"word{i}" for i in range(8)] + [f"cell{i}" for i in range(8)]
    short = Observation("short", "type a cell", els, None, "short", 0)
    assert Featurizer(tok, max_spans=16)(short).spans == ["type", "a", "cell"] + [f"cell{i}" for i in range(12)]


@pytest.mark.parametrize(("kind", "instruction", "text"), [
    ("date", "Enter 05/20/2010 as the date and hit submit.", "05/20/2010"),
    ("time", "Enter 4:09 AM as the time and press submit.", "4:09 AM"),
    ("text", "Enter 'Kasey' into the field.", "Kasey"),
])
def test_date_and_time_fields_take_typed_text_as_in_every_strategy(kind, instruction, text):
    """Strategy 2 types where the shared rule (``Element.typable``, Strategy 1's and the action-space probe's)
    says a field takes text: its own list of input types once left out date and time fields, so the oracle's
    one typing step of enter-date / enter-time was outside its behaviour cloning and its type head."""
    from strategies.compressive_rl.bc import oracle_slots
    from zoo.web.types import Action

    els = [el(0, "body", "", "style", False), el(1, "div", instruction, "text", False, id="query"),
           el(2, "input", "", "input", True, 40, type=kind, value=""),
           el(3, "input", "", "input", True, 60, type="checkbox"), el(4, "button", "Submit", "action", True, 80)]
    page = Observation(kind, instruction, els, None, kind, 0)
    f = module_for([page]).featurizer(page)
    typable = [f.arrays["el_type"][f.el_slots.index(e.id)] for e in els]
    assert typable == [e.actionable and e.typable for e in els] == [False, False, True, False, False]
    slot, kind_index, arg = oracle_slots(f, Action.type(2, text))
    assert (slot, kind_index, f.spans[arg]) == (f.el_slots.index(2), TYPE, text)
    assert str(to_action(f, np.array([slot, kind_index, arg]))) == str(Action.type(2, text))


def test_a_checkpoint_saved_before_later_options_loads_with_their_defaults(tmp_path):
    """A checkpoint whose saved ppo group lacks the options added after it was written (the observation flags, the
    extra heads) loads, and each of them reads its dataclass default (off), as the code has no fallback of its
    own; a group holding a named variant (model.attention) keeps exactly the saved keys."""
    from strategies.compressive_rl.agent import load_agent
    from strategies.compressive_rl.config import CompressiveRLRunConfig
    from zoo.core.checkpoints import saved_run_config

    page = form_page()
    module = module_for([page])
    cfg = dict(module.hparams["cfg"])
    later = ("read_class", "read_context", "read_derived", "press_keys", "noop", "noop_limit", "act_groups")
    cfg["ppo"] = {k: v for k, v in cfg["ppo"].items() if k not in later}
    ckpt = {"state_dict": module.state_dict(), "hyper_parameters": {"strategy": 2, "cfg": cfg},
            "tokenizer_json": module.tokenizer_json, "global_step": 1}
    torch.save(ckpt, tmp_path / "older.ckpt")
    agent = load_agent(tmp_path / "older.ckpt")
    assert torch.equal(agent.model.encoder.num.weight, module.model.encoder.num.weight)
    filled = saved_run_config(cfg, CompressiveRLRunConfig, "ppo")
    assert [filled.ppo[k] for k in later] == [False, False, False, False, False, 0, 1]
    assert dict(filled.model.attention) == dict(cfg["model"]["attention"])  # nothing outside ppo is added


def test_a_checkpoint_of_another_model_shape_is_one_line(tmp_path):
    """A checkpoint from a version whose observation had one feature fewer (el_num had 14 before the ticked flag)
    is refused with one line naming the first tensor that differs, not torch's list of every mismatch."""
    from strategies.compressive_rl.agent import load_agent
    from zoo.core.checkpoints import InvalidCheckpoint, load_weights

    page = form_page()
    module = module_for([page])
    state = {k: v.clone() for k, v in module.state_dict().items()}
    ckpt = {"state_dict": state, "hyper_parameters": {"strategy": 2, "cfg": module.hparams["cfg"]},
            "tokenizer_json": module.tokenizer_json, "global_step": 1}
    torch.save(ckpt, tmp_path / "now.ckpt")
    agent = load_agent(tmp_path / "now.ckpt")  # the same shapes load
    assert torch.equal(agent.model.encoder.num.weight, state["model.encoder.num.weight"])

    state["model.encoder.num.weight"] = state["model.encoder.num.weight"][:, :-1].clone()
    torch.save(ckpt, tmp_path / "older.ckpt")
    with pytest.raises(InvalidCheckpoint) as err:
        load_agent(tmp_path / "older.ckpt")
    message = str(err.value)
    assert "\n" not in message and "older.ckpt" in message
    assert "encoder.num.weight is (32, 14) there, (32, 15) here (tensors of another shape: 1;" in message

    small = torch.nn.Linear(2, 3)
    with pytest.raises(InvalidCheckpoint, match=r"x\.ckpt does not fit this model: bias is missing there"):
        load_weights(small, {"weight": torch.zeros(3, 2)}, "x.ckpt")
    with pytest.raises(InvalidCheckpoint, match=r"extra is not in this model \(missing: 0, unexpected: 1;"):
        load_weights(small, {"weight": torch.zeros(3, 2), "bias": torch.zeros(3), "extra": torch.zeros(1)}, "x.ckpt")
