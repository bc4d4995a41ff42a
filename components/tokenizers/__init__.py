"""Frame tokenizers (``patch``, ``vq``, ``clip``) and the temporal frame sampler.

``create_tokenizer(name, dim, **TokenizerConfig fields)``; ``tokens, aux_loss = tok(frames)``.
"""
from components.tokenizers.base import FrameTokenizer, create_tokenizer, list_tokenizer, register_tokenizer

from components.tokenizers import clip, patch, vq  # noqa: E402,F401  isort:skip  (registers them)
from components.tokenizers.video import FrameSampler, to_frame_tensor  # noqa: E402

__all__ = ["FrameSampler", "FrameTokenizer", "create_tokenizer", "list_tokenizer", "register_tokenizer",
           "to_frame_tensor"]
