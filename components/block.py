"""The transformer Block every model is built from, and the FSDP wrap unit.

Pre-norm: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``. With ``gated_residual`` each residual
add is replaced by the GRU-type gate of GTrXL (Parisotto et al. 2019), whose bias starts the
gate near the identity; GTrXL found this stabilises RL training of memory transformers.
Any registered attention variant plugs in; its state goes in and comes out of ``forward``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.attention import AttentionConfig, attention_config, create_attention


class GRUGate(nn.Module):
    """g(x, y) = (1 - z) * x + z * tanh(W_g y + U_g (r * x)), GTrXL's residual gate."""

    def __init__(self, dim: int, bias: float = 2.0):
        super().__init__()
        self.w = nn.Linear(dim, 3 * dim, bias=False)  # W_r, W_z, W_g applied to the sublayer output y
        self.u = nn.Linear(dim, 2 * dim, bias=False)  # U_r, U_z applied to the stream x
        self.u_g = nn.Linear(dim, dim, bias=False)
        self.gate_bias = nn.Parameter(torch.full((dim,), float(bias)))  # > 0: z small, gate ~ identity

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w_r, w_z, w_g = self.w(y).chunk(3, dim=-1)
        u_r, u_z = self.u(x).chunk(2, dim=-1)
        r = torch.sigmoid(w_r + u_r)
        z = torch.sigmoid(w_z + u_z - self.gate_bias)
        h = torch.tanh(w_g + self.u_g(r * x))
        return (1 - z) * x + z * h


class Block(nn.Module):
    """Pre-norm transformer block: ``x, state = block(x, state, detach=None)``.

    attention: the variant's Config (typed once, e.g. by the trunk), or a name / mapping spec.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        attention: AttentionConfig | Any = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        gated_residual: bool = False,
    ):
        super().__init__()
        self.attn = create_attention(attention_config(attention), dim, n_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = max(1, int(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)
        self.gated = bool(gated_residual)
        self.gate_attn = GRUGate(dim) if self.gated else None
        self.gate_mlp = GRUGate(dim) if self.gated else None

    def forward(self, x: torch.Tensor, state: Any = None, detach: bool | None = None) -> tuple[torch.Tensor, Any]:
        """``detach``: passed to the attention (cut the returned memory's graph; None: its default)."""
        a, state = self.attn(self.norm1(x), state, detach=detach)
        a = self.drop(a)
        # GTrXL passes the sublayer output through a ReLU before gating
        x = self.gate_attn(x, F.relu(a)) if self.gated else x + a
        m = self.drop(self.mlp(self.norm2(x)))
        x = self.gate_mlp(x, F.relu(m)) if self.gated else x + m
        return x, state

    def init_state(self, batch: int, device: Any = None) -> Any:
        return self.attn.init_state(batch, device)
