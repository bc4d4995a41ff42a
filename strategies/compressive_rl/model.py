"""The Strategy-2 network: observation encoder -> recurrent memory core -> pointer policy + value.

Per env step:
  1. ``ObservationEncoder``: element embeddings (tag, category, text, attributes, position, flags)
     and instruction tokens go through a small bidirectional encoder together with a summary slot;
     the summary slot's output pools the whole observation into one token.
  2. ``MemoryCore``: that token goes through the components ``Transformer`` trunk, one token per
     step, with the attention state (``xl`` memory / ``infini`` compressive memory) carried across
     the steps of an episode and zeroed where an episode starts.  ``dense`` carries nothing.
  3. ``policy.py`` turns the core output and the element/span/option embeddings into the factored
     action distribution (element pointer -> action kind -> type/select argument) and the value.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from components.attention.xl import MaskedMemory, XLAttention
from components.position import FEATURES as POSITION_FEATURES
from components.position import fourier_position
from components.tokenizers import create_tokenizer
from components.trunk import Transformer
from strategies.compressive_rl.features import CATEGORIES, NUM_FEATURES, TAGS, span_features
from strategies.compressive_rl.policy import Encoded, PolicyHeads
from zoo.web.context import CONTEXT_LEVELS

MAX_STEPS_EMBEDDED = 32


ELEMENT_KEYS = ("el_text", "el_attr", "el_class", "el_context", "el_around", "el_value_asked", "el_tag", "el_cat",
                "el_num", "el_valid", "el_click", "el_type", "el_select")


def used_length(filled: Tensor) -> int:
    """1 + the last position along the last dim that is filled anywhere in the batch (at least 1)."""
    anywhere = filled.reshape(-1, filled.shape[-1]).any(0)
    return int(anywhere.nonzero().max()) + 1 if bool(anywhere.any()) else 1


def trim_padding(b: dict[str, Tensor], pad_id: int) -> dict[str, Tensor]:
    """The batch without the element slots after the last filled one and the instruction tokens after
    the last real one (over the whole batch).  Featurized observations are padded to model.max_elements
    (48) and ppo.max_instruction_len (48), while the pages have far fewer; the encoder's mixer runs over
    summary + instruction + elements, so the padding made most of the PPO update's cost.  Padding is
    masked everywhere (keys, pooling, the pointer head's logits), so the distributions are unchanged;
    actions index filled slots only, so they stay valid.  ``b``'s arrays may have any leading dims."""
    e, li = used_length(b["el_valid"]), used_length(b["instr_ids"] != pad_id)
    out = dict(b)
    lead = b["el_valid"].dim() - 1
    for k in ELEMENT_KEYS:
        if k in b:  # el_class, el_context, el_around, el_value_asked only with ppo.read_class / _context / _derived
            out[k] = b[k][(slice(None),) * lead + (slice(0, e),)]
    out["instr_ids"] = b["instr_ids"][..., :li]
    out["span_w"] = b["span_w"][..., :li]
    return out


class ObservationEncoder(nn.Module):
    def __init__(self, dim: int, n_heads: int, vocab_size: int, pad_id: int, max_instruction_len: int,
                 layers: int, mlp_ratio: float, dropout: float, screen_tokenizer: Any = None, read_class: bool = False,
                 read_context: bool = False, read_derived: bool = False):
        super().__init__()
        # optional screenshot tokens from a registered frame tokenizer (model.use_screen)
        self.screen = None
        if screen_tokenizer is not None:
            self.screen = create_tokenizer(screen_tokenizer, dim)
        self.pad_id = pad_id
        self.tok = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.tag = nn.Embedding(len(TAGS), dim)
        self.cat = nn.Embedding(len(CATEGORIES), dim)
        self.read_context = bool(read_context)  # el_context: read beside the element's own numbers (ppo.read_context)
        # el_value_asked (ppo.read_derived): one more number per element, read beside its own
        self.read_derived = bool(read_derived)
        self.num = nn.Linear(NUM_FEATURES + (CONTEXT_LEVELS if self.read_context else 0) + int(self.read_derived), dim)
        self.position = nn.Linear(POSITION_FEATURES, dim)
        self.read_class = bool(read_class)  # el_class: one more pooled text per element (ppo.read_class)
        # pooled text, attributes (and class, and the texts around it); then tag, category, numbers
        texts = 2 + int(self.read_class) + int(self.read_context)
        self.element = nn.Sequential(nn.Linear((texts + 3) * dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.instr_pos = nn.Parameter(torch.randn(max_instruction_len, dim) * 0.02)
        self.segment = nn.Parameter(torch.randn(4, dim) * 0.02)  # summary / instruction / element / screen
        self.summary = nn.Parameter(torch.randn(dim) * 0.02)
        self.step = nn.Embedding(MAX_STEPS_EMBEDDED, dim)
        layer = nn.TransformerEncoderLayer(dim, n_heads, int(mlp_ratio * dim), dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.mixer = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)
        self.span_num = nn.Linear(span_features(read_derived), dim)
        self.option = nn.Sequential(nn.Linear(dim + 2, dim), nn.GELU(), nn.Linear(dim, dim))

    def pooled_text(self, ids: Tensor) -> Tensor:
        """(..., L) token ids -> (..., D) mean embedding of the non-pad tokens (0 for an empty text), as
        one embedding_bag: no (..., L, D) embedding tensor and masked product (which were a sizeable
        share of the encoder's time)."""
        flat = F.embedding_bag(ids.reshape(-1, ids.shape[-1]), self.tok.weight, mode="mean", padding_idx=self.pad_id)
        return flat.view(*ids.shape[:-1], flat.shape[-1])

    def forward(self, b: dict[str, Tensor]) -> Encoded:
        B = b["el_tag"].shape[0]
        texts = [self.pooled_text(b["el_text"]), self.pooled_text(b["el_attr"])]
        if self.read_class:
            texts.append(self.pooled_text(b["el_class"]))
        if self.read_context:
            texts.append(self.pooled_text(b["el_around"]))
        num = torch.cat([b["el_num"], *([b["el_context"]] if self.read_context else []),
                         *([b["el_value_asked"]] if self.read_derived else [])], -1)
        el = torch.cat([*texts, self.tag(b["el_tag"]), self.cat(b["el_cat"]), self.num(num)], dim=-1)
        el = self.element(el) + self.position(fourier_position(b["el_num"])) + self.segment[2]
        instr_ids = b["instr_ids"]
        instr = self.tok(instr_ids) + self.instr_pos[: instr_ids.shape[1]] + self.segment[1]
        summary = (self.summary + self.step(b["step"]) + self.segment[0]).unsqueeze(1)
        parts = [summary, instr, el]
        keep = [torch.ones(B, 1, dtype=torch.bool, device=el.device), instr_ids != self.pad_id, b["el_valid"]]
        aux = el.new_zeros(())
        if self.screen is not None:
            frames, aux = self.screen(b["screen"].float() / 255.0)
            parts.append(frames + self.segment[3])
            keep.append(torch.ones(frames.shape[:2], dtype=torch.bool, device=el.device))
        y = self.mixer(torch.cat(parts, 1), src_key_padding_mask=~torch.cat(keep, 1))
        Li = instr_ids.shape[1]
        E = el.shape[1]
        instr_out, el_out = y[:, 1 : 1 + Li], y[:, 1 + Li : 1 + Li + E]
        w = b["span_w"] / b["span_w"].sum(-1, keepdim=True).clamp(min=1.0)
        from_page = b["span_el"] >= 0  # a text copied off the page is its element's encoding
        page_h = torch.gather(el_out, 1, b["span_el"].clamp(min=0).unsqueeze(-1).expand(-1, -1, el_out.shape[-1]))
        # an earlier page's instruction is not in this observation: its spans are their own tokens' mean
        # (0 for the other candidates, whose span_ids are all padding)
        spans = torch.einsum("bsl,bld->bsd", w, instr_out) + page_h * from_page.unsqueeze(-1) + \
            self.pooled_text(b["span_ids"]) + self.span_num(b["span_num"])
        owner = b["opt_owner"].clamp(min=0)
        owner_emb = torch.gather(el_out, 1, owner.unsqueeze(-1).expand(-1, -1, el_out.shape[-1]))
        options = self.option(torch.cat([self.pooled_text(b["opt_ids"]), b["opt_num"]], -1)) + owner_emb
        return Encoded(y[:, 0], el_out, spans, options, aux)


# ---------------------------------------------------------------- recurrent memory core
def rollout_key_mask(starts: Tensor, mem_valid: Tensor) -> Tensor:
    """(B, T, M+T) bool: the keys that step t of env b attends to when a rollout's T steps go through
    an xl layer in one call instead of one step at a time.  Keys are the layer's memory at the rollout's
    start (M slots, ``mem_valid`` (B, M): the slot is filled) followed by the T steps.  Stepping, step
    t's memory is the last M of (start memory + steps before t), cleared at every episode start, plus
    step t itself; so step t sees key position p (of M+T) when t <= p <= M + t, a start-memory slot only
    while no episode started in steps 0..t, and step s only when no episode started in steps s+1..t.
    ``starts`` (T, B) bool: an episode opens at that step (its memory cleared before it)."""
    T, B = starts.shape
    M = mem_valid.shape[1]
    episode = starts.t().long().cumsum(1)  # (B, T): episode starts in steps 0..t
    t = torch.arange(T, device=starts.device)[:, None]
    p = torch.arange(M + T, device=starts.device)[None, :]
    window = (p >= t) & (p <= M + t)  # (T, M+T)
    from_memory = mem_valid[:, None, :] & (episode == 0)[:, :, None]  # (B, T, M)
    same_episode = episode[:, :, None] == episode[:, None, :]  # (B, T, T)
    return torch.cat([from_memory, same_episode], -1) & window


class MemoryCore(nn.Module):
    """One token per env step through the Transformer trunk, attention state carried across steps.

    ``step`` (acting) uses the trunk's forward, whose returned state is detached.  ``unroll`` (the
    PPO replay of a rollout) runs the same trunk step by step; with ``bptt`` it passes
    ``detach=False``, so the memory keeps its graph between steps and the loss at step t reaches
    the observations that wrote it earlier in the rollout (truncated BPTT), for xl as for infini.
    Without it, what a page leaves in memory is shaped only by that page's own loss, which is too
    weak for recall tasks (measured on the test recall task).  Whether there is a memory at all
    comes from the trunk (its layers' ``init_state``), not from the variant's name.

    For xl with bptt (the default), ``unroll`` computes the same thing with every step of the rollout
    in one call per Block (an xl ``MaskedMemory`` state with ``rollout_key_mask``): an xl memory is just
    the layer's past inputs, so step t attending to its memory is step t attending to the earlier steps
    (and the start memory) under a mask.  The state goes through ``Block.forward`` untouched, so the FSDP
    rule (a Block's weights are gathered only inside its forward) and activation checkpointing hold as
    for a step.  The step-by-step loop (``unroll_stepwise``) cost 2 x T small attention calls forward
    and backward per replay, most of the PPO update's time; tests check the two agree.
    """

    def __init__(self, model_cfg: DictConfig, bptt: bool = True):
        super().__init__()

        self.trunk = Transformer(model_cfg)
        self.memory = self.trunk.has_memory
        self.bptt = bool(bptt)
        # the one-pass unroll gives gradients through the memory (bptt) and has no attention dropout
        self.unroll_at_once = self.bptt and all(
            type(blk.attn) is XLAttention and blk.attn.dropout == 0.0 for blk in self.trunk.blocks)

    def init_state(self, batch: int, device: torch.device) -> Any:
        return self.trunk.init_state(batch, device) if self.memory else None

    def step(self, x: Tensor, state: Any, starts: Tensor, detach: bool = True) -> tuple[Tensor, Any]:
        """x (B, D) -> (B, D).  The state is reset first where ``starts`` (an episode's first step)."""
        if not self.memory:
            return self.trunk(x.unsqueeze(1), None)[0][:, 0], None
        state = self.trunk.reset_state(state, starts)
        y, state = self.trunk(x.unsqueeze(1), state, detach=detach)
        return y[:, 0], state

    def unroll(self, x: Tensor, state: Any, starts: Tensor) -> Tensor:
        """x (T, B, D) in time order from ``state`` -> (T, B, D); starts (T, B) bool."""
        if not self.memory:  # nothing carried: all steps at once
            T, B, D = x.shape
            return self.trunk(x.reshape(T * B, 1, D), None)[0].view(T, B, D)
        if self.unroll_at_once:
            y = x.transpose(0, 1)  # (B, T, D)
            for blk, mem in zip(self.trunk.blocks, state):
                # an xl layer's memory holds its attention inputs (norm1 of the Block's inputs): nonzero rows
                y, _ = blk(y, MaskedMemory(mem, rollout_key_mask(starts, mem.detach().ne(0).any(-1))))
            return self.trunk.norm(y).transpose(0, 1)
        return self.unroll_stepwise(x, state, starts)

    def unroll_stepwise(self, x: Tensor, state: Any, starts: Tensor) -> Tensor:
        """``unroll`` one ``step`` at a time (any memory variant; the reference for the one-pass path)."""
        out = []
        for t in range(x.shape[0]):
            y, state = self.step(x[t], state, starts[t], detach=not self.bptt)
            out.append(y)
        return torch.stack(out)


class ActionModel(nn.Module):
    """Encoder + memory core + heads, built from ``cfg.model`` and ``cfg.ppo`` (see zoo/schema)."""

    def __init__(self, model_cfg: DictConfig, ppo_cfg: DictConfig, vocab_size: int, pad_id: int):
        super().__init__()

        if not isinstance(model_cfg, DictConfig):
            model_cfg = OmegaConf.create(model_cfg)
        dim = int(model_cfg.dim)
        self.encoder = ObservationEncoder(dim, int(model_cfg.n_heads), vocab_size, pad_id, int(ppo_cfg.max_instruction_len),
                                          int(ppo_cfg.encoder_layers), float(model_cfg.mlp_ratio), float(model_cfg.dropout),
                                          screen_tokenizer=model_cfg.tokenizer if model_cfg.use_screen else None,
                                          read_class=bool(ppo_cfg.read_class),
                                          read_context=bool(ppo_cfg.read_context),
                                          read_derived=bool(ppo_cfg.read_derived))
        self.core = MemoryCore(model_cfg, bptt=bool(ppo_cfg.bptt))
        self.heads = PolicyHeads(dim, press_keys=bool(ppo_cfg.press_keys),
                                 noop=bool(ppo_cfg.noop))

    def init_state(self, batch: int, device: torch.device) -> Any:
        return self.core.init_state(batch, device)
