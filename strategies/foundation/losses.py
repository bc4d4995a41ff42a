"""The training objectives of the three stages, computed from one forward pass.

    pretrain  lm (goal text + action lines) + frame (next-frame-token pixels) + tokenizer aux loss
    sft       lm (action lines only: the numbered instructions) + copy (supervised copying of the
              line tokens found in the goal / pointed element) + action heads on expert steps
    rl        value (returns) + distill (search visit distributions) + action heads + lm, copy on lines

Every term is averaged over the positions that have a target; a term without targets in the
batch is a zero that still depends on the parameters (DDP/FSDP see the same graph every step).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from strategies.foundation.batch import Batch
from strategies.foundation.model import FoundationModel
from strategies.foundation.sequence import IGNORE

STAGE_TERMS = {
    "pretrain": {"lm_goal", "lm_line", "frame", "aux"},
    "sft": {"lm_line", "copy", "pointer", "kind", "key", "span"},
    "rl": {"lm_line", "copy", "pointer", "kind", "key", "span", "value", "distill"},
}


def _ce(logits: torch.Tensor, target: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    if target.numel() == 0:
        return anchor.sum() * 0.0
    return F.cross_entropy(logits, target)


def compute_losses(model: FoundationModel, batch: Batch, terms: set[str]) -> dict[str, torch.Tensor]:
    """Loss terms (and accuracies, detached) named in ``terms``."""
    h, aux = model(batch)
    anchor = h  # zero terms hang off the graph so every parameter path stays used
    out: dict[str, torch.Tensor] = {}
    if "aux" in terms:
        out["aux"] = aux + anchor.sum() * 0.0
    for name, kind in (("lm_goal", 1), ("lm_line", 2)):
        if name not in terms:
            continue
        b_idx, p_idx = torch.nonzero((batch.lm_target != IGNORE) & (batch.lm_kind == kind), as_tuple=True)
        target = batch.lm_target[b_idx, p_idx]
        if target.numel():
            vocab_p, copy, gate, has_source = model.lm_parts(h, batch, b_idx, p_idx)
            logp = torch.log((1 - gate) * vocab_p + gate * copy + 1e-9)
            out[name] = F.nll_loss(logp, target)
            out[f"{name}_acc"] = (logp.argmax(-1) == target).float().mean().detach()
            if name == "lm_line" and "copy" in terms:
                out["copy"] = _copy_loss(copy, gate, has_source, target)
        else:
            out[name] = anchor.sum() * 0.0
            if name == "lm_line" and "copy" in terms:
                out["copy"] = anchor.sum() * 0.0
    if "frame" in terms and model.frame_tokenizer is not None:
        sel = batch.next_frame_no >= 0
        if bool(sel.any()):
            target = model.frame_targets(batch.frames)[batch.next_frame_no[sel], batch.next_frame_j[sel]]
            out["frame"] = F.mse_loss(model.frame_head(h[sel]), target)
        else:
            out["frame"] = anchor.sum() * 0.0
    act_terms = terms & {"pointer", "kind", "key", "span", "value", "distill"}
    if act_terms and batch.act_b.numel():
        heads = model.act_heads(h, batch)
        out.update(_action_losses(model, h, batch, heads, act_terms, anchor))
    return out


def _copy_loss(copy: torch.Tensor, gate: torch.Tensor, has_source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Supervised copying: where the target token is in the copy sources, the copy distribution
    should find it and the gate should open; where it is not, the gate should stay shut.  Without
    it a small model memorises the training names through its vocabulary and garbles new ones."""
    p_copy = copy.gather(1, target.unsqueeze(1)).squeeze(1)
    copyable = (p_copy > 0) & has_source.squeeze(1)
    g = gate.squeeze(1).clamp(1e-6, 1 - 1e-6)
    gate_loss = F.binary_cross_entropy(g[has_source.squeeze(1)], copyable[has_source.squeeze(1)].float()) \
        if bool(has_source.any()) else g.sum() * 0.0
    find = -torch.log(p_copy[copyable] + 1e-9).mean() if bool(copyable.any()) else p_copy.sum() * 0.0
    return gate_loss + find


def _action_losses(model, h, batch, heads, terms, anchor) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    has_slot = batch.slot >= 0
    if "pointer" in terms:
        out["pointer"] = _ce(heads["pointer"][has_slot], batch.slot[has_slot], anchor)
        if bool(has_slot.any()):
            out["pointer_acc"] = (heads["pointer"][has_slot].argmax(-1) == batch.slot[has_slot]).float().mean().detach()
    if "kind" in terms:
        sel = batch.kind >= 0
        out["kind"] = _ce(heads["kind"][sel], batch.kind[sel], anchor)
    if "key" in terms:
        sel = batch.key >= 0
        out["key"] = _ce(heads["key"][sel], batch.key[sel], anchor)
    if "span" in terms:
        rows = torch.nonzero((batch.span >= 0) & has_slot).flatten()
        if rows.numel():
            logits = model.span_logits(h, batch, rows, heads["q"][rows], batch.slot[rows])
            out["span"] = F.cross_entropy(logits, batch.span[rows])
            out["span_acc"] = (logits.argmax(-1) == batch.span[rows]).float().mean().detach()
        else:
            out["span"] = anchor.sum() * 0.0
    if "value" in terms:
        sel = ~torch.isnan(batch.value)
        out["value"] = F.mse_loss(heads["value"][sel], batch.value[sel]) if bool(sel.any()) else anchor.sum() * 0.0
    if "distill" in terms:  # the search's root visits: over elements (pointer) and action kinds (kind head)
        out["distill"] = anchor.sum() * 0.0
        sel = batch.has_visit
        if bool(sel.any()):
            logp = torch.log_softmax(heads["pointer"][sel], dim=-1)
            logp = torch.where(heads["mask"][sel], logp, torch.zeros_like(logp))  # -inf * 0 would be nan
            out["distill"] = out["distill"] - (batch.visit[sel] * logp).sum(-1).mean()
        sel = batch.has_visit_kind
        if bool(sel.any()):
            logp = torch.log_softmax(heads["kind"][sel], dim=-1)
            out["distill"] = out["distill"] - (batch.visit_kind[sel] * logp).sum(-1).mean()
    return out


def weighted_total(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Sum of the loss terms (accuracies excluded) with per-term weights (default 1)."""
    terms = [weights.get(k, 1.0) * v for k, v in losses.items() if not k.endswith("_acc")]
    return torch.stack(terms).sum()
