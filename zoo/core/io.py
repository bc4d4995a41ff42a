"""Atomic file writes: a reader (another rank, a parallel search worker, `zoo report`) never sees half a
file, and a killed process never leaves one.  The temporary name carries the pid and a per-call counter,
so several processes (DDP ranks) or threads writing the same path at once do not clash."""
from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

_counter = itertools.count()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_counter)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def atomic_write_yaml(path: str | os.PathLike, cfg: Any) -> Path:
    """An OmegaConf config (or plain container) as YAML, interpolations resolved."""
    from omegaconf import OmegaConf

    if not OmegaConf.is_config(cfg):
        cfg = OmegaConf.create(cfg)
    return atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))
