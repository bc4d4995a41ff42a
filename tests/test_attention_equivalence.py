"""Each variant reduces to dense attention where it should, and the sliding window is exactly W wide."""
from __future__ import annotations

import warnings

import pytest
import torch

from components.attention import create_attention
from components.attention.blockwise import Visibility, blockwise_attention
from components.attention.sliding import band_mask, blocked_sliding_sdpa, keep_key, window_bounds

DIM, HEADS, B = 32, 4, 2


def pair(name: str, **kw):
    """A variant and a dense layer with the same qkv/proj weights."""
    torch.manual_seed(0)
    attn = create_attention(name, DIM, HEADS, **kw).eval()
    dense = create_attention("dense", DIM, HEADS, causal=kw.get("causal", True)).eval()
    missing, unexpected = dense.load_state_dict(attn.state_dict(), strict=False)
    assert not missing, missing
    return attn, dense


# ---------------------------------------------------------------- sliding
def count_sdpa_calls(monkeypatch) -> list[int]:
    """Record the query rank of every SDPA call, in order (5 = blocked path, 4 = one mask). sliding's
    ``F`` is torch.nn.functional itself, so later dense/reference calls are recorded too."""
    import components.attention.sliding as sliding

    ranks: list[int] = []
    real = sliding.F.scaled_dot_product_attention

    def spy(q, *args, **kw):
        ranks.append(q.dim())
        return real(q, *args, **kw)

    monkeypatch.setattr(sliding.F, "scaled_dot_product_attention", spy)
    return ranks


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("length", [24, 300])
@pytest.mark.parametrize("backend", ["blockwise", "sdpa"])
def test_sliding_with_window_covering_the_input_equals_dense(causal, length, backend, monkeypatch):
    """A window covering the input is dense attention, on both CPU paths (blockwise: the default;
    sdpa: the dropout path). At length 300 a 64-query block forces several blocks."""
    attn, dense = pair("sliding", window=2 * length, causal=causal)
    attn.backend = backend
    blocked = length > 64
    if blocked:
        attn.query_block = 64  # 300 = 4 full blocks + a padded one
    ranks = count_sdpa_calls(monkeypatch)
    x = torch.randn(B, length, DIM, requires_grad=True)
    y, ref = attn(x)[0], dense(x)[0]
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    g, g_ref = torch.autograd.grad(y.square().sum(), x)[0], torch.autograd.grad(ref.square().sum(), x)[0]
    torch.testing.assert_close(g, g_ref, atol=1e-4, rtol=1e-4)
    if backend == "sdpa":
        assert ranks[0] == (5 if blocked else 4), "the path under test did not run"
    else:
        assert ranks == [4], "blockwise must not call SDPA (only the dense reference does)"


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("window, block", [(37, 64), (37, 16), (128, None), (600, None)])
def test_blockwise_band_matches_band_masked_reference_with_gradients(causal, window, block):
    """The blockwise kernel == one SDPA call with the full (n, n) band mask: outputs and q/k/v
    gradients; n = 300 is not a multiple of the block, the window spans several blocks or covers
    the input, odd windows split unevenly around the query when not causal."""
    torch.manual_seed(0)
    n = 300
    q, k, v = (torch.randn(B, HEADS, n, 8, requires_grad=True) for _ in range(3))
    weight = torch.randn(B, HEADS, n, 8)
    before, after = window_bounds(window, causal)
    out = blockwise_attention(q, k, v, Visibility(0, before, after), block=block)
    grads = torch.autograd.grad((out * weight).sum(), (q, k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=band_mask(n, window, causal))
    ref_grads = torch.autograd.grad((ref * weight).sum(), (q, k, v))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for name, g, r in zip("qkv", grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-4, msg=f"d{name}")


@pytest.mark.parametrize("name, kw", [("sliding", {"window": 64}), ("xl", {"mem_len": 256, "segment_len": 256})])
def test_blockwise_paths_save_no_score_sized_tensor_for_backward(name, kw):
    """The memory claim behind #13: what autograd keeps for backward grows as T, not T x keys.
    Every saved tensor is at most a few (T, dim) activations; the old paths saved (B, H, T, keys)."""
    torch.manual_seed(0)
    attn = create_attention(name, DIM, HEADS, **kw)
    n = 1024 if name == "sliding" else 256
    x = torch.randn(B, n, DIM, requires_grad=True)
    state = attn.init_state(B)
    if name == "xl":
        state = torch.randn(B, 256, DIM)  # a full memory: 2x the keys of the segment
    sizes: list[int] = []

    def pack(t):
        if t.is_floating_point():  # xl's bucket ids (one per distance, long) are a small cached vector
            sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y, _ = attn(x, state)
    y.square().sum().backward()
    keys = n + (256 if name == "xl" else 0)
    assert max(sizes) <= 3 * B * keys * DIM, f"a saved tensor of {max(sizes)} elements"
    assert max(sizes) < B * HEADS * n * min(keys, kw.get("window", keys)), "as large as the score tensor"


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("window, block", [(37, 64), (37, 16), (128, 128)])
def test_blocked_sliding_matches_band_masked_reference_with_gradients(causal, window, block, monkeypatch):
    """The blocked path == one SDPA call with the full (n, n) band mask: outputs and q/k/v gradients.
    n = 300 is not a multiple of any block (padded queries and keys), the window spans several
    blocks when block < window, and odd windows split unevenly around the query when not causal."""
    torch.manual_seed(0)
    n = 300
    q, k, v = (torch.randn(B, HEADS, n, 8, requires_grad=True) for _ in range(3))
    weight = torch.randn(B, HEADS, n, 8)  # a loss that weighs every output differently
    ranks = count_sdpa_calls(monkeypatch)
    out = blocked_sliding_sdpa(q, k, v, window, causal, block=block)
    assert ranks == [5], "expected one blocked SDPA call"
    grads = torch.autograd.grad((out * weight).sum(), (q, k, v))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=band_mask(n, window, causal))
    ref_grads = torch.autograd.grad((ref * weight).sum(), (q, k, v))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for name, g, r in zip("qkv", grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-4, msg=f"d{name}")


