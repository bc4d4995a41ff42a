"""``xl``: Transformer-XL segment recurrence with a detached memory and relative positions.

State: a tensor (B, mem_len, D) holding this layer's inputs at the last ``mem_len`` positions
(detached). Rows that are all zero are empty slots and are masked out, so ``init_state`` (all
zeros) is the empty memory and ``reset_state`` (zeroing a sequence's rows) clears an episode.

Relative positions: a learned bias per head over log-spaced buckets of the query-key distance
(T5-style), added to the attention logits. We chose this over XL's sinusoidal scheme because it
is zero-initialised: with an empty memory and a zero bias the layer computes exactly ``dense``
with the same ``qkv``/``proj`` weights (checked by the tests), and distances are relative to the
query, so they stay consistent across the memory boundary (memory slot j of M sits at -M+j).

The scores are computed by ``blockwise_attention`` (components/attention/blockwise.py), which
takes the bias table and the bucket of each distance (a vector of T + M + T - 1) instead of a
(B, H, T, M+T) bias-plus-mask tensor and keeps no score tensor for backward; with attention
dropout in training, SDPA with that tensor.

``detach`` (default True, XL's stop-gradient): the returned memory is cut from the graph. With
``detach=False`` it keeps its graph, so a later segment's loss reaches the inputs that wrote it
(Strategy 2's backprop through memory over a rollout).

Two short inputs take an explicit softmax over a (B, H, T, M+T) score tensor instead of the blockwise
kernel (whose set-up costs more than it saves at a few hundred scores): a ``MaskedMemory`` state, which
names the keys each query sees (T one-token steps run in one call, the memory cleared between some of
them), and one token without gradients (acting, one env step: measured 1.6 -> 1.0 ms for a 2-layer
trunk on CPU).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.attention.base import Attention, AttentionConfig, check_positive
from components.attention.blockwise import Visibility, blockwise_attention, distances
from components.attention.registry import register_attention

MAX_DISTANCE = 1024  # distances beyond share the last bucket; fixed so buckets do not depend on mem_len


def relative_bucket(distance: torch.Tensor, n_buckets: int, max_distance: int, bidirectional: bool) -> torch.Tensor:
    """Bucket of ``distance = query_pos - key_pos``: exact for small distances, log-spaced beyond."""
    offset = torch.zeros_like(distance)
    if bidirectional:
        n_buckets //= 2
        offset = (distance < 0).long() * n_buckets
        distance = distance.abs()
    else:
        distance = distance.clamp(min=0)
    exact = max(1, n_buckets // 2)
    far = exact + (
        torch.log(distance.float().clamp(min=1) / exact) / math.log(max(max_distance / exact, 2.0)) * (n_buckets - exact)
    ).long()
    far = far.clamp(max=n_buckets - 1)
    return offset + torch.where(distance < exact, distance, far)


@functools.lru_cache(maxsize=64)
def bucket_grid(n_query: int, n_mem: int, n_buckets: int, bidirectional: bool, device: str) -> torch.Tensor:
    """(T, M+T) bucket ids; memory slot j sits at position j - M, the segment at 0..T-1 (cached per shape)."""
    q_pos = torch.arange(n_query, device=device)[:, None]
    k_pos = torch.arange(-n_mem, n_query, device=device)[None, :]
    return relative_bucket(q_pos - k_pos, n_buckets, MAX_DISTANCE, bidirectional)


@functools.lru_cache(maxsize=64)
def distance_buckets(n_query: int, n_mem: int, n_buckets: int, bidirectional: bool, device: str) -> torch.Tensor:
    """(2T + M - 1,) bucket of every query-key distance, in ``blockwise.distances`` order (cached per shape)."""
    return relative_bucket(distances(n_query, n_mem + n_query, n_mem, device), n_buckets, MAX_DISTANCE, bidirectional)


@dataclass
class MaskedMemory:
    """An xl state naming the keys each query sees: ``mem`` (B, M, D), the memory the T queries start
    from, and ``keep`` (B, T, M+T) bool over memory slots then segment positions.  With it ``forward``
    treats the T tokens as T consecutive one-token steps whose memory may have been cleared between
    them (what ``keep`` encodes), all in one call; it returns no next state (the caller owns it)."""

    mem: torch.Tensor
    keep: torch.Tensor


@register_attention("xl")
class XLAttention(Attention):
    """Transformer-XL: attend over a memory of past layer inputs + the segment, relative bias."""

    @dataclass
    class Config(AttentionConfig):
        """mem_len: past positions kept as memory (per layer).
        segment_len: tokens per segment of the trunk's segment loop.
        rel_buckets: log-spaced relative-distance buckets of the learned (zero-initialised) position bias.
        """

        mem_len: int = 64
        segment_len: int = 64
        rel_buckets: int = 32

        def __post_init__(self) -> None:
            super().__post_init__()
            check_positive("mem_len", self.mem_len, minimum=0)
            check_positive("segment_len", self.segment_len)
            check_positive("rel_buckets", self.rel_buckets, minimum=4)

    segmented = True
    detach_memory = True
    state_doc = "Tensor (B, mem_len, D): past inputs of this layer; all-zero rows are empty"

    def __init__(self, dim: int, n_heads: int, config: Config | None = None):
        super().__init__(dim, n_heads, config)
        self.mem_len = self.config.mem_len
        self.segment_len = self.config.segment_len
        self.rel_buckets = self.config.rel_buckets
        self.rel_bias = nn.Parameter(torch.zeros(n_heads, self.rel_buckets))

    def init_state(self, batch: int, device: Any = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.zeros(batch, self.mem_len, self.dim, device=device, dtype=dtype)

    def buckets(self, n_query: int, n_mem: int, device: Any) -> torch.Tensor:
        """(T, M+T) bucket of each query-key distance."""
        return bucket_grid(n_query, n_mem, self.rel_buckets, not self.causal, str(device))

    def position_bias(self, n_query: int, n_mem: int, device: Any) -> torch.Tensor:
        """(H, T, M+T) learned bias of each query-key distance."""
        return self.rel_bias[:, self.buckets(n_query, n_mem, device)]

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None, detach: bool | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, d = x.shape
        if isinstance(state, MaskedMemory):
            return self.explicit_attention(x, state.mem, state.keep), None
        mem = self.init_state(b, x.device, x.dtype) if state is None else state.to(x.dtype)
        m = mem.shape[1]
        context = torch.cat([mem, x], dim=1)
        if n == 1 and not torch.is_grad_enabled():  # acting: one query over memory + itself
            keep = torch.cat([mem.ne(0).any(-1), x.new_ones(b, 1, dtype=torch.bool)], dim=1)[:, None]
            return self.explicit_attention(x, mem, keep), context[:, context.shape[1] - self.mem_len :]
        # queries only for the segment, keys/values for memory + segment (same fused weights as dense)
        w_q, w_kv = self.qkv.weight.split([d, 2 * d]), self.qkv.bias.split([d, 2 * d])
        q = self.split_heads(F.linear(x, w_q[0], w_kv[0]))
        k, v = F.linear(context, w_q[1], w_kv[1]).chunk(2, dim=-1)
        k, v = self.split_heads(k), self.split_heads(v)

        valid = torch.cat([mem.detach().ne(0).any(-1), x.new_ones(b, n, dtype=torch.bool)], dim=1)  # (B, M+T)
        if self.training and self.dropout > 0:
            y = self.attend(q, k, v, mask=self.dense_mask(valid, n, m).to(q.dtype))
        else:
            vis = Visibility(q_offset=m, before=None, after=0 if self.causal else None)
            buckets = distance_buckets(n, m, self.rel_buckets, not self.causal, str(x.device))
            y = blockwise_attention(q, k, v, vis, key_valid=valid, rel_bias=self.rel_bias, buckets=buckets)
        new_mem = context[:, context.shape[1] - self.mem_len :] if self.mem_len else context[:, :0]
        return self.merge_heads(y), new_mem.detach() if self.detaching(detach) else new_mem

    def explicit_attention(self, x: torch.Tensor, mem: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x (B, T, D) over memory + segment where ``keep`` (B, T, M+T) is True: the same weights, relative
        bias and scale as ``forward``, softmax over an explicit score tensor.  Every query must see at
        least one key (each sees itself in both uses)."""
        b, n, d = x.shape
        m = mem.shape[1]
        context = torch.cat([mem.to(x.dtype), x], dim=1)
        w, bias = self.qkv.weight.split([d, 2 * d]), self.qkv.bias.split([d, 2 * d])
        q = self.split_heads(F.linear(x, w[0], bias[0]))
        k, v = F.linear(context, w[1], bias[1]).chunk(2, dim=-1)
        k, v = self.split_heads(k), self.split_heads(v)
        scores = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1) + self.position_bias(n, m, x.device)
        probs = scores.masked_fill(~keep[:, None], float("-inf")).softmax(-1)
        probs = F.dropout(probs, self.dropout, self.training) if self.dropout > 0 else probs
        return self.merge_heads(probs @ v)

    def dense_mask(self, valid: torch.Tensor, n: int, m: int) -> torch.Tensor:
        """(B, H, T, M+T) bias with -inf at hidden keys, for SDPA (the dropout path)."""
        keep = valid[:, None, None, :]
        if self.causal:
            q_pos = torch.arange(n, device=valid.device)[:, None] + m
            keep = keep & (torch.arange(m + n, device=valid.device)[None, :] <= q_pos)
        bias = self.position_bias(n, m, valid.device)
        return bias.unsqueeze(0).masked_fill(~keep, float("-inf"))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mem_len={self.mem_len}, rel_buckets={self.rel_buckets}"
