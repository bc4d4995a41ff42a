"""The attention family: ``register_attention`` / ``create_attention`` / ``list_attention``.

``create_attention(name, dim, n_heads, **fields)`` takes the fields of
``zoo.schema.model.AttentionConfig``; each variant uses the ones it needs and ignores the rest.
A config object (dataclass, DictConfig or dict holding ``name``) may stand in for ``name``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from zoo.core.errors import ZooError, did_you_mean
from zoo.core.registry import family
from zoo.schema.model import AttentionConfig

_REGISTRY = family("attention")
FIELDS = tuple(f.name for f in dataclasses.fields(AttentionConfig))


def register_attention(name: str, doc: str | None = None):
    return _REGISTRY.register(name, doc)


def list_attention() -> list[str]:
    return _REGISTRY.names()


def as_dict(cfg: Any) -> dict[str, Any]:
    """A plain dict from an AttentionConfig / DictConfig / mapping / bare name."""
    if cfg is None:
        return {}
    if isinstance(cfg, str):
        return {"name": cfg}
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    if not isinstance(cfg, Mapping):
        try:  # DictConfig without importing omegaconf eagerly
            from omegaconf import DictConfig, OmegaConf

            if isinstance(cfg, DictConfig):
                return dict(OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
        except ImportError:
            pass
        raise ZooError(f"attention config must be a name or a mapping, got {type(cfg).__name__}")
    return dict(cfg)


def attention_config(cfg: Any = None, **overrides: Any) -> dict[str, Any]:
    """AttentionConfig defaults, then ``cfg``, then ``overrides``; unknown fields are a ZooError."""
    merged = dataclasses.asdict(AttentionConfig())
    for layer in (as_dict(cfg), overrides):
        for key, value in layer.items():
            if key not in merged:
                raise ZooError(
                    f"unknown attention field '{key}'{did_you_mean(key, FIELDS)}; valid fields: {', '.join(FIELDS)}"
                )
            merged[key] = value
    return merged


def create_attention(name: Any, dim: int, n_heads: int, **fields: Any):
    """Build a registered variant: ``y, state = attn(x, state)``, ``attn.init_state(batch, device)``."""
    if isinstance(name, str):
        fields = attention_config(None, name=name, **fields)
    else:
        fields = attention_config(name, **fields)
    cls = _REGISTRY.get(fields.pop("name"))
    return cls(dim=int(dim), n_heads=int(n_heads), **fields)
