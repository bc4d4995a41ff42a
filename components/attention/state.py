"""Helpers over attention states (None, a tensor, or tuples/lists of tensors, batch first).

Memory is always passed in and returned explicitly, never kept on modules, so rollouts can store
it, minibatches can slice it and finished episodes can clear it with these functions.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: Any) -> Any:
    """Apply ``fn`` to every tensor of a (nested) state, keeping its structure."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, (list, tuple)):
        return type(state)(map_state(fn, s) for s in state)
    raise TypeError(f"unsupported attention state element {type(state).__name__}")


def detach_state(state: Any) -> Any:
    return map_state(torch.Tensor.detach, state)


def reset_state(state: Any, done: torch.Tensor) -> Any:
    """Zero the memory of the sequences where ``done`` (bool (B,)) is True.

    Zero is the empty memory of every variant: xl masks all-zero memory rows out, infini's
    retrieval from M = 0, z = 0 is 0.
    """

    def clear(t: torch.Tensor) -> torch.Tensor:
        keep = (~done.to(device=t.device, dtype=torch.bool)).view(-1, *([1] * (t.dim() - 1)))
        return t * keep.to(t.dtype)

    return map_state(clear, state)


def index_state(state: Any, index: torch.Tensor | slice) -> Any:
    """Select sequences (batch rows) of a state, e.g. for a PPO minibatch."""
    return map_state(lambda t: t[index], state)


def cat_state(states: list[Any]) -> Any:
    """Concatenate states of several batches along the batch dimension."""
    first = states[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        return torch.cat(states, dim=0)
    return type(first)(cat_state([s[i] for s in states]) for i in range(len(first)))
