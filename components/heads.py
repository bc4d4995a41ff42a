"""Output heads: ``register_head`` / ``create_head(name, dim, **kw)`` / ``list_head``.

    pointer  (query (B, D), keys (B, N, D), mask bool (B, N)) -> logits (B, N), -inf where mask False
    value    (B, ..., D) -> (B, ...)                       state value for PPO
    lm       (B, ..., D) -> (B, ..., vocab) logits         instruction / text LM (needs vocab=)
    reward   (B, ..., D) -> (B, ...) in [-1, 1]            value model scoring tree-search nodes

A head's ``forward`` takes either hidden states ``h`` or ``(query, keys, mask)`` (a pointer over
elements); ``example_inputs`` builds either from the signature, and a class attribute
``example_kwargs`` holds what ``create_head`` needs beyond ``dim`` (lm: a vocabulary size), so the
tests cover every registered head without knowing it.
"""
from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from zoo.core.errors import ZooError
from zoo.core.registry import family

_REGISTRY = family("head")


def register_head(name: str, doc: str | None = None):
    return _REGISTRY.register(name, doc)


def create_head(name: str, dim: int, **kw: Any) -> nn.Module:
    return _REGISTRY.get(name)(dim=int(dim), **kw)


def list_head() -> list[str]:
    return _REGISTRY.names()


def example_kwargs(name: str) -> dict[str, Any]:
    """The smallest extra build arguments of a registered head (``create_head(name, dim, **them)``)."""
    return dict(getattr(_REGISTRY.get(name), "example_kwargs", {}))


def takes_elements(head: nn.Module) -> bool:
    """True for pointer-style heads, called as ``head(query, keys, mask)``."""
    return "keys" in inspect.signature(head.forward).parameters


def example_inputs(head: nn.Module, dim: int, batch: int = 3, n: int = 5, generator: torch.Generator | None = None):
    """Positional inputs for ``head``: ``(h (B, n, D),)`` or ``(query (B, D), keys (B, n, D), mask (B, n))``.
    The mask marks some elements non-actionable in every row but keeps at least one actionable."""
    if not takes_elements(head):
        return (torch.randn(batch, n, dim, generator=generator),)
    mask = torch.rand(batch, n, generator=generator) < 0.5
    mask[:, 0], mask[:, 1] = True, False
    return torch.randn(batch, dim, generator=generator), torch.randn(batch, n, dim, generator=generator), mask


def centred_keys(keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Pointer keys (B, N, D) minus their mean over the candidates ``mask`` (B, N) allows.  The shared part adds
    one logit to every candidate anyway; taken out, candidates that are nearly alike (checkboxes of one list, the
    words of one sentence) no longer look the same once the pointer's LayerNorm has scaled them (without it Strategy
    2's pointer could not learn the recall test task)."""
    m = mask.to(keys.dtype).unsqueeze(-1)
    return keys - (keys * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1.0)


def _mlp(dim: int, hidden: int | None, out: int) -> nn.Sequential:
    hidden = hidden or dim
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out))


@register_head("pointer")
class PointerHead(nn.Module):
    """Pointer policy: scaled dot product of a query with each DOM element, non-actionable masked to -inf.

    A row whose mask is all False has no valid action: its logits are all -inf and a softmax over
    it is NaN, so callers must give such rows a fallback (e.g. a noop element that is always valid).
    """

    def __init__(self, dim: int, hidden: int | None = None, **_: Any):
        super().__init__()
        hidden = hidden or dim
        self.query = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden))
        self.key = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden))
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        logits = torch.einsum("bh,bnh->bn", self.query(query), self.key(keys)) * self.scale
        if mask is not None:
            logits = logits.masked_fill(~mask.to(torch.bool), float("-inf"))
        return logits


@register_head("value")
class ValueHead(nn.Module):
    """State value: a small MLP to one scalar per position."""

    def __init__(self, dim: int, hidden: int | None = None, **_: Any):
        super().__init__()
        self.net = _mlp(dim, hidden, 1)
        nn.init.zeros_(self.net[-1].weight)  # start at V = 0: no early value-loss spikes
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h).squeeze(-1)


@register_head("lm")
class LMHead(nn.Module):
    """Next-token logits over a (BPE) vocabulary; ``tie(embedding)`` shares the input embedding matrix."""

    example_kwargs = {"vocab": 64}

    def __init__(self, dim: int, vocab: int | None = None, vocab_size: int | None = None, **_: Any):
        super().__init__()
        vocab = vocab or vocab_size
        if not vocab or int(vocab) <= 0:
            raise ZooError("head 'lm' needs vocab=<vocabulary size> (> 0)")
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, int(vocab), bias=False)

    def tie(self, embedding: nn.Embedding) -> LMHead:
        if embedding.weight.shape != self.out.weight.shape:
            raise ValueError(f"cannot tie: embedding {tuple(embedding.weight.shape)} vs head {tuple(self.out.weight.shape)}")
        self.out.weight = embedding.weight
        return self

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(h))


@register_head("reward")
class RewardHead(nn.Module):
    """Value model for tree search: expected final reward of a state in [-1, 1] (MiniWoB's reward range)."""

    def __init__(self, dim: int, hidden: int | None = None, **_: Any):
        super().__init__()
        self.net = _mlp(dim, hidden, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(h).squeeze(-1))
