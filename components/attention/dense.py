"""``dense``: full scaled-dot-product attention (causal by default), the reference variant."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from components.attention.base import Attention, AttentionConfig
from components.attention.registry import register_attention


@register_attention("dense")
class DenseAttention(Attention):
    """Full causal SDPA over the whole input (no memory)."""

    @dataclass
    class Config(AttentionConfig):
        """Only the shared fields (causal, dropout)."""

    def forward(self, x: torch.Tensor, state: None = None, detach: Any = None) -> tuple[torch.Tensor, None]:
        q, k, v = self.qkv_heads(x)
        return self.merge_heads(self.attend(q, k, v, is_causal=self.causal)), None
