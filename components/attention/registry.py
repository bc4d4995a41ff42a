"""The attention family: ``register_attention`` / ``attention_config`` / ``create_attention``.

Each variant declares its fields in its own ``Config`` dataclass (a subclass of
``components.attention.base.AttentionConfig``) and is registered with it:

    @register_attention("sliding")
    class SlidingWindowAttention(Attention):
        @dataclass
        class Config(AttentionConfig):
            window: int = 64

``attention_config(spec)`` turns a spec (a name, or a mapping / DictConfig with ``name`` and the
variant's fields, or a Config already made) into that variant's Config, once: an unknown field is
a one-line ZooError naming the valid fields, a bad value one naming the value. The config layer
calls it to check ``model.attention`` at compose time; modules take the typed Config from there.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from components.attention.base import Attention, AttentionConfig
from zoo.core.errors import ZooError, did_you_mean
from zoo.core.registry import family

_REGISTRY = family("attention")


def register_attention(name: str, doc: str | None = None):
    """Class decorator: registers a variant under ``name`` with its own ``Config`` dataclass."""
    add = _REGISTRY.register(name, doc)

    def deco(cls: type[Attention]) -> type[Attention]:
        config = cls.__dict__.get("Config")
        if config is None or not (dataclasses.is_dataclass(config) and issubclass(config, AttentionConfig)):
            raise TypeError(f"attention '{name}' must declare its own Config (a dataclass subclass of AttentionConfig)")
        config.name = name
        return add(cls)

    return deco


def list_attention() -> list[str]:
    return _REGISTRY.names()


def attention_class(name: str) -> type[Attention]:
    return _REGISTRY.get(name)


def attention_fields(name: str) -> tuple[str, ...]:
    """The fields a variant declares (besides ``name``)."""
    return tuple(f.name for f in dataclasses.fields(attention_class(name).Config))


def as_dict(cfg: Any) -> dict[str, Any]:
    """A plain dict from a dataclass / DictConfig / mapping / bare name."""
    if cfg is None:
        return {}
    if isinstance(cfg, str):
        return {"name": cfg}
    if isinstance(cfg, AttentionConfig):
        return cfg.as_dict()
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
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


def attention_config(spec: Any = None, **overrides: Any) -> AttentionConfig:
    """The variant's own Config from ``spec`` (None: dense), with ``overrides`` on top; checked."""
    if isinstance(spec, AttentionConfig):
        if not overrides:
            return spec
        base = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        fields: dict[str, Any] = {"name": spec.name, **base, **overrides}
    else:
        fields = {**as_dict(spec), **overrides}
    name = fields.pop("name", None) or "dense"
    cls = attention_class(str(name)).Config
    valid = tuple(f.name for f in dataclasses.fields(cls))
    for key in fields:
        if key not in valid:
            raise ZooError(
                f"unknown attention field '{key}' for attention '{name}'{did_you_mean(key, valid)}; "
                f"valid fields: {', '.join(('name',) + valid)}"
            )
    return cls(**fields)


def create_attention(spec: Any, dim: int, n_heads: int, **fields: Any) -> Attention:
    """Build a registered variant: ``y, state = attn(x, state)``, ``attn.init_state(batch, device)``.

    ``spec``: a name, a mapping with ``name`` and fields, or a variant Config; ``fields`` go on top.
    """
    config = attention_config(spec, **fields)
    return attention_class(config.name)(int(dim), int(n_heads), config)
