"""The transformer trunk both strategies share: embeddings in, contextualised embeddings out.

``Transformer(model_cfg)`` (a ModelConfig, DictConfig, dict, or keyword fields) stacks
``n_layers`` Blocks and a final LayerNorm. The strategies embed their own inputs (DOM elements,
frame tokens, text), so the trunk takes (B, T, D) embeddings:

    y, states = trunk(x, states=None)      # states: one entry per layer (see components.attention)

For the memory variants (xl, infini) the input is cut into segments of ``segment_len`` tokens and
each segment runs through every layer before the next one starts, so layer l's memory of segment
s feeds layer l at segment s+1 (the segment loop lives here, outside the attention modules).
Whether gradients cross segment boundaries depends on the variant: infini's compressive memory
is not detached inside a call, so a later segment's loss reaches earlier segments through it; xl
detaches its memory every segment (Transformer-XL's stop-gradient), so each segment's gradient
stays within that segment. Either way the returned states are detached, ready to be stored in a
rollout or fed to the next call.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from components.attention import detach_state, reset_state
from components.attention.registry import as_dict
from components.block import Block
from zoo.core.errors import ZooError
from zoo.schema.model import ModelConfig

TRUNK_FIELDS = ("dim", "n_layers", "n_heads", "mlp_ratio", "dropout", "gated_residual", "attention")


def trunk_config(model_cfg: Any = None, **kwargs: Any) -> dict[str, Any]:
    """The trunk's fields from a model config, overridden by keyword arguments."""
    defaults = dataclasses.asdict(ModelConfig())
    given = as_dict(model_cfg) if model_cfg is not None else {}
    valid = set(defaults)
    for key in list(given) + list(kwargs):
        if key not in valid:
            raise ZooError(f"unknown model field '{key}'; valid fields: {', '.join(sorted(valid))}")
    merged = {**defaults, **given, **kwargs}
    merged["attention"] = as_dict(merged["attention"])
    return {k: merged[k] for k in TRUNK_FIELDS}


class Transformer(nn.Module):
    """Stack of pre-norm Blocks over input embeddings; ``y, states = trunk(x, states)``."""

    def __init__(self, model_cfg: Any = None, **kwargs: Any):
        super().__init__()
        cfg = trunk_config(model_cfg, **kwargs)
        if int(cfg["n_layers"]) <= 0:
            raise ZooError(f"bad value for 'model.n_layers': {cfg['n_layers']} (must be > 0)")
        self.dim = int(cfg["dim"])
        self.blocks = nn.ModuleList(
            Block(
                self.dim,
                int(cfg["n_heads"]),
                attention=cfg["attention"],
                mlp_ratio=float(cfg["mlp_ratio"]),
                dropout=float(cfg["dropout"]),
                gated_residual=bool(cfg["gated_residual"]),
            )
            for _ in range(int(cfg["n_layers"]))
        )
        self.norm = nn.LayerNorm(self.dim)
        first = self.blocks[0].attn
        self.segment_len: int | None = first.segment_len if first.segmented else None

    @property
    def attention_name(self) -> str:
        from zoo.core.registry import family

        cls = type(self.blocks[0].attn)
        return next((n for n in family("attention").names() if family("attention").get(n) is cls), cls.__name__)

    def init_state(self, batch: int, device: Any = None) -> list[Any]:
        return [blk.init_state(batch, device) for blk in self.blocks]

    def reset_state(self, states: list[Any], done: torch.Tensor) -> list[Any]:
        """Clear the memory of sequences whose episode ended (``done`` bool (B,))."""
        return [reset_state(s, done) for s in states]

    def forward(self, x: torch.Tensor, states: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"trunk expects (B, T, {self.dim}) embeddings, got {tuple(x.shape)}")
        if states is None:
            states = [None] * len(self.blocks)
        elif len(states) != len(self.blocks):
            raise ValueError(f"expected {len(self.blocks)} layer states, got {len(states)}")
        seg = self.segment_len
        pieces = x.split(seg, dim=1) if seg and x.shape[1] > seg else (x,)
        outputs = []
        for piece in pieces:
            new_states = []
            for blk, st in zip(self.blocks, states):
                piece, st = blk(piece, st)
                new_states.append(st)
            states = new_states
            outputs.append(piece)
        y = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return self.norm(y), [detach_state(s) for s in states]

    def param_groups(self, base_lr: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
        from components.optim import param_groups

        return param_groups(self, base_lr, weight_decay)
