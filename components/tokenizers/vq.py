"""``vq``: VQGAN-style frame tokenizer: conv encoder, codebook, conv decoder.

Encoder: log2(patch_size) stride-2 conv stages, so each code covers one patch. Quantisation looks
up the nearest codebook entry by cosine similarity (l2-normalised codes, as in ViT-VQGAN, which
keeps far more of the codebook in use than raw L2), the straight-through estimator passes
decoder gradients to the encoder, and

    aux_loss = recon_mse + ||sg(z) - e||^2 + commitment * ||z - sg(e)||^2

VQGAN's perceptual and adversarial losses are left out (no pretrained LPIPS net; small frames).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from components.tokenizers.base import FrameTokenizer, is_power_of_two, register_tokenizer
from zoo.core.errors import ZooError


def _stage(c_in: int, c_out: int, up: bool) -> nn.Sequential:
    conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1) if up else nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
    return nn.Sequential(conv, nn.GroupNorm(1, c_out), nn.SiLU())


@register_tokenizer("vq")
class VQTokenizer(FrameTokenizer):
    """VQGAN-style tokenizer: conv encoder/decoder, cosine codebook, straight-through, commitment loss."""

    def __init__(self, dim: int, image_size: int = 64, patch_size: int = 16, codebook_size: int = 256,
                 commitment: float = 0.25, code_dim: int = 32, **_: Any):
        super().__init__(dim, image_size, patch_size)
        if not is_power_of_two(self.patch_size) or self.patch_size < 2:
            raise ZooError(f"bad value for 'tokenizer.patch_size': {patch_size} (vq needs a power of two >= 2)")
        if int(codebook_size) < 2:
            raise ZooError(f"bad value for 'tokenizer.codebook_size': {codebook_size} (must be >= 2)")
        stages = self.patch_size.bit_length() - 1
        widths = [min(32 * 2**i, 128) for i in range(stages)]
        enc, c = [], 3
        for w in widths:
            enc.append(_stage(c, w, up=False))
            c = w
        self.encoder = nn.Sequential(*enc, nn.Conv2d(c, code_dim, 1))
        dec = [nn.Conv2d(code_dim, c, 1)]
        for w in reversed(widths[:-1]):
            dec.append(_stage(c, w, up=True))
            c = w
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(c, 3, 4, stride=2, padding=1))
        self.codebook = nn.Embedding(int(codebook_size), code_dim)
        nn.init.normal_(self.codebook.weight)
        self.commitment = float(commitment)
        self.to_tokens = nn.Linear(code_dim, self.dim)

    def encode_latents(self, frames: torch.Tensor, preprocessed: bool = False) -> torch.Tensor:
        """(B, N, code_dim) l2-normalised continuous codes, N = tokens_per_frame (row-major patches)."""
        x = frames if preprocessed else self.preprocess(frames)
        return F.normalize(self.encoder(x).flatten(2).transpose(1, 2), dim=-1)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        codes = F.normalize(self.codebook.weight, dim=-1)
        return (z @ codes.t()).argmax(dim=-1)

    @torch.no_grad()
    def encode_ids(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, N) long codebook ids of the frames."""
        return self.nearest(self.encode_latents(frames))

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Codebook vectors (B, N, code_dim) of ids."""
        return F.normalize(self.codebook(ids), dim=-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Frames (B, 3, image_size, image_size) in [0, 1] from ids (B, N) or code vectors (B, N, code_dim)."""
        if codes.dtype == torch.long:
            codes = self.embed_ids(codes)
        b, n, c = codes.shape
        grid = codes.transpose(1, 2).reshape(b, c, self.grid, self.grid)
        return (self.decoder(grid).clamp(-1, 1) + 1) / 2

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Straight-through quantised codes, ids and the codebook + commitment loss."""
        ids = self.nearest(z)
        e = self.embed_ids(ids)
        loss = F.mse_loss(e, z.detach()) + self.commitment * F.mse_loss(z, e.detach())
        return z + (e - z).detach(), ids, loss

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = self.preprocess(frames)
        z = self.encode_latents(target, preprocessed=True)
        q, _, vq_loss = self.quantize(z)
        b, n, c = q.shape
        recon = self.decoder(q.transpose(1, 2).reshape(b, c, self.grid, self.grid))
        aux = F.mse_loss(recon, target) + vq_loss
        return self.to_tokens(q), aux
