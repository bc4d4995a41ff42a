"""Exact attention computed one block of queries at a time, for the variants SDPA cannot fuse.

``sliding`` (a band of keys per query) and ``xl`` (a learned relative bias that needs its own
gradient, plus a mask of empty memory slots) both need a mask or bias that SDPA's fused CPU
kernel does not take with gradients, so SDPA falls back to its math path and keeps the whole
(T, keys) score tensor, its softmax and the mask alive until backward. Here the forward walks
blocks of queries, each over only the keys it can see, and keeps just the output and the
per-query log-sum-exp; the backward walks the blocks again and recomputes each block's scores
(FlashAttention's recomputation, in plain PyTorch). Peak memory is then the inputs, the output
and one block's scores, whatever the length. Attention dropout is not supported here (its mask
would have to be replayed in backward); the variants keep their SDPA path for that case.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

SCORE_BUDGET = 1 << 21  # score elements (B*H*block*keys) per block: ~8 MB in fp32
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

    def keep(self, start: int, stop: int, lo: int, hi: int, device) -> torch.Tensor | None:
        """(block, keys) bool, True where visible; None when the whole block sees every key in range."""
        cut_before = self.before is not None and (stop - 1 + self.q_offset) - lo > self.before
        cut_after = self.after is not None and (start + self.q_offset) - (hi - 1) < -self.after
        if not (cut_before or cut_after):
            return None
        dist = (torch.arange(start, stop, device=device) + self.q_offset)[:, None] - torch.arange(lo, hi, device=device)
        if cut_before and cut_after:
            return (dist <= self.before) & (dist >= -self.after)  # type: ignore[operator]
        return dist <= self.before if cut_before else dist >= -self.after  # type: ignore[operator]


def block_size(batch_heads: int, n_keys: int, vis: Visibility) -> int:
    """Queries per block. Over all keys (xl): as many as fit ``SCORE_BUDGET`` score elements. Over a
    band of W keys (sliding) a block of c queries computes c + W - 1 keys of which W are used, so
    blocks are small: W/8 (at least ``MIN_BAND_BLOCK``) wastes about a ninth. Measured on CPU at
    W=512, T=64K, forward+backward: 64 queries per block 1.6 s, 128: 1.9 s, 256: 2.9 s of CPU."""
    if vis.before is None or vis.after is None:
        return max(16, SCORE_BUDGET // max(1, batch_heads * n_keys))
    span = vis.before + vis.after + 1
    fit = int((SCORE_BUDGET / max(1, batch_heads)) ** 0.5)
    return max(16, min(max(MIN_BAND_BLOCK, span // 8), fit))


class BlockMasks:
    """The additive (0 / -inf) visibility mask of each block, cached by its shape and offset: every
    interior block of a band has the same one, so it is built once per call, not once per block."""

    def __init__(self, vis: Visibility, device, dtype):
        self.vis, self.device, self.dtype = vis, device, dtype
        self.cache: dict[tuple[int, int, int], torch.Tensor | None] = {}

    def __call__(self, start: int, stop: int, lo: int, hi: int) -> torch.Tensor | None:
        key = (start + self.vis.q_offset - lo, stop - start, hi - lo)
        if key not in self.cache:
            keep = self.vis.keep(start, stop, lo, hi, self.device)
            self.cache[key] = None if keep is None else torch.zeros(keep.shape, dtype=self.dtype,
                                                                    device=self.device).masked_fill_(~keep, float("-inf"))
        return self.cache[key]


def _block_logits(qs, k, masks, start, stop, lo, hi, key_valid, rel_bias, buckets) -> torch.Tensor:
    """Scaled scores (B, H, block, hi-lo) of one block plus its bias, -inf where a key is hidden."""
    s = qs[:, :, start:stop] @ k[:, :, lo:hi].transpose(-2, -1)
    add = masks(start, stop, lo, hi)
    if rel_bias is not None:
        bias = rel_bias[:, buckets[start:stop, lo:hi]].to(s.dtype)
        add = bias if add is None else bias + add
    if key_valid is not None:
        hidden = torch.zeros(key_valid.shape[0], 1, 1, hi - lo, dtype=s.dtype, device=s.device)
        hidden.masked_fill_(~key_valid[:, None, None, lo:hi], float("-inf"))
        add = hidden if add is None else add + hidden
    if add is not None:
        s += add
    return s


class BlockwiseAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(d) + bias, hidden keys -inf) v, block by block; see the module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, rel_bias, buckets, key_valid, vis: Visibility, block: int | None):
        acc = torch.promote_types(q.dtype, torch.float32)
        b, h, n, d = q.shape
        n_keys = k.shape[-2]
        scale = 1.0 / math.sqrt(d)
        qs, kf, vf = q.to(acc) * scale, k.to(acc), v.to(acc)
        block = int(block) if block else block_size(b * h, n_keys, vis)
        masks = BlockMasks(vis, q.device, acc)
        out = torch.empty_like(qs)
        lse = torch.empty(b, h, n, 1, dtype=acc, device=q.device)
        for start in range(0, n, block):
            stop = min(n, start + block)
            lo, hi = vis.key_range(start, stop, n_keys)
            s = _block_logits(qs, kf, masks, start, stop, lo, hi, key_valid, rel_bias, buckets)
            m = s.amax(-1, keepdim=True)
            m.masked_fill_(torch.isinf(m), 0.0)  # a query that sees no key reads 0 (guard, not a case we use)
            p = s.sub_(m).exp_()
            norm = p.sum(-1, keepdim=True)
            out[:, :, start:stop] = (p @ vf[:, :, lo:hi]) / norm.clamp_min(torch.finfo(acc).tiny)
            lse[:, :, start:stop] = torch.where(norm > 0, m + norm.log(), float("inf"))
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
        masks = BlockMasks(vis, q.device, acc)
        delta = (do * out).sum(-1, keepdim=True)  # rowwise dot(dO, O) of the softmax backward
        dq, dk, dv = torch.empty_like(qs), torch.zeros_like(kf), torch.zeros_like(vf)
        d_bias = torch.zeros_like(rel_bias, dtype=acc) if rel_bias is not None and ctx.needs_input_grad[3] else None
        for start in range(0, n, block):
            stop = min(n, start + block)
            lo, hi = vis.key_range(start, stop, n_keys)
            p = _block_logits(qs, kf, masks, start, stop, lo, hi, key_valid, rel_bias, buckets)
            p = p.sub_(lse[:, :, start:stop]).exp_()
            g = do[:, :, start:stop]
            dv[:, :, lo:hi] += p.transpose(-2, -1) @ g
            ds = (g @ vf[:, :, lo:hi].transpose(-2, -1)).sub_(delta[:, :, start:stop]).mul_(p)  # dL/d(scores)
            dq[:, :, start:stop] = ds @ kf[:, :, lo:hi]
            dk[:, :, lo:hi] += ds.transpose(-2, -1) @ qs[:, :, start:stop]
            if d_bias is not None:
                d_bias.index_add_(1, buckets[start:stop, lo:hi].reshape(-1), ds.sum(0).flatten(1))
        dq.mul_(scale)  # dk is already scaled: it was accumulated against the scaled queries
        return (dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype),
                None if d_bias is None else d_bias.to(rel_bias.dtype), None, None, None, None)


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
    rel_bias (H, n_buckets) with buckets (T, S) long: ``rel_bias[:, buckets]`` is added to the
    scores (xl's relative position bias), and its gradient is accumulated per bucket.
    block: queries per block (None: sized so one block's scores stay near ``SCORE_BUDGET``).
    """
    if (rel_bias is None) != (buckets is None):
        raise ValueError("rel_bias and buckets go together")
    return BlockwiseAttention.apply(q, k, v, rel_bias, buckets, key_valid, vis, block)

