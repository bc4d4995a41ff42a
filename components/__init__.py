"""Interchangeable building blocks both strategies assemble, each registered and chosen by config.

    components.attention   dense | sliding | xl | infini | ring  (one interface, explicit state)
    components.block       Block: pre-norm, optional GTrXL gate; the FSDP wrap unit
    components.trunk       Transformer: y, states = trunk(x, states)
    components.tokenizers  patch | vq | clip frame tokenizers, FrameSampler
    components.text        BPETokenizer trained locally, saved with the run
    components.heads       pointer | value | lm | reward
    components.optim       param_groups (Infini gates get their own learning rate)
"""

from components import attention, heads, tokenizers  # noqa: E402,F401  (fill the registries)
from components.block import Block  # noqa: E402
from components.optim import param_groups  # noqa: E402
from components.text import BPETokenizer  # noqa: E402
from components.trunk import Transformer  # noqa: E402

__all__ = ["BPETokenizer", "Block", "Transformer", "attention", "heads", "param_groups", "tokenizers"]
