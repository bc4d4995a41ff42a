"""The factored action distribution: element pointer -> action kind -> argument, plus the value.

An action is three indices ``(slot, kind, arg)``:
  slot  element slot, pointer over the actionable elements of the observation
  kind  0 click / 1 type / 2 select, masked by what the chosen element allows; 3 press with
        ``ppo.press_keys`` (a key to the focused element, wherever the pointer is); 4 noop with ``ppo.noop``
        (nothing, wherever the pointer is; the kind head then has five outputs, press masked without press_keys)
  arg   type: index of a candidate span; select: index of an option of that element; press: index of a key
        of ``zoo.web.types.NAMED_KEYS`` (the keys Strategy 1's key head names); ignored (0) for click.
log pi(a) = log p(slot) + log p(kind | slot) + [log p(arg | slot, kind) for type/select/press].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from components.heads import centred_keys, create_head
from zoo.web.types import NAMED_KEYS

CLICK, TYPE, SELECT, PRESS, NOOP = 0, 1, 2, 3, 4


def _guard(mask: Tensor) -> Tensor:
    """A row with nothing allowed would give NaNs: allow its first entry (acted out as a no-op)."""
    empty = ~mask.any(-1, keepdim=True)
    first = torch.zeros_like(mask)
    first[..., 0] = True
    return mask | (empty & first)


def _masked(logits: Tensor, mask: Tensor) -> Tensor:
    return logits.masked_fill(~mask, torch.finfo(logits.dtype).min)


def _categorical(logits: Tensor) -> Categorical:
    """Without torch.distributions' argument checks (a few small ops per distribution and sample, four
    distributions per step): the logits are finite by construction (masked entries get finfo.min)."""
    return Categorical(logits=logits, validate_args=False)


def _gather(x: Tensor, index: Tensor) -> Tensor:
    """x (B, N, D), index (B,) -> (B, D)."""
    return x.gather(1, index.view(-1, 1, 1).expand(-1, 1, x.shape[-1])).squeeze(1)


@dataclass
class Encoded:
    """What the observation encoder hands the memory core and the heads (one row per env)."""

    summary: Tensor  # (B, D) one token per observation, the memory core's input
    elements: Tensor  # (B, E, D) pointer keys
    spans: Tensor  # (B, S, D) candidate strings to type
    options: Tensor  # (B, O, D) <select> options
    aux_loss: Tensor  # scalar: the frame tokenizer's own loss (0 without screen tokens)


@dataclass
class ActionDist:
    slot: Tensor  # (B, 3) long actions
    logp: Tensor  # (B,)
    entropy: Tensor  # (B,)
    value: Tensor  # (B,)


class PolicyHeads(nn.Module):
    def __init__(self, dim: int, press_keys: bool = False, noop: bool = False):
        super().__init__()

        self.element_pointer = create_head("pointer", dim=dim)
        self.noop = bool(noop)
        kinds = NOOP + 1 if noop else (PRESS + 1 if press_keys else SELECT + 1)
        self.kind = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, kinds))
        # which key depends on the page, not on the element pointed at (it goes to the focused one)
        self.key = nn.Linear(dim, len(NAMED_KEYS)) if press_keys else None
        self.arg_query = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.arg_pointer = create_head("pointer", dim=dim)
        self.value = create_head("value", dim=dim)

    def element_logits(self, h: Tensor, enc: Encoded, b: dict[str, Tensor]) -> Tensor:
        """(B, E) pointer logits over the clickable elements (a huge negative number elsewhere)."""
        mask = _guard(b["el_click"] & b["el_valid"])
        return _masked(self.element_pointer(h, centred_keys(enc.elements, mask), mask), mask)

    def forward(self, h: Tensor, enc: Encoded, b: dict[str, Tensor], actions: Tensor | None = None,
                greedy: bool = False) -> ActionDist:
        """Sample (``actions`` None; argmax when ``greedy``) or score the given ``actions`` (B, 3)."""
        el_dist = _categorical(self.element_logits(h, enc, b))
        slot = actions[:, 0] if actions is not None else (el_dist.probs.argmax(-1) if greedy else el_dist.sample())
        e_sel = _gather(enc.elements, slot)
        ctx = torch.cat([h, e_sel], -1)

        rows = torch.arange(len(slot), device=slot.device)
        can_type = b["el_type"][rows, slot] & b["span_valid"].any(-1)
        opt_mask = b["opt_valid"] & (b["opt_owner"] == slot.unsqueeze(-1))
        can_select = b["el_select"][rows, slot] & opt_mask.any(-1)
        every, none = torch.ones_like(can_type), torch.zeros_like(can_type)
        # in kind order, cut to the head's outputs (press exists with press_keys or noop, allowed with press_keys;
        # the no-op is allowed until ppo.noop_limit of them in a row, noop_ok)
        allowed = [every, can_type, can_select, every if self.key is not None else none, b["noop_ok"].bool()]
        kind_mask = torch.stack(allowed[: self.kind[-1].out_features], -1)
        kind_dist = _categorical(_masked(self.kind(ctx), kind_mask))
        kind = actions[:, 1] if actions is not None else (kind_dist.probs.argmax(-1) if greedy else kind_dist.sample())

        # both argument pointers are scored; the action's kind decides which one counts
        q = self.arg_query(ctx)
        span_mask, opt_mask = _guard(b["span_valid"]), _guard(opt_mask)
        span_dist = _categorical(_masked(self.arg_pointer(q, centred_keys(enc.spans, span_mask), span_mask), span_mask))
        opt_dist = _categorical(_masked(self.arg_pointer(q, centred_keys(enc.options, opt_mask), opt_mask), opt_mask))
        key_dist = _categorical(self.key(h)) if self.key is not None else None
        if actions is not None:
            arg = actions[:, 2]
        else:
            pick = (lambda d: d.probs.argmax(-1)) if greedy else (lambda d: d.sample())
            arg = torch.where(kind == TYPE, pick(span_dist), torch.where(kind == SELECT, pick(opt_dist), 0))
            if key_dist is not None:
                arg = torch.where(kind == PRESS, pick(key_dist), arg)
        is_type, is_select = (kind == TYPE).float(), (kind == SELECT).float()
        arg_logp = is_type * span_dist.log_prob(arg.clamp(max=span_mask.shape[-1] - 1)) + \
            is_select * opt_dist.log_prob(arg.clamp(max=opt_mask.shape[-1] - 1))
        arg_ent = is_type * span_dist.entropy() + is_select * opt_dist.entropy()
        if key_dist is not None:
            is_press = (kind == PRESS).float()
            arg_logp = arg_logp + is_press * key_dist.log_prob(arg.clamp(max=len(NAMED_KEYS) - 1))
            arg_ent = arg_ent + is_press * key_dist.entropy()
        logp = el_dist.log_prob(slot) + kind_dist.log_prob(kind) + arg_logp
        entropy = el_dist.entropy() + kind_dist.entropy() + arg_ent
        return ActionDist(torch.stack([slot, kind, arg], -1), logp, entropy, self.value(h))
