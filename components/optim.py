"""Optimiser parameter groups for models built from components.

``param_groups(model, base_lr, weight_decay)`` returns groups for ``torch.optim.AdamW(groups)``:

    decay        matrices (Linear/conv weights, codebooks)      lr, weight_decay
    no_decay     biases, norms, position tables, 1-d params      lr, 0
    infini_gate  Infini-attention memory gates                   lr * gate_lr_mult, 0

The Infini-attention gate is one scalar per head that learns poorly at the base learning rate
(reference notes), hence its own higher rate and no decay pulling it back to 0.

``warmup_cosine(step, total)`` is the learning-rate factor both strategies' supervised stages use (Strategy 1's
stages, Strategy 2's cloning with ``ppo.bc_schedule=cosine``): a linear warm-up, then a cosine down to a floor.
"""
from __future__ import annotations

import math
from typing import Any

from torch import nn

NO_DECAY_NAMES = ("rel_bias", "pos_embed", "cls_token", "gate_bias", "logit_scale")


def param_groups(model: nn.Module, base_lr: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
    gate_groups: dict[float, list[nn.Parameter]] = {}
    seen: set[int] = set()
    for module in model.modules():
        mult = getattr(module, "gate_lr_mult", None)
        gate = getattr(module, "gate", None)
        if mult is not None and isinstance(gate, nn.Parameter) and gate.requires_grad:
            gate_groups.setdefault(float(mult), []).append(gate)
            seen.add(id(gate))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        leaf = name.rsplit(".", 1)[-1]
        if p.dim() < 2 or leaf in NO_DECAY_NAMES:
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [
        {"name": "decay", "params": decay, "lr": base_lr, "weight_decay": weight_decay},
        {"name": "no_decay", "params": no_decay, "lr": base_lr, "weight_decay": 0.0},
    ]
    for mult, params in sorted(gate_groups.items()):
        groups.append({"name": "infini_gate", "params": params, "lr": base_lr * mult, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


WARMUP_STEPS = 10  # the warm-up of every schedule built on warmup_cosine (both strategies' supervised stages)


def warmup_cosine(step: int, total: int, warmup: int = WARMUP_STEPS, floor: float = 0.1) -> float:
    """The factor of the base learning rate at optimiser step ``step`` (0-based) of ``total``: ``(step + 1) / warmup``
    over the first ``warmup`` steps, then a cosine from 1 down to ``floor``, reached at step ``total`` and kept."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
