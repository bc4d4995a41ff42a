"""Frame tokenizer registry and the shared frame preprocessing.

A frame tokenizer maps screen frames to tokens:
``tokens, aux_loss = tok(frames)`` with frames float (B, 3, H, W) in [0, 1], tokens (B, N, dim),
N = ``tok.tokens_per_frame``, and ``aux_loss`` a scalar the caller adds to its own loss
(reconstruction/codebook terms for VQ, 0 for the others).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.attention.registry import as_dict
from zoo.core.errors import ZooError, did_you_mean
from zoo.core.registry import family
from zoo.schema.model import TokenizerConfig

_REGISTRY = family("tokenizer")
FIELDS = tuple(f.name for f in dataclasses.fields(TokenizerConfig))
EXTRA_FIELDS = ("vocab_size", "n_heads", "text_len")  # clip's text side, ViT heads


def register_tokenizer(name: str, doc: str | None = None):
    return _REGISTRY.register(name, doc)


def list_tokenizer() -> list[str]:
    return _REGISTRY.names()


def create_tokenizer(name: Any, dim: int, **fields: Any) -> FrameTokenizer:
    """Build a registered frame tokenizer from TokenizerConfig fields (a config may stand in for name)."""
    if not isinstance(name, str):
        fields = {**as_dict(name), **fields}
        name = fields.get("name")
    fields.pop("name", None)
    valid = FIELDS + EXTRA_FIELDS
    for key in fields:
        if key not in valid:
            raise ZooError(f"unknown tokenizer field '{key}'{did_you_mean(key, valid)}; valid fields: {', '.join(valid)}")
    return _REGISTRY.get(name)(dim=int(dim), **fields)


def vit_heads(dim: int) -> int:
    """Most heads (<= 8) that divide dim with head size >= 8."""
    return next((h for h in (8, 4, 2) if dim % h == 0 and dim // h >= 8), 1)


class FrameTokenizer(nn.Module):
    """Shared preprocessing: check shape, resize to image_size, map [0, 1] to [-1, 1]."""

    def __init__(self, dim: int, image_size: int = 64, patch_size: int = 16, **_: Any):
        super().__init__()
        if int(image_size) % int(patch_size):
            raise ZooError(f"bad value for 'tokenizer.patch_size': {patch_size} does not divide image_size={image_size}")
        self.dim, self.image_size, self.patch_size = int(dim), int(image_size), int(patch_size)
        self.grid = self.image_size // self.patch_size
        self.tokens_per_frame = self.grid * self.grid

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames must be (B, 3, H, W) floats in [0, 1], got {tuple(frames.shape)}")
        frames = frames.float()
        if frames.shape[-2:] != (self.image_size, self.image_size):
            frames = F.interpolate(frames, size=(self.image_size, self.image_size), mode="bilinear", antialias=True,
                                   align_corners=False)
        return frames * 2.0 - 1.0

    def zero_loss(self, ref: torch.Tensor) -> torch.Tensor:
        return ref.new_zeros(())


def is_power_of_two(n: int) -> bool:
    return n >= 1 and math.log2(n).is_integer()
