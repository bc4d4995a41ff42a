"""The run's BPE vocabulary: trained on texts of the training pages, stored inside checkpoints."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.text import BPETokenizer


def observation_texts(observations: Iterable[Any]) -> list[str]:
    """Lower-cased instruction words, element texts, tags, attribute values and options (what the
    featurizer will encode), so the vocabulary merges exactly those strings."""
    texts: list[str] = []
    for obs in observations:
        texts += (obs.instruction or "").lower().split()
        for e in obs.elements:
            texts += [(e.text or "").lower(), e.tag.lower()]
            texts += [f"{k} {v}".lower() for k, v in (e.attrs or {}).items() if v]
            texts += [str(o).lower() for o in (e.options or [])]
    return [t for t in texts if t.strip()]


def train_tokenizer(observations: Iterable[Any], vocab_size: int) -> BPETokenizer:
    return BPETokenizer.train(observation_texts(observations), vocab_size=vocab_size)


def tokenizer_to_json(tok: BPETokenizer) -> str:
    return tok.tok.to_str()


def tokenizer_from_json(text: str) -> BPETokenizer:
    from tokenizers import Tokenizer

    return BPETokenizer(Tokenizer.from_str(text))