@pytest.mark.parametrize("causal", [True, False])
def test_sliding_window_keeps_exactly_w_keys(causal):
    """Off-by-one pin: the FlexAttention idiom `q - kv <= W` keeps W+1 keys; we keep exactly W."""
    w, n = 5, 300
    idx = torch.arange(n)
    counts = band_mask(n, w, causal).sum(-1)
    interior = counts[w : n - w]
    assert (interior == w).all()
    if causal:
        assert (counts == torch.clamp(idx + 1, max=w)).all()
        naive = ((idx[:, None] - idx[None, :]) <= w) & (idx[:, None] >= idx[None, :])
        assert (naive.sum(-1)[w:] == w + 1).all()  # the trap we avoid
    # the computation agrees: with uniform attention (q = k = 0) output = mean visible key position
    q = torch.zeros(1, 1, n, 4)
    v = idx.float().view(1, 1, n, 1).expand(1, 1, n, 4).contiguous()
    out = blocked_sliding_sdpa(q, q, v, w, causal)[0, 0, :, 0]
    vis = keep_key(idx[:, None], idx[None, :], w, causal).float()
    torch.testing.assert_close(out, (vis @ idx.float()) / vis.sum(-1))
    if causal:
        torch.testing.assert_close(out[w:], idx[w:].float() - (w - 1) / 2)


