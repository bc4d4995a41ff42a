"""What every attention variant shares: the projections, head split/merge, argument checks.

All variants keep the same parameter names (``qkv`` fused input projection, ``proj`` output
projection), so weights of one variant load into another; the equivalence tests rely on it.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.core.errors import ZooError


def check_positive(name: str, value: int, minimum: int = 1) -> int:
    if int(value) < minimum:
        raise ZooError(f"bad value for 'attention.{name}': {value} (must be >= {minimum})")
    return int(value)


class Attention(nn.Module):
    """Multi-head attention skeleton; subclasses implement ``forward(x, state) -> (y, state)``.

    segmented: True when the variant carries a memory from one segment to the next, so the
    trunk feeds long inputs in segments of ``segment_len`` tokens (xl, infini).
    """

    segmented = False
    state_doc = "None (stateless)"

    def __init__(self, dim: int, n_heads: int, causal: bool = True, dropout: float = 0.0, **_unused: Any):
        super().__init__()
        check_positive("n_heads", n_heads)
        if dim % n_heads:
            raise ZooError(f"bad value for 'model.n_heads': {n_heads} does not divide model.dim={dim}")
        self.dim, self.n_heads, self.head_dim = dim, n_heads, dim // n_heads
        self.causal = bool(causal)
        self.dropout = float(dropout)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    # ------------------------------------------------------------------ helpers
    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, H, T, Dh)."""
        b, n, _ = t.shape
        return t.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.split_heads(q), self.split_heads(k), self.split_heads(v)

    def merge_heads(self, y: torch.Tensor) -> torch.Tensor:
        """(B, H, T, Dh) -> output projection of (B, T, D)."""
        b, _, n, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(b, n, self.dim))

    def attend(self, q, k, v, mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)

    def init_state(self, batch: int, device: torch.device | str | None = None) -> Any:
        """The empty memory for ``batch`` sequences (None for stateless variants)."""
        return None

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_heads={self.n_heads}, causal={self.causal}"
