"""A Strategy-1 checkpoint (any stage) -> policy / agent.  Checkpoints carry their tokenizer."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from components.text import BPETokenizer
from strategies.foundation.agent import FoundationAgent
from strategies.foundation.config import FoundationRunConfig
from strategies.foundation.data import builder_for
from strategies.foundation.module import FoundationModule
from strategies.foundation.policy import Policy
from zoo.core.checkpoints import (checkpoint_exists, load_checkpoint, load_weights, read_checkpoint_meta,
                                  saved_run_config)
from zoo.core.errors import ZooError


def load_module(checkpoint_path: str | Path, device: str = "cpu") -> tuple[Any, Any, Any]:
    """(module, tokenizer, builder) from a checkpoint file or a run directory (its latest stage)."""
    from tokenizers import Tokenizer

    path = resolve_checkpoint(checkpoint_path)
    ckpt = load_checkpoint(path)  # a full file or a sharded directory (trainer.sharded_checkpoint)
    hp = ckpt.get("hyper_parameters", {})
    if "cfg" not in hp or "foundation_tokenizer" not in ckpt:
        raise ZooError(f"{path} is not a Strategy-1 checkpoint (no foundation config/tokenizer inside)")
    cfg = saved_run_config(hp["cfg"], FoundationRunConfig, "foundation")  # older files: later keys' defaults
    text_json = ckpt.get("foundation_text_tokenizer")  # a pretrained text side: built from the checkpoint alone
    module = FoundationModule(cfg, hp["stage"], hp["vocab_size"], hp["pad_id"], ckpt["foundation_tokenizer"],
                              text_config=hp.get("text_config"), text_tokenizer_json=text_json)
    load_weights(module, ckpt["state_dict"], path)
    module.to(device).eval()
    tokenizer = BPETokenizer(Tokenizer.from_str(ckpt["foundation_tokenizer"]))
    text_tok = None if text_json is None else Tokenizer.from_str(text_json)
    return module, tokenizer, builder_for(cfg, tokenizer, module.model.tokens_per_frame, text_tok)


def is_checkpoint(path: str | Path) -> bool:
    """True for a Strategy-1 checkpoint (or run dir): it carries the run's tokenizer and config inside."""
    try:
        p = resolve_checkpoint(path)
    except ZooError:
        return False

    ckpt = read_checkpoint_meta(p)
    return "foundation_tokenizer" in ckpt and "cfg" in ckpt.get("hyper_parameters", {})


def resolve_checkpoint(path: str | Path) -> Path:
    """A .ckpt file, or a run dir: its last completed stage's final checkpoint."""
    p = Path(path)
    if checkpoint_exists(p):  # a file, or a sharded checkpoint directory
        return p
    if p.is_dir():
        for stage in ("rl", "sft", "pretrain"):
            final = p / "checkpoints" / stage / "final.ckpt"
            if checkpoint_exists(final):
                return final
    raise ZooError(f"checkpoint not found: {p} (give a .ckpt file or a Strategy-1 run directory)")


def load_agent(checkpoint_path: str | Path, search: bool | None = None, device: str = "cpu") -> Any:
    module, _tokenizer, builder = load_module(checkpoint_path, device)
    cfg = module.cfg
    if str(device) == "cpu" and int(cfg.foundation.cpu_threads) > 0:
        torch.set_num_threads(int(cfg.foundation.cpu_threads))  # acting is per-step tiny batches: one thread wins
    policy = Policy(module.model, builder, int(cfg.foundation.search.top_k), device)
    use_search = bool(cfg.foundation.search.in_agent) if search is None else bool(search)
    agent = FoundationAgent(policy, cfg.foundation.search if use_search else None,
                            int(cfg.foundation.data.frames_per_step), float(cfg.foundation.data.fps))
    agent.name = "strategy1-" + ("policy+search" if use_search else "policy")
    agent.screenshot = bool(cfg.model.use_screen)
    agent.screenshot_size = int(cfg.env.screenshot_size)
    return agent
