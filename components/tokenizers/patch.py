"""``patch``: ViT patch tokenizer (timm ``VisionTransformer``, random init, no class token)."""
from __future__ import annotations

from typing import Any

import torch

from components.tokenizers.base import FrameTokenizer, register_tokenizer, vit_heads


def build_vit(dim: int, image_size: int, patch_size: int, depth: int, n_heads: int | None = None):
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=image_size,
        patch_size=patch_size,
        embed_dim=dim,
        depth=depth,
        num_heads=n_heads or vit_heads(dim),
        num_classes=0,
        global_pool="",
        class_token=False,  # every output token is a patch token
    )


@register_tokenizer("patch")
class PatchTokenizer(FrameTokenizer):
    """ViT/patch tokenizer via timm (random init): one token per patch."""

    def __init__(self, dim: int, image_size: int = 64, patch_size: int = 16, depth: int = 2,
                 n_heads: int | None = None, **kw: Any):
        super().__init__(dim, image_size, patch_size)
        self.vit = build_vit(self.dim, self.image_size, self.patch_size, int(depth), n_heads)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.vit.forward_features(self.preprocess(frames))
        return tokens, self.zero_loss(tokens)