@pytest.mark.parametrize("causal", [True, False])
def test_sliding_flex_mask_matches_sdpa_path(causal):
    """The FlexAttention path (used on CUDA; forward-only eager here on CPU) sees the same W keys."""
    attn, _ = pair("sliding", window=7, causal=causal)
    x = torch.randn(B, 256, DIM)
    y_sdpa = attn(x)[0]
    attn.backend = "flex"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "flex_attention called without torch.compile()"
        with torch.no_grad():
            y_flex = attn(x)[0]
    torch.testing.assert_close(y_flex, y_sdpa, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- xl
@pytest.mark.parametrize("causal", [True, False])
def test_xl_with_empty_memory_equals_dense(causal):
    attn, dense = pair("xl", mem_len=16, causal=causal)
    x = torch.randn(B, 24, DIM)
    for state in (None, attn.init_state(B)):
        torch.testing.assert_close(attn(x, state)[0], dense(x)[0], atol=1e-5, rtol=1e-5)
    torch.nn.init.normal_(attn.rel_bias)  # the relative bias is really applied once it has learned
    assert (attn(x)[0] - dense(x)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("causal", [True, False])
def test_xl_blockwise_equals_sdpa_with_the_full_bias_mask_with_gradients(causal):
    """xl's blockwise path == SDPA with the (B, H, T, M+T) bias-plus-mask tensor (its dropout path):
    outputs and the gradients of the input, the memory, the weights and the relative bias, with
    a partly empty memory (all-zero rows are masked out) and a learned bias."""
    torch.manual_seed(0)
    attn = create_attention("xl", DIM, HEADS, mem_len=24, causal=causal)
    torch.nn.init.normal_(attn.rel_bias)
    x = torch.randn(B, 40, DIM, requires_grad=True)
    mem = torch.randn(B, 24, DIM)
    mem[0, :10] = 0.0  # sequence 0: the 10 oldest slots are empty
    mem.requires_grad_(True)
    weight = torch.randn(B, 40, DIM)
    params = [x, mem, attn.qkv.weight, attn.rel_bias]
    y = attn(x, mem)[0]
    grads = torch.autograd.grad((y * weight).sum(), params)
    attn.train()
    attn.dropout = 1e-12  # forces the SDPA path; p = 1e-12 drops nothing in practice
    torch.manual_seed(1)
    ref = attn(x, mem)[0]
    ref_grads = torch.autograd.grad((ref * weight).sum(), params)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
    for name, g, r in zip(("x", "memory", "qkv", "rel_bias"), grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-4, msg=f"d{name}")


def test_xl_memory_equals_attending_over_the_concatenation():
    """Segment 2 with segment 1 as memory == the second half of one pass over both segments."""
    attn, _ = pair("xl", mem_len=16)
    torch.nn.init.normal_(attn.rel_bias)
    x = torch.randn(B, 32, DIM)
    long = create_attention("xl", DIM, HEADS, mem_len=0).eval()
    long.load_state_dict(attn.state_dict())
    y_full = long(x)[0]
    _, mem = attn(x[:, :16], attn.init_state(B))
    torch.testing.assert_close(attn(x[:, 16:], mem)[0], y_full[:, 16:], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- infini
@pytest.mark.parametrize("delta_rule", [True, False])
def test_infini_one_segment_with_closed_gate_equals_local_attention(delta_rule):
    attn, dense = pair("infini", segment_len=32, delta_rule=delta_rule)
    with torch.no_grad():
        attn.gate.fill_(-1e4)  # sigmoid(gate) = 0: memory read switched off
    x = torch.randn(B, 32, DIM)
    torch.testing.assert_close(attn(x, attn.init_state(B))[0], dense(x)[0], atol=1e-6, rtol=1e-6)
    with torch.no_grad():
        attn.gate.zero_()  # half open, but memory is empty on the first segment: read = 0
    torch.testing.assert_close(attn(x)[0] - attn.proj.bias, (dense(x)[0] - dense.proj.bias) / 2, atol=1e-5, rtol=1e-5)


def test_infini_memory_recalls_a_written_value():
    """After writing one (k, v) pair, a read with any query returns v (sigma(q).sigma(k) cancels)."""
    attn = create_attention("infini", DIM, HEADS, delta_rule=False)
    m, z = attn.init_state(1)
    k, v = torch.randn(1, HEADS, 1, DIM // HEADS), torch.randn(1, HEADS, 1, DIM // HEADS)
    _, m, z = attn.read_and_update(k, k, v, m, z)
    read, _, _ = attn.read_and_update(torch.randn(1, HEADS, 3, DIM // HEADS), k, v, m, z)
    torch.testing.assert_close(read, v.expand(-1, -1, 3, -1), atol=1e-4, rtol=1e-4)


def test_infini_delta_rule_does_not_rewrite_a_stored_pair():
    attn = create_attention("infini", DIM, HEADS, delta_rule=True)
    m, z = attn.init_state(1)
    k, v = torch.randn(1, HEADS, 1, DIM // HEADS), torch.randn(1, HEADS, 1, DIM // HEADS)
    _, m1, _ = attn.read_and_update(k, k, v, m, z)
    _, m2, z2 = attn.read_and_update(k, k, v, m1, z + torch.nn.functional.elu(k[:, :, 0]) + 1)
    torch.testing.assert_close(m2, m1, atol=1e-4, rtol=1e-4)  # value already retrievable: no update


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("block", [7, None])
def test_blockwise_relative_bias_over_several_blocks_matches_the_full_bias_mask(causal, block):
    """The per-distance bias read through strided block views (queries last-to-first) and its
    anti-diagonal gradient == SDPA with the materialised (B, H, T, M+T) bias-plus-mask, over
    blocks that do not divide T, with hidden keys; gradients of q, k, v and the bias table."""
    from components.attention.blockwise import distances
    from components.attention.xl import MAX_DISTANCE, relative_bucket

    torch.manual_seed(0)
    n, m, n_buckets = 50, 30, 16
    q = torch.randn(B, HEADS, n, 8, requires_grad=True)
    k, v = (torch.randn(B, HEADS, m + n, 8, requires_grad=True) for _ in range(2))
    rel_bias = torch.randn(HEADS, n_buckets, requires_grad=True)
    valid = torch.ones(B, m + n, dtype=torch.bool)
    valid[0, :10] = False
    vis = Visibility(m, None, 0 if causal else None)
    buckets = relative_bucket(distances(n, m + n, m), n_buckets, MAX_DISTANCE, not causal)
    out = blockwise_attention(q, k, v, vis, key_valid=valid, rel_bias=rel_bias, buckets=buckets, block=block)
    weight = torch.randn_like(out)
    grads = torch.autograd.grad((out * weight).sum(), (q, k, v, rel_bias))
    dist = (torch.arange(n)[:, None] + m) - torch.arange(m + n)[None, :]
    keep = valid[:, None, None, :] & vis.visible(dist)
    bias = rel_bias[:, relative_bucket(dist, n_buckets, MAX_DISTANCE, not causal)]
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias.masked_fill(~keep, float("-inf")))
    ref_grads = torch.autograd.grad((ref * weight).sum(), (q, k, v, rel_bias))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for name, g, r in zip(("q", "k", "v", "rel_bias"), grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4, rtol=1e-4, msg=f"d{name}")


def test_anti_diagonal_sums_on_hand_made_numbers():
    from components.attention.blockwise import DistanceTerm

    ds = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]).unsqueeze(0)
    assert DistanceTerm.anti_diagonal_sums(ds).tolist() == [[0.0, 1.0 + 3.0, 2.0 + 4.0, 5.0]]


def test_block_working_set_scales_with_the_inputs():
    """A short call gets a block whose scores are a few times its q/k/v (dense SDPA's memory also
    grows with them); a long one is capped at SCORE_BUDGET."""
    from components.attention.blockwise import MIN_SCORE_BUDGET, SCORE_BUDGET, block_size, score_budget

    assert score_budget(4, 512, 1024, 16) == 4 * 4 * (512 + 2 * 1024) * 16  # xl's bench segment: 160 queries
    assert block_size(4, 1024, Visibility(512, None, 0), score_budget(4, 512, 1024, 16)) == 160
    assert score_budget(4, 1 << 16, 1 << 16, 16) == SCORE_BUDGET
    assert score_budget(1, 4, 4, 2) == MIN_SCORE_BUDGET
