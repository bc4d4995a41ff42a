"""The multimodal foundation model: frame tokens + DOM element tokens + text in one causal trunk.

Inputs are embedded per token type (``sequence.py``): BPE text tokens (shared table with the LM
head), frame tokens from the registered frame tokenizer, one embedding per DOM element; with a
pretrained text encoder (``pretrained_text.py``), its projected reading of the goal is added to each
goal token and its reading of an element's text to that element's embedding.  The trunk
is ``components.trunk.Transformer`` with the configured attention (sliding, xl, infini, ring,
dense).  Heads:

    lm       next text token (goal text in pretraining, numbered action lines in SFT), mixed with a
             copy distribution over the goal and pointed-element tokens so far (pointer-generator,
             See et al. 2017): labels and typed text are copied, not memorised.  Names are often
             split into many small BPE pieces ("kira.alvarez@..." is ~20 tokens), so the copy
             scores get a learned bonus per *match length*: how many of the tokens just written
             equal the tokens right before a source position (an explicit induction head, like
             CopyNet's selective read) -- a copy, once started, continues along the source
    frame    pixels of the next frame token (next-frame-token prediction, pretraining)
    pointer  element to act on, from the ``<act>`` query over the step's element tokens
    kind     click / type / select / press / noop;  key: which key to press
    span     which instruction span to type/select, given the query and the chosen element
    value    expected final reward of the state (registered ``reward`` head, in [-1, 1])
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.heads import centred_keys, create_head
from components.position import FEATURES as POSITION_FEATURES
from components.position import fourier_position
from components.tokenizers import create_tokenizer
from components.trunk import Transformer
from strategies.foundation.batch import Batch
from strategies.foundation.sequence import (
    ELEMENT, FRAME, GOAL, KEYS, LINE, MAX_POS, MAX_STEPS, N_FLAGS, N_TYPES, POINTED, SPAN_FLAGS, TAG_BUCKETS,
)
from zoo.web.context import CONTEXT_LEVELS
from zoo.web.types import CATEGORY_VOCAB, ELEMENT_ACTION_KINDS

COPY_MATCH = 4  # longest match length the copy bonus tells apart
COPY_BONUS = 4.0  # initial copy-score bonus per matched token (learned from there)


class ElementEncoder(nn.Module):
    """One embedding per DOM element: mean of its text token embeddings + tag, category, box, flags."""

    def __init__(self, dim: int, text_embedding: nn.Embedding, pad_id: int, read_context: bool = False,
                 read_derived: bool = False, read_position: bool = False):
        super().__init__()
        self.text, self.pad_id = text_embedding, int(pad_id)
        # foundation.read_context: 4 more flags, and the texts around the element through their own projection
        self.around = nn.Linear(dim, dim) if read_context else None
        self.tag = nn.Embedding(TAG_BUCKETS, dim)
        self.cat = nn.Embedding(len(CATEGORY_VOCAB), dim)
        self.box = nn.Linear(4, dim)
        # foundation.read_position: the box centre's Fourier features as well (components/position.py), as Strategy
        # 2's element encoder reads them
        self.position = nn.Linear(POSITION_FEATURES, dim) if read_position else None
        # foundation.read_derived: one more flag (its value is one the goal asks for), after the context's
        self.flags = nn.Linear(N_FLAGS + (CONTEXT_LEVELS if read_context else 0) + int(read_derived), dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, text: torch.Tensor, tag: torch.Tensor, cat: torch.Tensor, box: torch.Tensor,
                flags: torch.Tensor, pretrained: torch.Tensor | None = None,
                around: torch.Tensor | None = None) -> torch.Tensor:
        t = self.pooled(text)
        if self.around is not None:
            t = t + self.around(self.pooled(around))
        if pretrained is not None:  # the pretrained encoder's reading of the same text
            t = t + pretrained
        x = t + self.tag(tag) + self.cat(cat) + self.box(box) + self.flags(flags)
        if self.position is not None:
            x = x + self.position(fourier_position(box))
        return self.norm(x)

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        m = (ids != self.pad_id).unsqueeze(-1).float()
        return (self.text(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)


class ObservationEncoder(nn.Module):
    """Bidirectional layers over each step's observation tokens alone (its goal copy and its elements).

    The tokens of one (sequence, step) are packed into a row of their own, so attention never crosses steps
    or sequences and costs (steps x block length^2), not (sequence length^2); the rest of the sequence is
    left as it is.  Packing needs only that steps never decrease along a sequence (``SequenceBuilder``'s layout)."""

    def __init__(self, dim: int, n_heads: int, dropout: float, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, n_heads, 2 * dim, dropout, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        b, s = mask.nonzero(as_tuple=True)  # row-major: by sequence, then position
        if b.numel() == 0:
            return x
        _, block = torch.unique_consecutive(b * MAX_STEPS + step[b, s], return_inverse=True)
        counts = torch.bincount(block)
        j = torch.arange(b.numel(), device=x.device) - (counts.cumsum(0) - counts)[block]
        packed = x.new_zeros(counts.numel(), int(counts.max()), x.shape[-1])
        packed[block, j] = x[b, s]
        padding = torch.ones(packed.shape[:2], dtype=torch.bool, device=x.device)
        padding[block, j] = False
        for layer in self.layers:
            packed = layer(packed, src_key_padding_mask=padding)
        return x.index_put((b, s), packed[block, j])


class LexicalSpanScore(nn.Module):
    """``foundation.span_lexical``: a span score read off words (``FoundationModel.input_embeddings``), not the trunk.

    Query: the chosen element's words (its text, and with ``read_context`` the texts around it: a field's row
    header).  Key per candidate: its tokens' embeddings and those of up to ``BEFORE`` goal tokens right before
    it ("directed by" before a name).  The trunk's outputs can tell fifty training pages apart by their values and
    fit every one; a score from these inputs can only match which words say what kind of value a field takes, the
    kind of match that carries to a new page of the same task (multi-orderings' shuffled rows)."""

    BEFORE = 2

    def __init__(self, dim: int):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.own = nn.Linear(dim, dim)
        self.before = nn.Linear(dim, dim)
        self.pointer = create_head("pointer", dim)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor], batch: Batch, rows: torch.Tensor,
                slots: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        vocab, table = inputs
        b = batch.act_b[rows]

        def embedded(pos: torch.Tensor) -> torch.Tensor:  # (R, ...) positions of row b's sequence -> (R, ..., D)
            bb = b.view(-1, *([1] * (pos.dim() - 1))).expand_as(pos)
            p = pos.clamp(min=0)
            ref = batch.elem_ref[bb, p]
            text = vocab[batch.ids[bb, p]]
            return torch.where((ref >= 0).unsqueeze(-1), table[ref.clamp(min=0)].to(text.dtype), text)

        def mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            m = mask.unsqueeze(-1).to(x.dtype)
            return (x * m).sum(-2) / m.sum(-2).clamp(min=1.0)

        element = embedded(batch.elem_pos[rows, slots])  # (R, D)
        pos = batch.span_pos[rows]  # (R, C, L)
        own = mean(embedded(pos), pos >= 0)
        first = pos[..., :1]
        before = first - torch.arange(1, self.BEFORE + 1, device=pos.device)  # (R, C, BEFORE)
        bb = b.view(-1, 1, 1)
        is_goal = (batch.ttype[bb, first.clamp(min=0)] == GOAL) & (first >= 0)
        before_ok = (before >= 0) & is_goal & (batch.ttype[bb.expand_as(before), before.clamp(min=0)] == GOAL)
        keys = self.own(own) + self.before(mean(embedded(before), before_ok))
        return self.pointer(self.query(element), keys, valid)


class FoundationModel(nn.Module):
    """model_cfg: ``cfg.model``.  vocab_size / pad_id: of the run's BPE + specials.  text: the pretrained
    text side (``pretrained_text.PretrainedText``) or None (scratch)."""

    def __init__(self, model_cfg: Any, vocab_size: int, pad_id: int, text: nn.Module | None = None,
                 read_context: bool = False, read_span_flags: bool = False, read_derived: bool = False,
                 observation_layers: int = 0, read_position: bool = False, centre_keys: bool = False,
                 span_lexical: bool = False):
        super().__init__()
        dim = int(model_cfg.dim)
        self.dim, self.vocab_size = dim, int(vocab_size)
        self.embed = nn.Embedding(self.vocab_size, dim)
        self.type_embed = nn.Embedding(N_TYPES, dim)
        self.pos_embed = nn.Embedding(MAX_POS, dim)
        self.step_embed = nn.Embedding(MAX_STEPS, dim)
        self.elements = ElementEncoder(dim, self.embed, pad_id, read_context=read_context, read_derived=read_derived,
                                       read_position=read_position)
        self.frame_tokenizer = None
        self.tokens_per_frame = 0
        if bool(model_cfg.use_screen):
            tok_cfg = {k: v for k, v in dict(model_cfg.tokenizer).items()}
            if tok_cfg.get("name") == "clip":
                tok_cfg["vocab_size"] = self.vocab_size
            self.frame_tokenizer = create_tokenizer(tok_cfg.pop("name"), dim, **tok_cfg)
            self.tokens_per_frame = int(self.frame_tokenizer.tokens_per_frame)
            self.frame_pos = nn.Embedding(self.tokens_per_frame, dim)
            patch = self.frame_tokenizer.image_size // self.frame_tokenizer.grid
            self.frame_head = nn.Linear(dim, 3 * patch * patch)
        trunk_fields = {k: model_cfg[k] for k in ("dim", "n_layers", "n_heads", "mlp_ratio", "dropout",
                                                  "gated_residual", "attention")}
        self.trunk = Transformer(**trunk_fields)
        # foundation.observation_layers: each step's goal and element tokens first read one another both ways
        # (the causal trunk has a goal word see no field, as it comes before them; Strategy 2's encoder has both)
        self.observation = ObservationEncoder(dim, int(model_cfg.n_heads), float(model_cfg.dropout),
                                              int(observation_layers)) if int(observation_layers) > 0 else None
        self.lm_head = create_head("lm", dim, vocab=self.vocab_size).tie(self.embed)
        self.copy_query = nn.Linear(dim, dim)
        self.copy_key = nn.Linear(dim, dim)
        self.copy_gate = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))
        self.copy_match = nn.Embedding(COPY_MATCH + 1, 1)
        with torch.no_grad():  # start out preferring continuations; the bonus per length is learned
            self.copy_match.weight.copy_(COPY_BONUS * torch.arange(COPY_MATCH + 1, dtype=torch.float32).unsqueeze(1))
        self.pointer = create_head("pointer", dim)
        self.span_pointer = create_head("pointer", dim)
        # foundation.centre_keys: both pointers' keys minus their mean over the candidates, as Strategy 2's are
        self.centre_keys = bool(centre_keys)
        # foundation.read_span_flags: a candidate span's first five flags (quoted, already typed, where, off the
        # page, earlier); foundation.read_derived: the last (worked out, not copied), so that a sum is told apart
        # from the copy of its own element's text, which shares its token
        columns = [*range(SPAN_FLAGS - 1)] * bool(read_span_flags) + [SPAN_FLAGS - 1] * bool(read_derived)
        self.register_buffer("span_columns", torch.tensor(columns, dtype=torch.long), persistent=False)
        self.span_flags = nn.Linear(len(columns), dim) if columns else None
        self.span_query = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim))
        # foundation.span_lexical: a second span score from words alone, the chosen element's text and the texts
        # around it against each candidate's own tokens and the goal tokens before it
        self.lexical = LexicalSpanScore(dim) if span_lexical else None
        self.kind_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, len(ELEMENT_ACTION_KINDS)))
        self.key_head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, len(KEYS)))
        self.value_head = create_head("reward", dim)
        self.text = text
        for table in (self.embed, self.type_embed, self.pos_embed, self.step_embed):
            nn.init.normal_(table.weight, std=0.02)  # small: the LM head shares ``embed``

    # ------------------------------------------------------------------ trunk
    def encode_frames(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.frame_tokenizer is None or frames.shape[0] == 0:
            return frames.new_zeros(0, max(self.tokens_per_frame, 1), self.dim), frames.new_zeros(())
        return self.frame_tokenizer(frames)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states (B, S, D) of the interleaved sequence, and the frame tokenizer's aux loss."""
        x = self.embed(batch.ids)
        aux = x.new_zeros(())
        frame_mask = batch.ttype == FRAME
        if self.frame_tokenizer is not None and bool(frame_mask.any()):
            tokens, aux = self.encode_frames(batch.frames)
            fno, fj = batch.frame_no[frame_mask], batch.frame_j[frame_mask]
            x = x.masked_scatter(frame_mask.unsqueeze(-1), (tokens[fno, fj] + self.frame_pos(fj)).to(x.dtype))
        # DOM element tokens, and the pointed element after <act> (when the action has one)
        read = None  # pretrained text encodings, one row per distinct text, plus a zero row for "none" (-1)
        if self.text is not None and batch.ptext.shape[0] > 0:
            read = self.text(batch.ptext)
            read = torch.cat([read, read.new_zeros(1, self.dim)]).to(x.dtype)
            x = x + read[batch.text_row]  # goal tokens; -1 (every other position) picks the zero row
        elem_mask = ((batch.ttype == ELEMENT) | (batch.ttype == POINTED)) & (batch.elem_ref >= 0)
        if bool(elem_mask.any()):
            emb = self.elements(batch.el_text, batch.el_tag, batch.el_cat, batch.el_box, batch.el_flags,
                                None if read is None else read[batch.el_prow], batch.el_around)
            x = x.masked_scatter(elem_mask.unsqueeze(-1), emb[batch.elem_ref[elem_mask]].to(x.dtype))
        x = x + self.type_embed(batch.ttype) + self.pos_embed(batch.pos) + self.step_embed(batch.step)
        if self.observation is not None:
            x = self.observation(x, (batch.ttype == GOAL) | (batch.ttype == ELEMENT), batch.step)
        h, _ = self.trunk(x)
        return h, aux

    # ------------------------------------------------------------------ heads
    def act_heads(self, h: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Per <act> row: query, element keys + mask, pointer / kind / key logits and value."""
        q = h[batch.act_b, batch.act_pos]
        mask = batch.elem_pos >= 0
        keys = h[batch.act_b.unsqueeze(1), batch.elem_pos.clamp(min=0)]
        return {
            "q": q, "keys": keys, "mask": mask,
            "pointer": self.pointer(q, self.pointer_keys(keys, mask), mask),
            "kind": self.kind_head(q), "key": self.key_head(q), "value": self.value_head(q),
        }

    def span_logits(self, h: torch.Tensor, batch: Batch, rows: torch.Tensor, q: torch.Tensor,
                    slots: torch.Tensor) -> torch.Tensor:
        """(R, C) logits over candidate spans of act rows ``rows`` for the chosen element slots ``slots``."""
        element_h = h[batch.act_b[rows], batch.elem_pos[rows, slots]]
        pos = batch.span_pos[rows]  # (R, C, L)
        tok_mask = pos >= 0
        b = batch.act_b[rows].view(-1, 1, 1)
        span_h = (h[b, pos.clamp(min=0)] * tok_mask.unsqueeze(-1)).sum(2) / tok_mask.sum(2, keepdim=True).clamp(min=1)
        if self.span_flags is not None:
            flags = batch.span_flags[rows].index_select(-1, self.span_columns.to(batch.span_flags.device))
            span_h = span_h + self.span_flags(flags.to(span_h.dtype))
        query = self.span_query(torch.cat([q, element_h], dim=-1))
        valid = tok_mask.any(-1)
        logits = self.span_pointer(query, self.pointer_keys(span_h, valid), valid)
        if self.lexical is not None:
            logits = logits + self.lexical(self.input_embeddings(batch), batch, rows, slots, valid)
        return logits

    def input_embeddings(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Words only: the BPE table (for goal tokens) and, per element of the batch's table, the mean of its own
        text's token embeddings plus (with ``read_context``) that of the texts around it -- no box, tag or flag,
        which tell one page's fields apart but say nothing of what value a field takes."""
        table = self.elements.pooled(batch.el_text)
        if batch.el_around is not None:
            table = table + self.elements.pooled(batch.el_around)
        return self.embed.weight, table

    def pointer_keys(self, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The keys both pointers read: as encoded, or less their mean over the allowed candidates
        (``foundation.centre_keys``)."""
        return centred_keys(keys, mask) if self.centre_keys else keys

    def lm_log_probs(self, h: torch.Tensor, batch: Batch, b_idx: torch.Tensor, p_idx: torch.Tensor) -> torch.Tensor:
        """(N, vocab) log-probabilities of the next token at positions (b_idx, p_idx):
        (1 - g) * softmax(lm) + g * copy, the copy attention spread over the text tokens of the goal
        copies and pointed-element names at or before each position; g = 0 where there are none."""
        vocab_p, copy, gate, _ = self.lm_parts(h, batch, b_idx, p_idx)
        return torch.log((1 - gate) * vocab_p + gate * copy + 1e-9)

    def lm_parts(self, h: torch.Tensor, batch: Batch, b_idx: torch.Tensor,
                 p_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pieces of ``lm_log_probs``: vocabulary distribution (N, V), copy distribution (N, V),
        copy gate (N, 1) and whether each position has anything to copy from (N, 1)."""
        hq = h[b_idx, p_idx]
        vocab_p = torch.softmax(self.lm_head(hq).float(), dim=-1)
        text = (batch.ttype == GOAL) | ((batch.ttype == POINTED) & (batch.elem_ref < 0))
        positions = torch.arange(h.shape[1], device=h.device)
        mask = text[b_idx] & (positions.unsqueeze(0) <= p_idx.unsqueeze(1))
        scores = self.copy_scores(self.copy_query(hq), self.copy_key(h), b_idx) / self.dim ** 0.5
        scores = scores.float() + self.copy_match(self.match_lengths(batch, text, b_idx, p_idx)).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        has_source = mask.any(dim=1, keepdim=True)
        attn = torch.where(has_source, torch.softmax(scores.masked_fill(~has_source, 0.0), dim=-1),
                           torch.zeros_like(scores))
        copy = torch.zeros_like(vocab_p).scatter_add_(1, batch.ids[b_idx], attn)
        gate = torch.sigmoid(self.copy_gate(hq).float()) * has_source
        return vocab_p, copy, gate, has_source

    @staticmethod
    def copy_scores(query: torch.Tensor, keys: torch.Tensor, b_idx: torch.Tensor) -> torch.Tensor:
        """(N, S) dot products of each query (N, d) with every key of its own sequence (keys: (B, S, d)):
        one matrix product per sequence.  Gathering each query's whole key sequence (``keys[b_idx]``,
        (N, S, d)) did the same sums through an N-fold copy whose backward, a scatter-add, took about
        half of a training step."""
        out = query.new_zeros(query.shape[0], keys.shape[1])
        for row in torch.unique(b_idx).tolist():
            sel = torch.nonzero(b_idx == row, as_tuple=True)[0]
            out = out.index_copy(0, sel, query[sel] @ keys[row].T)
        return out

    @staticmethod
    def match_lengths(batch: Batch, text: torch.Tensor, b_idx: torch.Tensor, p_idx: torch.Tensor) -> torch.Tensor:
        """(N, S) for each query (b, p) and source position s: the number k <= COPY_MATCH of text tokens
        ending at p that equal the k text tokens ending at s - 1 (so token s continues that match)."""
        written = text | (batch.ttype == LINE)
        ids = batch.ids[b_idx]  # (N, S)
        src_ok = text[b_idx]
        run = torch.ones_like(src_ok)
        length = torch.zeros(ids.shape, dtype=torch.long, device=ids.device)
        for k in range(COPY_MATCH):
            q = p_idx - k
            q_ok = (q >= 0) & written[b_idx, q.clamp(min=0)]
            q_tok = batch.ids[b_idx, q.clamp(min=0)]
            src_tok = F.pad(ids, (k + 1, 0), value=-1)[:, : ids.shape[1]]
            ok = F.pad(src_ok, (k + 1, 0), value=False)[:, : ids.shape[1]]
            run = run & ok & (src_tok == q_tok.unsqueeze(1)) & q_ok.unsqueeze(1)
            length = length + run.long()
        return length

    def frame_targets(self, frames: torch.Tensor) -> torch.Tensor:
        """(F, N, 3*p*p) pixel patches of each frame token, in the tokenizer's resolution."""
        tok = self.frame_tokenizer
        size = tok.image_size
        if frames.shape[-2:] != (size, size):
            frames = F.interpolate(frames, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        p = size // tok.grid
        return F.unfold(frames, kernel_size=p, stride=p).transpose(1, 2)
