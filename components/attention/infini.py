"""``infini``: Infini-attention (Munkhdalai et al. 2024), one segment per call.

Each head mixes local causal attention inside the segment with a read from a compressive memory:

    sigma(t)  = ELU(t) + 1
    A_mem     = sigma(Q) M / (sigma(Q) z)
    A         = g * A_mem + (1 - g) * A_local,   g = sigmoid(gate_h), one learned scalar per head
    linear:   M += sigma(K)^T V
    delta:    M += sigma(K)^T (V - sigma(K) M / (sigma(K) z))
    z += sum_t sigma(K_t)

State: (M (B, H, dk, dv), z (B, H, dk)), fp32 whatever the activation dtype (the sums grow over
the whole stream). Its size is fixed: H * (dk * dv + dk) numbers per sequence at any length.
The segment loop lives in the trunk (components/trunk.py), not here. The gate learns slowly at
the base learning rate, so ``components.optim.param_groups`` gives it ``gate_lr_mult`` x lr and no
weight decay.

``detach`` (default False): the returned memory keeps its graph, so within one trunk call a later
segment's loss reaches earlier segments through the memory; True cuts it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.attention.base import Attention, AttentionConfig, check_positive
from components.attention.registry import register_attention

EPS = 1e-6


def feature_map(t: torch.Tensor) -> torch.Tensor:
    return F.elu(t) + 1.0


@register_attention("infini")
class InfiniAttention(Attention):
    """Infini-attention: local attention + ELU+1 compressive memory (linear or delta rule), per-head gate."""

    @dataclass
    class Config(AttentionConfig):
        """segment_len: tokens per segment of the trunk's segment loop.
        delta_rule: delta-rule memory update instead of the plain linear one.
        gate_lr_mult: the memory gate's learning-rate multiplier (it learns poorly at the base lr).
        """

        segment_len: int = 64
        delta_rule: bool = True
        gate_lr_mult: float = 10.0

        def __post_init__(self) -> None:
            super().__post_init__()
            check_positive("segment_len", self.segment_len)

    segmented = True
    detach_memory = False
    state_doc = "(M (B, H, dk, dv), z (B, H, dk)) fp32 compressive memory"

    def __init__(self, dim: int, n_heads: int, config: Config | None = None):
        super().__init__(dim, n_heads, config)
        self.segment_len = self.config.segment_len
        self.delta_rule = self.config.delta_rule
        self.gate_lr_mult = self.config.gate_lr_mult
        self.gate = nn.Parameter(torch.zeros(n_heads))  # sigmoid(0) = 0.5: memory and local equally

    def init_state(self, batch: int, device: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, d = self.n_heads, self.head_dim
        return (
            torch.zeros(batch, h, d, d, device=device, dtype=torch.float32),
            torch.zeros(batch, h, d, device=device, dtype=torch.float32),
        )

    def read_and_update(self, q, k, v, memory, norm):
        """Memory retrieval for the segment's queries, then the memory after writing its keys/values (fp32)."""
        with torch.autocast(device_type=q.device.type, enabled=False):
            sq, sk, vf = feature_map(q.float()), feature_map(k.float()), v.float()
            read = (sq @ memory) / ((sq @ norm.unsqueeze(-1)) + EPS)
            if self.delta_rule:
                vf = vf - (sk @ memory) / ((sk @ norm.unsqueeze(-1)) + EPS)
            memory = memory + sk.transpose(-2, -1) @ vf
            norm = norm + sk.sum(dim=-2)
        return read, memory, norm

    def forward(
        self, x: torch.Tensor, state: Any = None, detach: bool | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        memory, norm = self.init_state(x.shape[0], x.device) if state is None else state
        q, k, v = self.qkv_heads(x)
        local = self.attend(q, k, v, is_causal=self.causal)
        read, memory, norm = self.read_and_update(q, k, v, memory.float(), norm.float())
        g = torch.sigmoid(self.gate).view(1, -1, 1, 1)
        y = g * read.to(local.dtype) + (1 - g) * local
        if self.detaching(detach):
            memory, norm = memory.detach(), norm.detach()
        return self.merge_heads(y), (memory, norm)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, segment_len={self.segment_len}, delta_rule={self.delta_rule}"
