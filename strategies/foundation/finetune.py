"""Strategy 1's few-shot adaptation (the registered ``finetune`` hook; ``zoo compare``'s ``fewshot: [k, ...]``).

From a checkpoint trained on other tasks: record ``demos_per_task`` oracle demonstrations of each new task
(training seeds, no exploring episodes; the same recorder and dataset folder rules as ``zoo fit``), run a
short SFT stage on them starting from the checkpoint's weights (``foundation.finetune``: passes over the
demonstrations, lr, batch),
then score the result on the new tasks' evaluation seeds through the strategy's own scoring (every variant,
``scoring.py``) into ``run_dir/results.json``.

The model's architecture, BPE vocabulary and text side come from the checkpoint (its tokenizer is written to
``run_dir/tokenizer/bpe.json`` so the new demonstrations are read with the vocabulary the weights know); env,
eval, seed and the finetune settings from ``cfg``.  The adapted weights are ``run_dir/checkpoints/sft/final.ckpt``
(a finished one is reused: re-running scores it again without training).  ``run_dir/finetune.json`` says what
was used (demonstrations, steps, wall time).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from strategies.foundation import score_checkpoint
from strategies.foundation.config import MODEL_KEYS, FoundationRunConfig
from strategies.foundation.loading import resolve_checkpoint
from strategies.foundation.stages import final_checkpoint, run_stage, write_json
from zoo.core.checkpoints import checkpoint_exists, load_checkpoint, saved_run_config
from zoo.core.errors import ZooError
from zoo.core.io import atomic_write


def adaptation_config(cfg: Any, trained: Any, tasks: list[str], demos_per_task: int) -> Any:
    """The SFT stage's config: ``cfg`` with the checkpoint's model and text side, exactly ``demos_per_task``
    oracle demonstrations of ``tasks`` (all for training) and ``foundation.finetune`` as the SFT settings."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    out.model = OmegaConf.create(OmegaConf.to_container(trained.model, resolve=True))
    for key in ("preset", "text_init", "text_frozen", *MODEL_KEYS):  # the weights' shape and inputs
        out.foundation[key] = trained.foundation[key]
    out.env.tasks = list(tasks)
    out.stage = "sft"
    data = out.foundation.data
    data.episodes_per_task, data.explore_fraction, data.val_fraction = int(demos_per_task), 0.0, 0.0
    # epochs travel with the stage: run_stage turns them into max_steps from the demonstrations it loaded, so
    # every k gets as many passes per demonstration (all of them train: val_fraction 0)
    out.foundation.sft = OmegaConf.create(OmegaConf.to_container(out.foundation.finetune, resolve=True))
    return out


def finetune(cfg: Any, run_dir: Path, init_checkpoint: Path, tasks: list[str], demos_per_task: int) -> dict:
    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    init = resolve_checkpoint(init_checkpoint)
    ckpt = load_checkpoint(init)
    hp = ckpt.get("hyper_parameters", {})
    if "cfg" not in hp or "foundation_tokenizer" not in ckpt:
        raise ZooError(f"{init} is not a Strategy-1 checkpoint (no foundation config/tokenizer inside)")
    sft_cfg = adaptation_config(cfg, saved_run_config(hp["cfg"], FoundationRunConfig, "foundation"), list(tasks),
                                int(demos_per_task))
    del ckpt
    bpe = run_dir / "tokenizer" / "bpe.json"
    if not bpe.is_file():  # the vocabulary the weights were trained with, not one learnt from the new demos
        bpe.parent.mkdir(parents=True, exist_ok=True)
        tokenizer_json = load_checkpoint(init)["foundation_tokenizer"]
        atomic_write(bpe, lambda p: p.write_text(tokenizer_json))
    final = final_checkpoint(run_dir, "sft")
    if checkpoint_exists(final):
        summary: dict[str, Any] = {"checkpoint": str(final), "note": "adapted already; scored again"}
    else:
        summary = run_stage(sft_cfg, run_dir, "sft", list(tasks), init_from=init)
    info = {"init_checkpoint": str(init), "demos_per_task": int(demos_per_task), "tasks": list(tasks),
            "demos": summary.get("train_episodes"), "steps": summary.get("steps"),
            "train_seconds": summary.get("seconds"), "checkpoint": str(final)}
    run = {"strategy": "foundation", "run_dir": str(run_dir), "checkpoint": str(final), "demos": info["demos"]}
    results = score_checkpoint(sft_cfg, run_dir, final, list(tasks), extra={"finetune": info, "run": run})
    info["wall_s"] = round(time.perf_counter() - t0, 1)
    write_json(run_dir / "finetune.json", info)
    return results
