"""DOM/text tokenizer: byte-level BPE trained locally with the ``tokenizers`` library.

Each run trains its own vocabulary on the texts it sees (instructions, element texts, tag names)
and saves it inside the run directory, so a checkpoint always travels with its tokenizer and
nothing is downloaded. Byte-level pre-tokenisation means every string is encodable (no unknown
tokens), whatever the vocabulary size.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from zoo.core.errors import ZooError

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>", "<sep>")
FILE_NAME = "bpe.json"
MIN_VOCAB = 256 + len(SPECIALS)  # the byte alphabet plus our special tokens


def _file(path: str | Path) -> Path:
    p = Path(path)
    return p if p.suffix == ".json" else p / FILE_NAME


class BPETokenizer:
    """``BPETokenizer.train(texts, vocab_size)``; ``encode``/``decode``; ``save``/``load``."""

    def __init__(self, tokenizer: Tokenizer):
        self.tok = tokenizer
        ids = [tokenizer.token_to_id(s) for s in SPECIALS]
        if any(i is None for i in ids):
            raise ZooError("not an actionzoo BPE tokenizer: special tokens " + ", ".join(SPECIALS) + " missing")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.sep_id = ids

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 2) -> BPETokenizer:
        if int(vocab_size) < MIN_VOCAB:
            raise ZooError(f"bad value for 'model.vocab_size': {vocab_size} (byte-level BPE needs >= {MIN_VOCAB})")
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=int(vocab_size),
            min_frequency=int(min_frequency),
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator((t for t in texts if t), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str, add_special: bool = False, max_len: int | None = None) -> list[int]:
        """Token ids of ``text`` (with <bos>/<eos> around it when ``add_special``), cut to ``max_len``."""
        ids = self.tok.encode(text or "", add_special_tokens=False).ids
        if add_special:
            ids = [self.bos_id, *ids, self.eos_id]
        if max_len is not None:
            ids = ids[: int(max_len)]
        return ids

    def encode_batch(
        self, texts: Sequence[str], max_len: int, add_special: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded (B, max_len) long ids and the bool mask of real tokens."""
        ids = torch.full((len(texts), int(max_len)), self.pad_id, dtype=torch.long)
        for i, text in enumerate(texts):
            row = self.encode(text, add_special=add_special, max_len=max_len)
            if row:
                ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids, ids != self.pad_id

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        return self.tok.decode([int(i) for i in ids], skip_special_tokens=skip_special)

    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (a .json file, or a directory that gets ``bpe.json``); returns the file."""
        f = _file(path)
        f.parent.mkdir(parents=True, exist_ok=True)
        self.tok.save(str(f))
        return f

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        f = _file(path)
        if not f.is_file():
            raise ZooError(f"BPE tokenizer file not found: {f}")
        return cls(Tokenizer.from_file(str(f)))
