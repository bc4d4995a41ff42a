"""Model presets of Strategy 1: ``foundation.preset=tiny | small | base``.

A preset names a model size.  It sets the fields below, each one only where the composed config still
holds the shipped default (the ``tiny`` value): any field given on the command line or in a config
file with another value wins over the preset.  (A field set explicitly *to* its tiny value cannot be
told apart from the default, so under ``small`` / ``base`` it takes the preset's value; to run such a
mix, start from ``foundation.preset=tiny`` and set every field yourself.)  The preset is applied when
the config is composed (``apply_preset``, from the strategy's ``check`` hook), so ``zoo config`` and
the run's ``config.yaml`` show the sizes it ran with.

Parameters (scratch text side, patch frame tokenizer, the preset's BPE vocabulary + 3 specials;
counted on the meta device by ``count_parameters``, ``tests/test_strategy1_presets.py``):

    tiny     0.42M   dim 64,  2 layers,  4 heads   the shipped default; tests shrink it further
    small    3.67M   dim 192, 4 layers,  6 heads   CPU: minutes (one task) to hours (a suite)
    base     113.2M  dim 768, 12 layers, 12 heads  GPU only (``trainer.accelerator=gpu``), FSDP

``base`` is refused on CPU with one line, before any run directory exists.  It also sets
``trainer.strategy=fsdp`` and ``trainer.precision=bf16-mixed`` (same rule: only over the defaults).
"""
from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from strategies.foundation.model import FoundationModel
from zoo.core.errors import ZooError, unknown

# dotted key -> value; ``tiny`` holds the shipped defaults (configs/defaults.yaml + configs/strategy/foundation.yaml),
# which is how a preset tells a default field from one the user set (a test keeps the two in step)
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"model.dim": 64, "model.n_layers": 2, "model.n_heads": 4, "model.vocab_size": 512,
             "model.attention.window": 128, "model.tokenizer.depth": 2,
             "trainer.strategy": "auto", "trainer.precision": "32-true"},
    "small": {"model.dim": 192, "model.n_layers": 4, "model.n_heads": 6, "model.vocab_size": 1024,
              "model.attention.window": 192, "model.tokenizer.depth": 2},
    "base": {"model.dim": 768, "model.n_layers": 12, "model.n_heads": 12, "model.vocab_size": 8192,
             "model.attention.window": 320, "model.tokenizer.depth": 2,
             "trainer.strategy": "fsdp", "trainer.precision": "bf16-mixed"},
}
PRESET_NAMES = tuple(PRESETS)
GPU_ONLY = {"base": "trainer.accelerator=gpu (113M parameters; trainer.strategy=fsdp)"}
# measured by count_parameters (see the module docstring); the test asserts the ranges
PARAMETERS = {"tiny": 419_414, "small": 3_670_102, "base": 113_160_214}


def apply_preset(cfg: Any) -> list[str]:
    """Set the chosen preset's fields in ``cfg`` (a composed run config) where they still hold the tiny
    default; returns the keys it changed.  One-line errors for an unknown preset or ``base`` on CPU."""
    name = str(cfg.foundation.preset)
    if name not in PRESETS:
        raise unknown("value for 'foundation.preset'", name, PRESET_NAMES)
    changed = []
    for key, value in PRESETS[name].items():
        if key == "model.attention.window" and OmegaConf.select(cfg, "model.attention.name") != "sliding":
            continue  # only the sliding variant has a window
        default = PRESETS["tiny"][key]
        if OmegaConf.select(cfg, key) == default and value != default:
            OmegaConf.update(cfg, key, value, merge=True)
            changed.append(key)
    if name in GPU_ONLY and str(cfg.trainer.accelerator) == "cpu":
        raise ZooError(f"foundation.preset={name} needs {GPU_ONLY[name]}; it is refused on CPU "
                       f"(trainer.accelerator=cpu): use foundation.preset=small or tiny there")
    return changed


def count_parameters(cfg: Any, vocab_size: int | None = None) -> int:
    """Parameters of Strategy 1's model for a composed config, built on the meta device (no memory)."""
    import torch

    vocab = int(cfg.model.vocab_size if vocab_size is None else vocab_size) + 3  # + <step> <act> <eol>
    with torch.device("meta"):
        model = FoundationModel(cfg.model, vocab, pad_id=0)
    return sum(p.numel() for p in model.parameters())
