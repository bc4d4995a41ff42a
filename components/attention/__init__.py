"""Attention variants, all with one interface: ``y, new_state = attn(x, state=None, detach=None)``, x (B, T, D).

    dense    None                                   full causal SDPA
    sliding  None                                   exactly `window` keys per query
    xl       Tensor (B, mem_len, D), detached       Transformer-XL memory + relative bias
    infini   (M (B,H,dk,dv), z (B,H,dk)) fp32       compressive memory, per-head gate
    ring     None                                   ring attention inside `sequence_parallel()`

Every variant declares its fields in its own ``Config`` dataclass (``attention_config`` checks a
spec against it), has ``init_state(batch, device)`` (the empty memory; ``has_memory`` is True when
it is not None) and the class attribute ``segmented`` (True: the trunk feeds long inputs segment by
segment, carrying the memory). ``detach`` cuts the returned memory's graph (None: the variant's
``detach_memory`` default, True for xl as in Transformer-XL, False for infini).
"""
from components.attention.base import Attention, AttentionConfig, check_heads
from components.attention.registry import (
    attention_class,
    attention_config,
    attention_fields,
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
    "AttentionConfig",
    "attention_class",
    "attention_config",
    "attention_fields",
    "check_heads",
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
