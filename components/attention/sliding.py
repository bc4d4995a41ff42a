"""``sliding``: sliding-window sparse attention; each query sees exactly ``window`` keys.

Window convention (pinned by tests/test_attention_equivalence.py): causal query i sees keys
i-W+1 .. i, i.e. W keys counting itself. The FlexAttention idiom ``q - kv <= W`` would keep
W+1 keys; ``keep_key`` below uses ``q - kv < W`` and is the single rule both backends share.
Non-causal: keys i-(W-1)//2 .. i+W//2 (again exactly W).

Backends: on CUDA, FlexAttention with a block mask (compiled once, cached per length). On CPU,
``blockwise_attention`` (components/attention/blockwise.py): blocks of queries, each over only the
keys of its band, recomputed in backward, so memory stays near dense SDPA's at any length.
With attention dropout in training (which neither Flex nor the blockwise kernel replays), SDPA
over unfolded query blocks with a band mask, whose memory grows as T*W.
FlexAttention has no CPU backward, hence not used there.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from components.attention.base import Attention, AttentionConfig, check_positive
from components.attention.blockwise import Visibility, blockwise_attention
from components.attention.registry import register_attention

MIN_BLOCK = 128  # query block of the CPU path; small windows still get reasonably sized matmuls


def window_bounds(window: int, causal: bool) -> tuple[int, int]:
    """(before, after): query i sees keys i-before .. i+after; before + after + 1 == window."""
    if causal:
        return window - 1, 0
    return (window - 1) // 2, window // 2


def keep_key(q_idx: torch.Tensor, kv_idx: torch.Tensor, window: int, causal: bool) -> torch.Tensor:
    """True where query ``q_idx`` may attend key ``kv_idx`` (works on broadcastable index tensors)."""
    before, after = window_bounds(window, causal)
    diff = q_idx - kv_idx
    return (diff <= before) & (diff >= -after)


def band_mask(n: int, window: int, causal: bool, device: Any = None) -> torch.Tensor:
    idx = torch.arange(n, device=device)
    return keep_key(idx[:, None], idx[None, :], window, causal)


def blocked_sliding_sdpa(
    q, k, v, window: int, causal: bool, dropout: float = 0.0, block: int | None = None
) -> torch.Tensor:
    """Exact sliding-window attention with SDPA over query blocks (CPU-friendly, differentiable).

    ``block`` (queries per block; default max(window, MIN_BLOCK)) only trades matmul size for
    wasted keys: each block attends block + window - 1 keys. Inputs of at most one block take a
    single band-masked SDPA call.
    """
    n = q.shape[-2]
    block = int(block) if block else max(window, MIN_BLOCK)
    if n <= block:
        mask = band_mask(n, window, causal, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
    before, after = window_bounds(window, causal)
    n_blocks = -(-n // block)
    pad_end = n_blocks * block - n
    span = block + before + after  # keys a block of queries can reach
    # pad keys so block b's span starts at b*block in padded coordinates
    kp = F.pad(k, (0, 0, before, after + pad_end))
    vp = F.pad(v, (0, 0, before, after + pad_end))
    kb = kp.unfold(-2, span, block).transpose(-1, -2)  # (B, H, nb, span, Dh)
    vb = vp.unfold(-2, span, block).transpose(-1, -2)
    qb = F.pad(q, (0, 0, 0, pad_end)).unflatten(-2, (n_blocks, block))  # (B, H, nb, block, Dh)
    q_pos = torch.arange(n_blocks * block, device=q.device).view(n_blocks, block, 1)
    k_pos = (torch.arange(n_blocks, device=q.device) * block).view(n_blocks, 1, 1) - before
    k_pos = k_pos + torch.arange(span, device=q.device).view(1, 1, span)
    mask = keep_key(q_pos, k_pos, window, causal) & (k_pos >= 0) & (k_pos < n)
    mask = mask | (q_pos >= n)  # padded queries (dropped below) must not be all-masked rows (NaN)
    out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask, dropout_p=dropout)
    return out.flatten(-3, -2)[..., :n, :]


@functools.lru_cache(maxsize=32)
def _flex_block_mask(n: int, window: int, causal: bool, device: str):
    from torch.nn.attention.flex_attention import create_block_mask

    def mask_mod(b, h, q_idx, kv_idx):
        return keep_key(q_idx, kv_idx, window, causal)

    # compiled on CUDA: the eager form evaluates mask_mod on every (query, key) pair at once, an n x n
    # tensor (11 GB at 32K tokens on an H200, against 105 MB for dense SDPA's whole step)
    return create_block_mask(mask_mod, None, None, n, n, device=device, _compile=device.startswith("cuda"))


@functools.lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention)  # fused kernel; lengths go dynamic after the first recompile


def flex_sliding(q, k, v, window: int, causal: bool, compiled: bool = True) -> torch.Tensor:
    from torch.nn.attention.flex_attention import flex_attention

    mask = _flex_block_mask(q.shape[-2], window, causal, str(q.device))
    fn = _compiled_flex() if compiled else flex_attention
    return fn(q, k, v, block_mask=mask)


@register_attention("sliding")
class SlidingWindowAttention(Attention):
    """Sliding-window sparse attention over exactly `window` keys (Flex on CUDA, blockwise on CPU)."""

    @dataclass
    class Config(AttentionConfig):
        """window: number of keys each query sees, itself included (exactly W, not W+1)."""

        window: int = 64

        def __post_init__(self) -> None:
            super().__post_init__()
            check_positive("window", self.window)

    def __init__(self, dim: int, n_heads: int, config: Config | None = None):
        super().__init__(dim, n_heads, config)
        self.window = self.config.window
        self.backend = "auto"  # auto | blockwise | sdpa | flex (tests force a backend to compare them)
        self.query_block: int | None = None  # queries per block of the CPU paths (None: their default)

    def pick_backend(self, q: torch.Tensor) -> str:
        if self.backend != "auto":
            return self.backend
        if self.training and self.dropout > 0:
            return "sdpa"
        return "flex" if q.is_cuda else "blockwise"

    def forward(self, x: torch.Tensor, state: None = None, detach: Any = None) -> tuple[torch.Tensor, None]:
        q, k, v = self.qkv_heads(x)
        backend = self.pick_backend(q)
        if backend == "flex":
            y = flex_sliding(q, k, v, self.window, self.causal, compiled=q.is_cuda)
        elif backend == "blockwise":
            before, after = window_bounds(self.window, self.causal)
            y = blockwise_attention(q, k, v, Visibility(0, before, after), block=self.query_block)
        else:
            p = self.dropout if self.training else 0.0
            y = blocked_sliding_sdpa(q, k, v, self.window, self.causal, p, block=self.query_block)
        return self.merge_heads(y), None

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, window={self.window}"
