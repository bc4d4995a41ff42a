"""Every registered attention variant: one interface, forward/backward, shapes, state round trips."""
from __future__ import annotations

import pytest
import torch

from components.attention import attention_config, attention_fields, create_attention, list_attention, reset_state
from components.trunk import Transformer
from zoo.core.errors import ZooError

DIM, HEADS, B, T = 32, 4, 2, 40
SMALL = dict(window=8, mem_len=16, segment_len=16)  # each variant gets the ones it declares
VARIANTS = list_attention()


def small(name: str) -> dict:
    return {k: v for k, v in SMALL.items() if k in attention_fields(name)}


def make(name: str, **kw):
    torch.manual_seed(0)
    return create_attention(name, DIM, HEADS, **{**small(name), **kw})


def shapes(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return (tuple(state.shape), state.dtype)
    return [shapes(s) for s in state]


def test_every_contract_variant_is_registered():
    assert {"dense", "sliding", "xl", "infini", "ring"} <= set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_forward_backward_shapes_and_finite(name):
    attn = make(name)
    x = torch.randn(B, T, DIM, requires_grad=True)
    y, state = attn(x, attn.init_state(B, x.device))
    assert y.shape == (B, T, DIM) and torch.isfinite(y).all()
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in attn.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}: no/NaN grad for {pname}"


@pytest.mark.parametrize("name", VARIANTS)
def test_state_round_trip_keeps_structure(name):
    attn = make(name)
    empty = attn.init_state(B, "cpu")
    _, s1 = attn(torch.randn(B, T, DIM), empty)
    assert shapes(s1) == shapes(empty), "the returned state must have the init_state layout"
    y2, s2 = attn(torch.randn(B, T, DIM), s1)  # the state feeds straight back in
    assert torch.isfinite(y2).all() and shapes(s2) == shapes(empty)
    if attn.segmented:
        assert shapes(s1) is not None


@pytest.mark.parametrize("name", [n for n in VARIANTS if make(n).segmented])
def test_trunk_segment_loop_equals_calls_carrying_state(name):
    """One call over 3 segments == 3 calls that hand the state on (memory really flows)."""
    torch.manual_seed(0)
    trunk = Transformer(dim=DIM, n_layers=2, n_heads=HEADS, attention={"name": name, **small(name)}).eval()
    if name == "xl":  # non-zero relative bias so positions across the memory boundary matter
        for blk in trunk.blocks:
            torch.nn.init.normal_(blk.attn.rel_bias)
    x = torch.randn(B, 48, DIM)
    y_full, s_full = trunk(x, trunk.init_state(B))
    states, parts = trunk.init_state(B), []
    for piece in x.split(16, dim=1):
        y, states = trunk(piece, states)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, 1), y_full, atol=1e-5, rtol=1e-5)
    y_fresh, _ = trunk(x[:, 16:32])  # without the memory the second segment differs
    assert (y_fresh - parts[1]).abs().max() > 1e-3


@pytest.mark.parametrize("name, crosses", [("infini", True), ("xl", False)])
def test_gradient_crosses_segments_only_through_infini_memory(name, crosses):
    """Pins the trunk's docstring: a loss on the last segment reaches the first segment's inputs
    through infini's memory, but not through xl's (detached every segment: XL's stop-gradient)."""
    torch.manual_seed(0)
    trunk = Transformer(dim=DIM, n_layers=1, n_heads=HEADS, attention={"name": name, **small(name)})
    x = torch.randn(1, 32, DIM, requires_grad=True)  # two segments of 16
    y, _ = trunk(x)
    y[:, 16:].square().sum().backward()
    assert (x.grad[:, :16].abs().sum() > 0) == crosses


@pytest.mark.parametrize("name", [n for n in VARIANTS if make(n).segmented])
def test_reset_state_clears_finished_sequences(name):
    attn = make(name).eval()
    x1, x2 = torch.randn(B, 16, DIM), torch.randn(B, 16, DIM)
    _, s = attn(x1, attn.init_state(B))
    s = reset_state(s, torch.tensor([True, False]))
    y, _ = attn(x2, s)
    y_fresh, _ = attn(x2, attn.init_state(B))
    y_kept, _ = attn(x2, attn(x1, attn.init_state(B))[1])
    torch.testing.assert_close(y[0], y_fresh[0])  # row 0 was reset: as if the episode just began
    torch.testing.assert_close(y[1], y_kept[1])  # row 1 kept its memory


