"""``clip``: CLIP-style tokenizer: a ViT image encoder and a text encoder trained contrastively.

As a frame tokenizer it returns the image encoder's patch tokens. Given paired texts
(``tok(frames, text_ids, text_mask)``) its aux loss is CLIP's symmetric InfoNCE between pooled
image and text embeddings, with a learned temperature; without texts the aux loss is 0. The text
side takes ids of the run's BPE tokenizer (``vocab_size`` must cover it).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.tokenizers.base import FrameTokenizer, register_tokenizer, vit_heads
from components.tokenizers.patch import build_vit
from components.trunk import Transformer


class TextEncoder(nn.Module):
    """Token + position embeddings, a bidirectional trunk, masked mean pooling."""

    def __init__(self, dim: int, vocab_size: int, depth: int, text_len: int):
        super().__init__()

        self.embed = nn.Embedding(int(vocab_size), dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, int(text_len), dim))
        nn.init.normal_(self.pos_embed, std=0.02)
        self.trunk = Transformer(dim=dim, n_layers=depth, n_heads=vit_heads(dim),
                                 attention={"name": "dense", "causal": False})

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if ids.shape[1] > self.pos_embed.shape[1]:
            raise ValueError(f"text longer than text_len={self.pos_embed.shape[1]}: {ids.shape[1]} tokens")
        h, _ = self.trunk(self.embed(ids) + self.pos_embed[:, : ids.shape[1]])
        if mask is None:
            return h.mean(dim=1)
        m = mask.to(h.dtype).unsqueeze(-1)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


@register_tokenizer("clip")
class CLIPTokenizer(FrameTokenizer):
    """CLIP-style: ViT image encoder + text encoder, contrastive (InfoNCE) loss on pairs."""

    def __init__(self, dim: int, image_size: int = 64, patch_size: int = 16, depth: int = 2,
                 vocab_size: int = 512, text_len: int = 64, n_heads: int | None = None, **_: Any):
        super().__init__(dim, image_size, patch_size)
        self.vit = build_vit(self.dim, self.image_size, self.patch_size, int(depth), n_heads)
        self.text = TextEncoder(self.dim, int(vocab_size), int(depth), int(text_len))
        self.image_proj = nn.Linear(self.dim, self.dim, bias=False)
        self.text_proj = nn.Linear(self.dim, self.dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def image_tokens(self, frames: torch.Tensor) -> torch.Tensor:
        return self.vit.forward_features(self.preprocess(frames))

    def encode_image(self, frames: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """(B, dim) unit-norm image embeddings (mean of the patch tokens, projected)."""
        tokens = self.image_tokens(frames) if tokens is None else tokens
        return F.normalize(self.image_proj(tokens.mean(dim=1)), dim=-1)

    def encode_text(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, dim) unit-norm text embeddings of padded BPE ids."""
        return F.normalize(self.text_proj(self.text(ids, mask)), dim=-1)

    def contrastive_loss(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE: pair i's image should pick text i among the batch, and vice versa."""
        logits = self.logit_scale.clamp(max=math.log(100)).exp() * image_emb @ text_emb.t()
        target = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2

    def forward(self, frames: torch.Tensor, text_ids: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.image_tokens(frames)
        if text_ids is None:
            return tokens, self.zero_loss(tokens)
        loss = self.contrastive_loss(self.encode_image(frames, tokens), self.encode_text(text_ids, text_mask))
        return tokens, loss
