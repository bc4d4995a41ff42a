"""``ring``: ring attention over ``torch.distributed`` (Liu et al. 2023, blockwise transformers).

Sequence parallelism: rank r of the group holds the r-th contiguous chunk of the sequence (its
queries and keys/values). Key/value blocks travel around the ring; every rank merges the block it
holds into its output with an online softmax (running log-sum-exp), so no rank ever holds more
than two key/value blocks. The send of the next block (plain ``isend``/``irecv``; gloo's
``batch_isend_irecv`` can hang) is posted before the current block is computed, overlapping
communication with compute. The backward pass runs the same ring: key/value blocks travel with
their gradient accumulators, which arrive back at their owner after a full turn; a rank computes
its contribution to the block it holds while that block's accumulator is still in flight, and
the accumulator's onward send overlaps the next block's compute.

Every rank must hold a chunk of the same shape (blocks are exchanged into preallocated buffers):
the layer checks this up front with one small all-gather and raises a ZooError naming the
per-rank lengths, instead of hanging or failing deep inside the exchange.

Ring attention only makes sense when the ranks hold pieces of the *same* sequences, so it is
opt-in: inside ``with sequence_parallel(group):`` the layer runs the ring over ``group``;
elsewhere (one process, or data-parallel ranks holding different samples) it is dense attention.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from components.attention.base import Attention, AttentionConfig
from components.attention.registry import register_attention
from zoo.core.errors import ZooError

_GROUP: contextvars.ContextVar[Any] = contextvars.ContextVar("ring_group", default=None)
KV_TAG, GRAD_TAG = 11, 12


@contextlib.contextmanager
def sequence_parallel(group: Any = None):
    """Within this block, ring layers treat the ranks of ``group`` (default: world) as one sequence."""
    token = _GROUP.set(group if group is not None else dist.group.WORLD)
    try:
        yield
    finally:
        _GROUP.reset(token)


def active_group() -> Any:
    group = _GROUP.get()
    if group is None or not dist.is_available() or not dist.is_initialized():
        return None
    return group if dist.get_world_size(group) > 1 else None


def _exchange(send: torch.Tensor, recv: torch.Tensor, group: Any, tag: int) -> list[Any]:
    """Post send to the next rank and receive from the previous one; returns the pending works."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    nxt = dist.get_global_rank(group, (rank + 1) % world)
    prv = dist.get_global_rank(group, (rank - 1) % world)
    return [dist.isend(send, nxt, group=group, tag=tag), dist.irecv(recv, prv, group=group, tag=tag)]


def _scores(q, k, scale: float, diagonal: bool) -> torch.Tensor:
    s = (q @ k.transpose(-2, -1)) * scale
    if diagonal:  # the rank's own block under a causal mask
        n = s.shape[-1]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=s.device).triu(1), float("-inf"))
    return s


def check_equal_chunks(q: torch.Tensor, group: Any) -> None:
    """Every rank must hold a (B, H, T, Dh) chunk of the same shape; one all-gather of 4 ints."""
    world = dist.get_world_size(group)
    mine = torch.tensor(q.shape, dtype=torch.long, device=q.device)
    shapes = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(shapes, mine, group=group)
    if any(not torch.equal(t, shapes[0]) for t in shapes):
        lens = [int(t[2]) for t in shapes]
        detail = f"sequence chunk lengths per rank {lens}" if len(set(lens)) > 1 else \
            f"chunk shapes (B, H, T, Dh) per rank {[tuple(t.tolist()) for t in shapes]}"
        raise ZooError(f"ring attention needs equal chunks on every rank of the sequence-parallel group; got "
                       f"{detail} (pad the sequence to a multiple of {world} tokens)")


class RingAttentionFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal: bool, group: Any):
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        scale = 1.0 / math.sqrt(q.shape[-1])
        acc = torch.promote_types(q.dtype, torch.float32)  # accumulate in fp32 at least
        qf = q.to(acc)
        kv = torch.stack([k, v]).to(acc).contiguous()
        out = torch.zeros_like(qf)
        lse = torch.full(q.shape[:-1], float("-inf"), dtype=acc, device=q.device)
        for step in range(world):
            works, incoming = [], None
            if step < world - 1:
                incoming = torch.empty_like(kv)
                works = _exchange(kv, incoming, group, KV_TAG)
            src = (rank - step) % world
            if not causal or src <= rank:
                s = _scores(qf, kv[0], scale, diagonal=causal and src == rank)
                blk_lse = torch.logsumexp(s, dim=-1)
                blk_out = torch.softmax(s, dim=-1) @ kv[1]
                new_lse = torch.logaddexp(lse, blk_lse)
                out = out * torch.exp(lse - new_lse).unsqueeze(-1) + blk_out * torch.exp(blk_lse - new_lse).unsqueeze(-1)
                lse = new_lse
            for w in works:
                w.wait()
            if incoming is not None:
                kv = incoming
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.group, ctx.scale = causal, group, scale
        return out.to(q.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        group, causal, scale = ctx.group, ctx.causal, ctx.scale
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        acc = out.dtype
        qf, do = q.to(acc), grad_out.to(acc)
        delta = (do * out).sum(-1, keepdim=True)  # rowwise dot(dO, O) of the softmax backward
        dq = torch.zeros_like(qf)
        kv = torch.stack([k, v]).to(acc).contiguous()
        # The accumulator of the block held at step s comes from the previous rank (its step s-1
        # send). Compute this rank's contribution first, then wait for the accumulator, add, and
        # post the onward send without waiting: it completes during the next step's compute.
        pending: tuple[list[Any], torch.Tensor, torch.Tensor] | None = None  # (works, sent, incoming)
        for step in range(world):
            kv_works, kv_in = [], None
            if step < world - 1:  # keys/values are needed one step ahead: overlap their transfer
                kv_in = torch.empty_like(kv)
                kv_works = _exchange(kv, kv_in, group, KV_TAG)
            src = (rank - step) % world
            contrib = torch.zeros_like(kv)
            if not causal or src <= rank:
                s = _scores(qf, kv[0], scale, diagonal=causal and src == rank)
                p = torch.exp(s - lse.unsqueeze(-1))
                contrib[1] = p.transpose(-2, -1) @ do
                ds = p * (do @ kv[1].transpose(-2, -1) - delta)
                dq += (ds @ kv[0]) * scale
                contrib[0] = (ds.transpose(-2, -1) @ qf) * scale
            if pending is not None:
                for w in pending[0]:
                    w.wait()
                contrib += pending[2]
            dkv_in = torch.empty_like(contrib)  # after `world` hops the accumulators are home again
            pending = (_exchange(contrib, dkv_in, group, GRAD_TAG), contrib, dkv_in)
            for w in kv_works:
                w.wait()
            if kv_in is not None:
                kv = kv_in
        assert pending is not None
        for w in pending[0]:
            w.wait()
        dkv = pending[2]
        return dq.to(q.dtype), dkv[0].to(k.dtype), dkv[1].to(v.dtype), None, None


@register_attention("ring")
class RingAttention(Attention):
    """Ring attention across the ranks of a sequence-parallel group (dense on one process)."""

    @dataclass
    class Config(AttentionConfig):
        """Only the shared fields (causal, dropout; dropout is not applied on the ring itself)."""

    def forward(self, x: torch.Tensor, state: None = None, detach: Any = None) -> tuple[torch.Tensor, None]:
        q, k, v = self.qkv_heads(x)
        group = active_group()
        if group is None:
            y = self.attend(q, k, v, is_causal=self.causal)
        else:  # attention dropout is not applied on the ring path
            check_equal_chunks(q, group)
            y = RingAttentionFn.apply(q, k, v, self.causal, group)
        return self.merge_heads(y), None
