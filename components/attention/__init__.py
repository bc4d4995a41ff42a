"""Attention variants, all with one interface: ``y, new_state = attn(x, state=None)``, x (B, T, D).

    dense    None                                   full causal SDPA
    sliding  None                                   exactly `window` keys per query
    xl       Tensor (B, mem_len, D), detached       Transformer-XL memory + relative bias
    infini   (M (B,H,dk,dv), z (B,H,dk)) fp32       compressive memory, per-head gate
    ring     None                                   ring attention inside `sequence_parallel()`

Every variant has ``init_state(batch, device)`` (the empty memory) and the class attribute
``segmented`` (True: the trunk feeds long inputs segment by segment, carrying the memory).
"""
from components.attention.base import Attention
from components.attention.registry import (
    attention_config,
    create_attention,
    list_attention,
    register_attention,
)
from components.attention.state import cat_state, detach_state, index_state, map_state, reset_state

# importing the variants registers them
from components.attention import dense, infini, ring, sliding, xl  # noqa: E402,F401  isort:skip
from components.attention.ring import sequence_parallel  # noqa: E402

__all__ = [
    "Attention",
    "attention_config",
    "cat_state",
    "create_attention",
    "detach_state",
    "index_state",
    "list_attention",
    "map_state",
    "register_attention",
    "reset_state",
    "sequence_parallel",
]
