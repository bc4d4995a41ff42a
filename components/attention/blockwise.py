"""Exact attention computed one block of queries at a time, for the variants SDPA cannot fuse.

``sliding`` (a band of keys per query) and ``xl`` (a learned relative bias that needs its own
gradient, plus a mask of empty memory slots) both need a mask or bias that SDPA's fused CPU
kernel does not take with gradients, so SDPA falls back to its math path and keeps the whole
(T, keys) score tensor, its softmax and the mask alive until backward. Here the forward walks
blocks of queries, each over only the keys it can see, and keeps just the output and the
per-query log-sum-exp; the backward walks the blocks again and recomputes each block's scores
(FlashAttention's recomputation, in plain PyTorch). Attention dropout is not supported here (its
mask would have to be replayed in backward); the variants keep their SDPA path for that case.

Both the band mask and xl's bias depend only on the query-key distance, so neither is ever
built per block: one vector holds the additive term (bias, or -inf where hidden) of every
distance, and each block reads it through a strided view. A matrix whose entries depend on
``row - column`` needs a negative stride, which PyTorch views do not have; a block's queries are
therefore taken last-to-first, which turns it into a function of ``row + column`` (stride +1 on
both axes). The bias gradient is the matching sum along anti-diagonals of the score gradient.

Peak memory is the inputs, the output and the working set of one block. The block is sized from
the inputs (``score_budget``), so a short call gets a small block and the working set stays a
fixed multiple of what the call's own q/k/v take, like dense SDPA's, up to ``SCORE_BUDGET``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

SCORE_BUDGET = 1 << 21  # most score elements (B*H*block*keys) per block: ~8 MB in fp32
SCORES_PER_INPUT = 4  # below that, a block's scores are at most this many times the q/k/v elements
MIN_SCORE_BUDGET = 1 << 15  # ... but at least this many (tiny calls: keeps blocks from degenerating)
MIN_BAND_BLOCK = 64  # queries per block of a narrow band: keeps the matmuls from getting tiny


@dataclass(frozen=True)
class Visibility:
    """Which keys a query sees. Query i sits at key position ``i + q_offset``; it sees key j when
    ``-after <= (i + q_offset) - j <= before`` (None: no limit on that side)."""

    q_offset: int = 0
    before: int | None = None
    after: int | None = None

    def key_range(self, start: int, stop: int, n_keys: int) -> tuple[int, int]:
        """Keys [lo, hi) that any query of the block [start, stop) can see."""
        lo = 0 if self.before is None else max(0, start + self.q_offset - self.before)
        hi = n_keys if self.after is None else min(n_keys, stop - 1 + self.q_offset + self.after + 1)
        return lo, max(lo, hi)

    def sees_all(self, start: int, stop: int, lo: int, hi: int) -> bool:
        """True when every query of the block sees every key of [lo, hi) (no mask needed)."""
        cut_before = self.before is not None and (stop - 1 + self.q_offset) - lo > self.before
        cut_after = self.after is not None and (start + self.q_offset) - (hi - 1) < -self.after
        return not (cut_before or cut_after)

    def visible(self, distance: torch.Tensor) -> torch.Tensor:
        keep = torch.ones_like(distance, dtype=torch.bool)
        if self.before is not None:
            keep &= distance <= self.before
        if self.after is not None:
            keep &= distance >= -self.after
        return keep


def distances(n_query: int, n_keys: int, q_offset: int, device=None) -> torch.Tensor:
    """(n_query + n_keys - 1,) every query-key distance ``(i + q_offset) - j``, largest first: the
    order of the per-distance vector (``buckets`` of ``blockwise_attention``)."""
    top = n_query - 1 + q_offset
    return torch.arange(top, top - (n_query + n_keys - 1), -1, device=device)


def score_budget(batch_heads: int, n: int, n_keys: int, head_dim: int) -> int:
    """Score elements one block may hold: ``SCORES_PER_INPUT`` times the q/k/v elements, within
    [``MIN_SCORE_BUDGET``, ``SCORE_BUDGET``]. Dense SDPA's memory grows with its inputs; a block
    sized from them keeps this kernel's working set a fixed multiple of that at any length."""
    inputs = batch_heads * (n + 2 * n_keys) * head_dim
    return min(SCORE_BUDGET, max(MIN_SCORE_BUDGET, SCORES_PER_INPUT * inputs))


