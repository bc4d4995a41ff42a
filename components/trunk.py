"""The transformer trunk both strategies share: embeddings in, contextualised embeddings out.

``Transformer(model_cfg)`` stacks ``n_layers`` Blocks and a final LayerNorm. The model config
(a ModelConfig, DictConfig, mapping, or keyword fields) is typed once, by ``trunk_config``, into a
``TrunkConfig`` whose ``attention`` is the variant's own Config; Blocks and attention layers get
those dataclasses. The strategies embed their own inputs (DOM elements, frame tokens, text), so
the trunk takes (B, T, D) embeddings:

    y, states = trunk(x, states=None, detach=None)   # states: one entry per layer (components.attention)

For the memory variants (xl, infini) the input is cut into segments of ``segment_len`` tokens and
each segment runs through every layer before the next one starts, so layer l's memory of segment
s feeds layer l at segment s+1 (the segment loop lives here, outside the attention modules).
``detach`` says whether gradients cross segment boundaries through the memory:

    None   each variant's default: infini's compressive memory keeps its graph inside a call (a
           later segment's loss reaches earlier segments), xl detaches every segment (Transformer-XL's
           stop-gradient); the returned states are detached, ready to be stored in a rollout.
    True   every memory is detached at every segment, and the returned states too.
    False  no memory is detached: the returned states keep their graph, so a caller that feeds
           them back in (Strategy 2's replay of a rollout) backpropagates through the memory.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from components.attention import AttentionConfig, attention_config, detach_state, reset_state
from components.block import Block
from components.optim import param_groups
from zoo.core.errors import ZooError, did_you_mean
from zoo.schema.model import ModelConfig


@dataclass
class TrunkConfig:
    """The trunk's fields, typed (see ``zoo.schema.model.ModelConfig`` for their meaning)."""

    dim: int
    n_layers: int
    n_heads: int
    mlp_ratio: float
    dropout: float
    gated_residual: bool
    attention: AttentionConfig


TRUNK_FIELDS = tuple(f.name for f in dataclasses.fields(TrunkConfig))
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))


def trunk_config(model_cfg: Any = None, **overrides: Any) -> TrunkConfig:
    """A TrunkConfig from a model config (its other fields are left to the strategies) and keyword
    overrides, missing fields from ModelConfig's defaults; unknown fields are a one-line ZooError."""
    if isinstance(model_cfg, TrunkConfig):
        return dataclasses.replace(model_cfg, **overrides) if overrides else model_cfg
    if model_cfg is None:
        given: dict[str, Any] = {}
    elif dataclasses.is_dataclass(model_cfg) and not isinstance(model_cfg, type):
        given = {f.name: getattr(model_cfg, f.name) for f in dataclasses.fields(model_cfg)}
    elif isinstance(model_cfg, Mapping) or hasattr(model_cfg, "keys"):  # a mapping or a DictConfig
        given = {str(k): model_cfg[k] for k in model_cfg.keys()}
    else:
        raise ZooError(f"model config must be a ModelConfig or a mapping, got {type(model_cfg).__name__}")
    given.update(overrides)
    for key in given:
        if key not in MODEL_FIELDS:
            raise ZooError(f"unknown model field '{key}'{did_you_mean(key, MODEL_FIELDS)}; "
                           f"valid fields: {', '.join(MODEL_FIELDS)}")
    defaults = ModelConfig()
    value = {k: given[k] if k in given else getattr(defaults, k) for k in TRUNK_FIELDS}
    for name in ("dim", "n_layers", "n_heads"):
        if int(value[name]) <= 0:
            raise ZooError(f"bad value for 'model.{name}': {value[name]} (must be > 0)")
    return TrunkConfig(
        dim=int(value["dim"]), n_layers=int(value["n_layers"]), n_heads=int(value["n_heads"]),
        mlp_ratio=float(value["mlp_ratio"]), dropout=float(value["dropout"]),
        gated_residual=bool(value["gated_residual"]), attention=attention_config(value["attention"]),
    )


class Transformer(nn.Module):
    """Stack of pre-norm Blocks over input embeddings; ``y, states = trunk(x, states, detach=None)``."""

    def __init__(self, model_cfg: Any = None, **overrides: Any):
        super().__init__()
        cfg = trunk_config(model_cfg, **overrides)
        self.config = cfg
        self.dim = cfg.dim
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.n_heads, attention=cfg.attention, mlp_ratio=cfg.mlp_ratio,
                  dropout=cfg.dropout, gated_residual=cfg.gated_residual)
            for _ in range(cfg.n_layers)
        )
        self.norm = nn.LayerNorm(self.dim)
        first = self.blocks[0].attn
        self.segment_len: int | None = first.segment_len if first.segmented else None

    @property
    def attention_name(self) -> str:
        return self.config.attention.name

    @property
    def has_memory(self) -> bool:
        """True when the layers carry a state from one call to the next (xl, infini)."""
        return any(blk.attn.has_memory for blk in self.blocks)

    def init_state(self, batch: int, device: Any = None) -> list[Any]:
        return [blk.init_state(batch, device) for blk in self.blocks]

    def reset_state(self, states: list[Any], done: torch.Tensor) -> list[Any]:
        """Clear the memory of sequences whose episode ended (``done`` bool (B,))."""
        return [reset_state(s, done) for s in states]

    def forward(
        self, x: torch.Tensor, states: list[Any] | None = None, detach: bool | None = None
    ) -> tuple[torch.Tensor, list[Any]]:
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
                piece, st = blk(piece, st, detach=detach)
                new_states.append(st)
            states = new_states
            outputs.append(piece)
        y = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return self.norm(y), states if detach is False else [detach_state(s) for s in states]

    def param_groups(self, base_lr: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
        return param_groups(self, base_lr, weight_decay)
