"""What every attention variant shares: its config fields, the projections, head split/merge.

A variant declares its own fields as a ``Config`` dataclass (a subclass of ``AttentionConfig``)
on its class; ``register_attention`` records it, and ``create_attention`` / ``attention_config``
check a user's fields against it (components/attention/registry.py). Values are checked when the
config is made (``__post_init__``), so a bad value fails at compose time, not deep in a fit.

All variants keep the same parameter names (``qkv`` fused input projection, ``proj`` output
projection), so weights of one variant load into another; the equivalence tests rely on it.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from zoo.core.errors import ZooError


def check_positive(name: str, value: int, minimum: int = 1) -> int:
    if int(value) < minimum:
        raise ZooError(f"bad value for 'attention.{name}': {value} (must be >= {minimum})")
    return int(value)


def check_heads(dim: int, n_heads: int, where: str = "model.") -> int:
    """The one check that ``n_heads`` splits ``dim`` (keys named ``<where>n_heads``); the head width."""
    if int(n_heads) < 1 or int(dim) % int(n_heads):
        raise ZooError(f"bad value for '{where}n_heads': {n_heads} does not divide {where}dim={dim}")
    return int(dim) // int(n_heads)


def _typed(cls: type, key: str, value: Any) -> Any:
    """``value`` as the declared type of field ``key`` (int / float / bool), or a one-line error."""
    kind = typing.get_type_hints(cls).get(key)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(kind, True)  # type: ignore[arg-type]
    if not ok:
        raise ZooError(f"bad value for 'attention.{key}': {value!r} (expected {getattr(kind, '__name__', kind)})")
    return float(value) if kind is float else value


@dataclass
class AttentionConfig:
    """Fields every variant has.

    causal: mask future keys.
    dropout: attention-probability dropout in training.
    """

    name: ClassVar[str] = ""  # set by register_attention on the variant's own Config

    causal: bool = True
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _typed(type(self), f.name, getattr(self, f.name)))
        if not 0.0 <= self.dropout < 1.0:
            raise ZooError(f"bad value for 'attention.dropout': {self.dropout} (must be in [0, 1))")

    def as_dict(self) -> dict[str, Any]:
        """``name`` and the fields, as written in a config file."""
        return {"name": self.name, **dataclasses.asdict(self)}


class Attention(nn.Module):
    """Multi-head attention skeleton: ``y, state = attn(x, state=None, detach=None)``.

    Config: the variant's fields (a subclass of AttentionConfig, declared by every variant).
    segmented: True when the variant carries a memory from one segment to the next, so the
        trunk feeds long inputs in segments of ``segment_len`` tokens (xl, infini).
    detach_memory: what ``detach=None`` means for the returned memory (True: cut its graph, as
        Transformer-XL's stop-gradient does; False: a later segment's loss reaches earlier ones).
    """

    Config: ClassVar[type[AttentionConfig]] = AttentionConfig
    segmented = False
    detach_memory = True
    state_doc = "None (stateless)"

    def __init__(self, dim: int, n_heads: int, config: AttentionConfig | None = None):
        super().__init__()
        config = self.Config() if config is None else config
        if type(config) is not self.Config:
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config
        self.head_dim = check_heads(dim, n_heads)
        self.dim, self.n_heads = int(dim), int(n_heads)
        self.causal = config.causal
        self.dropout = config.dropout
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

    def detaching(self, detach: bool | None) -> bool:
        return self.detach_memory if detach is None else bool(detach)

    def init_state(self, batch: int, device: torch.device | str | None = None) -> Any:
        """The empty memory for ``batch`` sequences (None for stateless variants)."""
        return None

    @property
    def has_memory(self) -> bool:
        """True when the variant carries a state between calls (its ``init_state`` is not None)."""
        return self.init_state(1, "meta") is not None

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_heads={self.n_heads}, causal={self.causal}"