def block_size(batch_heads: int, n_keys: int, vis: Visibility, budget: int = SCORE_BUDGET) -> int:
    """Queries per block. Over all keys (xl): as many as fit ``budget`` score elements. Over a
    band of W keys (sliding) a block of c queries computes c + W - 1 keys of which W are used, so
    blocks are small: W/8 (at least ``MIN_BAND_BLOCK``) wastes about a ninth. Measured on CPU at
    W=512, T=64K, forward+backward: 64 queries per block 1.6 s, 128: 1.9 s, 256: 2.9 s of CPU."""
    if vis.before is None or vis.after is None:
        return max(16, budget // max(1, batch_heads * n_keys))
    span = vis.before + vis.after + 1
    fit = int((budget / max(1, batch_heads)) ** 0.5)
    return max(16, min(max(MIN_BAND_BLOCK, span // 8), fit))


class DistanceTerm:
    """The additive score term of every distance (bias, -inf where hidden) and its block views.

    ``table`` (H or 1, n + S - 1) is indexed by ``w = (n - 1 + q_offset) - distance``. Row r of a
    block [start, stop) taken last-to-first is query ``stop - 1 - r``; for key j its index is
    ``r + j + n - stop``: a view with stride 1 on both axes, starting at ``lo + n - stop``."""

    def __init__(self, vis: Visibility, n: int, n_keys: int, rel_bias, buckets, dtype, device):
        self.vis, self.n = vis, n
        dist = distances(n, n_keys, vis.q_offset, device)
        if rel_bias is None:
            table = torch.zeros(1, dist.shape[0], dtype=dtype, device=device)
        else:
            table = rel_bias[:, buckets].to(dtype)
        self.table = table.masked_fill_(~vis.visible(dist), float("-inf")).contiguous()
        self.biased = rel_bias is not None

    def view(self, start: int, stop: int, lo: int, hi: int) -> torch.Tensor | None:
        """(H or 1, stop - start, hi - lo) term of the reversed block; None when it is all zero."""
        if not self.biased and self.vis.sees_all(start, stop, lo, hi):
            return None
        t = self.table
        return t.as_strided((t.shape[0], stop - start, hi - lo), (t.stride(0), 1, 1),
                            t.storage_offset() + lo + self.n - stop)

    @staticmethod
    def anti_diagonal_sums(ds: torch.Tensor) -> torch.Tensor:
        """(H, R, K) -> (H, R + K - 1): entry c is the sum of ds[:, r, c - r] (the table's gradient)."""
        h, rows, cols = ds.shape
        padded = F.pad(ds, (0, rows))  # row r shifted right by r lands in a row of length cols + rows - 1
        width = cols + rows - 1
        return padded.as_strided((h, rows, width), (rows * (cols + rows), width, 1)).sum(1)


def _block_logits(qs, k, term, hide, start, stop, lo, hi) -> tuple[torch.Tensor, torch.Tensor]:
    """The block's queries last-to-first and their scaled scores (B, H, block, hi-lo) plus the
    distance term, -inf where a key is hidden."""
    qb = qs[:, :, start:stop].flip(-2)
    s = qb @ k[:, :, lo:hi].transpose(-2, -1)
    add = term.view(start, stop, lo, hi)
    if add is not None:
        s += add
    if hide is not None:
        s += hide[:, None, None, lo:hi]
    return qb, s


class BlockwiseAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(d) + bias, hidden keys -inf) v, block by block; see the module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, rel_bias, buckets, key_valid, vis: Visibility, block: int | None):
        acc = torch.promote_types(q.dtype, torch.float32)
        b, h, n, d = q.shape
        n_keys = k.shape[-2]
        scale = 1.0 / math.sqrt(d)
        qs, kf, vf = q.to(acc) * scale, k.to(acc), v.to(acc)
        budget = score_budget(b * h, n, n_keys, d)
        block = int(block) if block else block_size(b * h, n_keys, vis, budget)
        term = DistanceTerm(vis, n, n_keys, rel_bias, buckets, acc, q.device)
        hide = _hidden_keys(key_valid, acc)
        out = torch.empty_like(qs)
        lse = torch.empty(b, h, n, 1, dtype=acc, device=q.device)
        for start in range(0, n, block):
            stop = min(n, start + block)
            lo, hi = vis.key_range(start, stop, n_keys)
            _, s = _block_logits(qs, kf, term, hide, start, stop, lo, hi)
            m = s.amax(-1, keepdim=True)
            m.masked_fill_(torch.isinf(m), 0.0)  # a query that sees no key reads 0 (guard, not a case we use)
            p = s.sub_(m).exp_()
            norm = p.sum(-1, keepdim=True)
            out[:, :, start:stop] = ((p @ vf[:, :, lo:hi]) / norm.clamp_min(torch.finfo(acc).tiny)).flip(-2)
            lse[:, :, start:stop] = torch.where(norm > 0, m + norm.log(), float("inf")).flip(-2)
        ctx.save_for_backward(q, k, v, out, lse, rel_bias, buckets, key_valid)
        ctx.vis, ctx.block, ctx.scale = vis, block, scale
        return out.to(q.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        q, k, v, out, lse, rel_bias, buckets, key_valid = ctx.saved_tensors
        vis, block, scale = ctx.vis, ctx.block, ctx.scale
        acc = out.dtype
        qs, kf, vf, do = q.to(acc) * scale, k.to(acc), v.to(acc), grad_out.to(acc)
        n, n_keys = q.shape[-2], k.shape[-2]
        term = DistanceTerm(vis, n, n_keys, rel_bias, buckets, acc, q.device)
        hide = _hidden_keys(key_valid, acc)
        delta = (do * out).sum(-1, keepdim=True)  # rowwise dot(dO, O) of the softmax backward
        dq, dk, dv = torch.empty_like(qs), torch.zeros_like(kf), torch.zeros_like(vf)
        want_bias = rel_bias is not None and ctx.needs_input_grad[3]
        d_table = torch.zeros_like(term.table) if want_bias else None
        for start in range(0, n, block):
            stop = min(n, start + block)
            lo, hi = vis.key_range(start, stop, n_keys)
            qb, p = _block_logits(qs, kf, term, hide, start, stop, lo, hi)
            p = p.sub_(lse[:, :, start:stop].flip(-2)).exp_()
            g = do[:, :, start:stop].flip(-2)
            dv[:, :, lo:hi] += p.transpose(-2, -1) @ g
            ds = (g @ vf[:, :, lo:hi].transpose(-2, -1)).sub_(delta[:, :, start:stop].flip(-2)).mul_(p)  # dL/d(scores)
            del p
            dq[:, :, start:stop] = (ds @ kf[:, :, lo:hi]).flip(-2)
            dk[:, :, lo:hi] += ds.transpose(-2, -1) @ qb
            if d_table is not None:
                first = lo + n - stop  # the block view's first table index
                sums = DistanceTerm.anti_diagonal_sums(ds[0] if ds.shape[0] == 1 else ds.sum(0))
                d_table[:, first : first + sums.shape[-1]] += sums
        dq.mul_(scale)  # dk is already scaled: it was accumulated against the scaled queries
        d_bias = None
        if d_table is not None:  # hidden distances got no gradient (their probabilities are 0)
            d_bias = torch.zeros_like(rel_bias, dtype=acc).index_add_(1, buckets, d_table).to(rel_bias.dtype)
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), d_bias, None, None, None, None


def _hidden_keys(key_valid: torch.Tensor | None, dtype) -> torch.Tensor | None:
    """(B, S) additive term, -inf at hidden keys; None when every key is visible."""
    if key_valid is None or bool(key_valid.all()):
        return None
    return torch.zeros(key_valid.shape, dtype=dtype, device=key_valid.device).masked_fill_(~key_valid, float("-inf"))


def blockwise_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    vis: Visibility,
    key_valid: torch.Tensor | None = None,
    rel_bias: torch.Tensor | None = None,
    buckets: torch.Tensor | None = None,
    block: int | None = None,
) -> torch.Tensor:
    """q (B, H, T, Dh), k/v (B, H, S, Dh) -> (B, H, T, Dh).

    key_valid: (B, S) bool, False hides a key from every query (xl's empty memory slots).
    rel_bias (H, n_buckets) with buckets (T + S - 1,) long, the bucket of each distance in the
    order of ``distances(T, S, vis.q_offset)``: ``rel_bias[:, bucket]`` is added to the scores of
    that distance (xl's relative position bias), and its gradient is accumulated per bucket.
    block: queries per block (None: sized from the inputs, see ``score_budget``).
    """
    if (rel_bias is None) != (buckets is None):
        raise ValueError("rel_bias and buckets go together")
    if buckets is not None and buckets.shape != (q.shape[-2] + k.shape[-2] - 1,):
        raise ValueError(f"buckets must hold one bucket per distance: shape {tuple(buckets.shape)}, "
                         f"expected ({q.shape[-2] + k.shape[-2] - 1},)")
    return BlockwiseAttention.apply(q, k, v, rel_bias, buckets, key_valid, vis, block)