def test_infini_memory_is_fixed_size_and_fp32_under_autocast():
    attn = make("infini")
    dk = DIM // HEADS
    for n in (16, 64):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, (m, z) = attn(torch.randn(B, n, DIM), attn.init_state(B))
        assert y.dtype == torch.bfloat16
        assert m.shape == (B, HEADS, dk, dk) and z.shape == (B, HEADS, dk)
        assert m.dtype == torch.float32 and z.dtype == torch.float32


def test_xl_memory_keeps_last_inputs_detached():
    attn = make("xl", mem_len=16)
    x = torch.randn(B, 20, DIM, requires_grad=True)
    _, mem = attn(x, attn.init_state(B))
    assert mem.shape == (B, 16, DIM) and not mem.requires_grad
    torch.testing.assert_close(mem, x[:, -16:].detach())


def test_xl_masked_memory_with_the_causal_mask_equals_the_segment_call():
    """A ``MaskedMemory`` whose mask is the plain causal one (every filled memory slot, segment keys up to
    the query) computes what the segment call computes, values and gradients, with a random position
    bias; it returns no state."""
    from components.attention.xl import MaskedMemory

    attn = make("xl", mem_len=16)
    with torch.no_grad():
        attn.rel_bias.normal_()
    mem = torch.randn(B, 16, DIM)
    mem[0, :5] = 0.0  # empty slots
    n = 12
    x = torch.randn(B, n, DIM, requires_grad=True)
    filled = mem.ne(0).any(-1)[:, None, :].expand(B, n, 16)
    causal = torch.ones(n, n, dtype=torch.bool).tril().expand(B, n, n)
    y, state = attn(x, MaskedMemory(mem, torch.cat([filled, causal], -1)))
    (gx,) = torch.autograd.grad(y.square().sum(), x)
    y_ref, _ = attn(x, mem)
    (gx_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
    assert state is None
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-5)


def test_unknown_variant_and_field_are_one_line_errors():
    with pytest.raises(ZooError, match=r"unknown attention 'xll'.*valid choices: .*dense.*xl"):
        create_attention("xll", DIM, HEADS)
    with pytest.raises(ZooError, match=r"unknown attention field 'windw'.*did you mean 'window'.*valid fields: name, causal, dropout, window$"):
        create_attention("sliding", DIM, HEADS, windw=4)
    with pytest.raises(ZooError, match="does not divide"):
        create_attention("dense", 30, 4)
    with pytest.raises(ZooError, match="attention.window"):
        create_attention("sliding", DIM, HEADS, window=0)
    with pytest.raises(ZooError, match=r"bad value for 'attention.mem_len': 'x' \(expected int\)"):
        create_attention("xl", DIM, HEADS, mem_len="x")


@pytest.mark.parametrize("name", VARIANTS)
def test_each_variant_takes_only_its_own_fields(name):
    """Fields are declared per variant: another variant's field is refused at config time, with the
    variant's own fields listed, before any module is built."""
    own = set(attention_fields(name))
    assert {"causal", "dropout"} <= own
    foreign = sorted({"window", "mem_len", "delta_rule", "rel_buckets"} - own)
    for key in foreign:
        with pytest.raises(ZooError, match=f"unknown attention field '{key}' for attention '{name}'"):
            attention_config({"name": name, key: 1})
    cfg = attention_config({"name": name, **small(name)})
    assert cfg.name == name and create_attention(cfg, DIM, HEADS).config is cfg


@pytest.mark.parametrize("name", VARIANTS)
def test_has_memory_comes_from_init_state(name):
    attn = make(name)
    assert attn.has_memory == (attn.init_state(1) is not None)
    assert attn.has_memory == attn.segmented  # today the carried-state variants are the segmented ones


@pytest.mark.parametrize("name", [n for n in VARIANTS if make(n).has_memory])
def test_detach_argument_decides_whether_memory_keeps_its_graph(name):
    attn = make(name)
    x = torch.randn(B, 16, DIM, requires_grad=True)
    leaves = lambda s: [s] if isinstance(s, torch.Tensor) else list(s)  # noqa: E731
    _, kept = attn(x, attn.init_state(B), detach=False)
    _, cut = attn(x, attn.init_state(B), detach=True)
    assert all(t.requires_grad for t in leaves(kept)) and not any(t.requires_grad for t in leaves(cut))
    # the kept memory carries the gradient of a later segment's loss back to x
    y2, _ = attn(torch.randn(B, 16, DIM), kept)
    y2.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
