"""Model configs shared by both strategies (components/)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenizerConfig:
    """A frame tokenizer (``zoo list tokenizer``): screen frames -> tokens.

    image_size: frames are resized to image_size x image_size.
    patch_size: patch edge in pixels; tokens per frame = (image_size / patch_size) ** 2.
    codebook_size: vq: number of codebook entries.
    commitment: vq: commitment-loss weight.
    depth: encoder depth (transformer blocks or conv stages).
    fps: temporal sampler: frames per second kept from a recording.
    frames_per_clip: temporal sampler: frames per training clip.
    """

    name: str = "patch"
    image_size: int = 64
    patch_size: int = 16
    codebook_size: int = 256
    commitment: float = 0.25
    depth: int = 2
    fps: float = 3.0
    frames_per_clip: int = 4


@dataclass
class ModelConfig:
    """The transformer trunk both strategies build from Blocks.

    dim / n_layers / n_heads: width, depth, heads.
    mlp_ratio: MLP hidden size = mlp_ratio * dim.
    gated_residual: GTrXL-style gated residual connections instead of plain adds.
    vocab_size: DOM/text BPE vocabulary trained locally for each run.
    max_elements: DOM elements kept per observation (the pointer head's action slots).
    max_text_len: tokens kept per element text / instruction.
    use_screen: add screenshot tokens from the frame tokenizer to the observation.
    attention: ``name`` of a registered attention variant (``zoo list attention``) and that variant's
        own fields (its ``Config`` dataclass in components/attention/, e.g. ``window`` for sliding,
        ``mem_len`` / ``segment_len`` for xl); checked against the variant when the config is composed
        (``components.attention.attention_config``) and typed into that Config by the trunk.
    """

    dim: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    gated_residual: bool = False
    vocab_size: int = 512
    max_elements: int = 48
    max_text_len: int = 16
    use_screen: bool = False
    attention: Any = field(default_factory=lambda: {"name": "dense"})
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
