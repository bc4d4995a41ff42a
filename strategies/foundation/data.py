"""The recorded dataset as model inputs: episodes -> ``sequence.Episode`` -> Lightning DataModule.

Split: per task, the last ``val_fraction`` of the oracle episodes are held out (SFT exact match
and token accuracy are measured on them); everything else trains.  Per stage:

    pretrain  every training episode, oracle and exploring (the world model sees failures too)
    sft       successful episodes whose every action came from the oracle (clean instructions)
    rl        every training episode, with return targets for the value head (see ``rl.py``)

The run's BPE tokenizer is trained on the training texts the first time and saved in the run
directory (``tokenizer/bpe.json``); later stages and the agent load that file.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from components.text import BPETokenizer
from strategies.foundation.batch import collate
from strategies.foundation.pretrained_text import TextTokenizer, load_tokenizer
from strategies.foundation.recording import dataset_dir, dict_action, ensure_dataset, recording_config, row_element
from strategies.foundation.screencast import sample_frames
from strategies.foundation.sequence import Episode, SequenceBuilder, Step, element_text
from zoo.train.distributed import local_rank
from zoo.train.resumable import ResumableLoader
from zoo.core.errors import ZooError


@dataclass
class Recorded:
    meta: dict[str, Any]
    frames: np.ndarray
    times: np.ndarray
    frame_step: np.ndarray

    @property
    def clean(self) -> bool:
        """Successful, and every action came from the oracle."""
        return bool(self.meta["success"]) and all(s["source"] == "oracle" for s in self.meta["steps"])


def load_recorded(directory: str | Path) -> list[Recorded]:
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise ZooError(f"no recorded dataset at {directory} (manifest.json missing)")
    manifest = json.loads(manifest_path.read_text())
    out = []
    for entry in manifest["episodes"]:
        meta = json.loads((directory / f"{entry['file']}.json").read_text())
        with np.load(directory / f"{entry['file']}.npz") as z:
            out.append(Recorded(meta, z["frames"], z["times"], z["step"]))
    return out


def terminal_value(raw_reward: float, truncated: bool) -> float:
    """Final value of an episode in [-1, 1]: the page's raw reward; running out of steps is a failure."""
    return -1.0 if truncated else float(raw_reward)


def step_frames(rec: Recorded, t: int, fps: float, k: int) -> np.ndarray:
    """The last ``k`` frames of the recording watched at ``fps`` up to step t, the step's own frame last
    (``screencast.sample_frames``: the acting path samples its observation stream the same way)."""
    own = int(np.flatnonzero(rec.frame_step == t)[0])
    return rec.frames[sample_frames(rec.times, own, fps, k)]


def to_episode(rec: Recorded, fps: float = 3.0, frames_per_step: int = 1, gamma: float = 0.95) -> Episode:
    meta = rec.meta
    outcome = terminal_value(meta["raw_reward"], meta.get("truncated", False))
    n = len(meta["steps"])
    steps = []
    for t, s in enumerate(meta["steps"]):
        steps.append(Step(
            instruction=s["instruction"], elements=[row_element(r) for r in s["elements"]],
            frames=step_frames(rec, t, fps, frames_per_step), action=dict_action(s["action"]), line=s["line"],
            value=outcome * gamma ** (n - 1 - t), expert=bool(meta["success"]) and s["source"] == "oracle",
            page=s["page"],
        ))
    return Episode(meta["task"], steps)


def split(recs: list[Recorded], val_fraction: float) -> tuple[list[Recorded], list[Recorded]]:
    train, val = [], []
    for task in dict.fromkeys(r.meta["task"] for r in recs):
        oracle = [r for r in recs if r.meta["task"] == task and r.meta["agent"] == "oracle"]
        n_val = int(round(len(oracle) * val_fraction))
        held = {id(r) for r in oracle[len(oracle) - n_val:]} if n_val else set()
        for r in recs:
            if r.meta["task"] == task:
                (val if id(r) in held else train).append(r)
    return train, val


def tokenizer_texts(episodes: list[Episode]) -> list[str]:
    texts = []
    for ep in episodes:
        for i, s in enumerate(ep.steps):
            texts.append(s.instruction)
            texts.extend(element_text(e) for e in s.elements)
            if s.line:
                texts.append(f"{i + 1}. {s.line}")
    return texts


def wait_for(path: Path, timeout_s: float = 3600.0) -> Path:
    deadline = time.monotonic() + timeout_s
    while not path.is_file():
        if time.monotonic() > deadline:
            raise ZooError(f"waited {timeout_s:.0f}s for local rank 0 to write {path}")
        time.sleep(1.0)
    return path


def load_or_train_tokenizer(run_dir: Path, episodes: list[Episode], vocab_size: int) -> BPETokenizer:
    path = Path(run_dir) / "tokenizer" / "bpe.json"
    if path.is_file() or local_rank() > 0:  # one writer per node: the run dir may be node-local
        return BPETokenizer.load(wait_for(path))
    tok = BPETokenizer.train(tokenizer_texts(episodes), vocab_size=vocab_size)
    tmp = tok.save(path.with_name("bpe.tmp.json"))
    os.replace(tmp, path)  # atomic: other ranks poll for this file
    return tok


def builder_for(cfg: Any, tokenizer: BPETokenizer, tokens_per_frame: int, text_tokenizer: Any = None) -> SequenceBuilder:
    """The run's sequence builder.  ``text_tokenizer``: the pretrained text encoder's (a checkpoint's); by
    default loaded from ``foundation.text_init`` unless that is ``scratch``."""
    spec = str(cfg.foundation.text_init)
    if text_tokenizer is None and spec != "scratch":
        text_tokenizer = load_tokenizer(spec)
    if text_tokenizer is not None:
        text_tokenizer = TextTokenizer(text_tokenizer)
    return SequenceBuilder(tokenizer, tokens_per_frame, int(cfg.model.max_elements), int(cfg.model.max_text_len),
                           int(cfg.foundation.data.frames_per_step), text_tokenizer=text_tokenizer,
                           read_context=bool(cfg.foundation.read_context),
                           read_derived=bool(cfg.foundation.read_derived))


def tokens_per_frame(cfg: Any) -> int:
    if not cfg.model.use_screen:
        return 0
    return (int(cfg.model.tokenizer.image_size) // int(cfg.model.tokenizer.patch_size)) ** 2


class EpisodeDataModule(L.LightningDataModule):
    """Records the dataset on first use (``prepare_data``) and serves encoded episodes of one stage."""

    def __init__(self, cfg: Any, run_dir: str | Path, stage: str, tasks: list[str]):
        super().__init__()
        self.cfg, self.run_dir, self.stage, self.tasks = cfg, Path(run_dir), stage, list(tasks)
        self.config = recording_config(self.tasks, cfg.foundation.data, cfg.env, int(cfg.seed))
        self.ready = False

    def prepare_data(self) -> None:
        if local_rank() > 0:  # the node's other processes wait for its first one's recording
            self.directory = wait_for(dataset_dir(self.cfg.foundation.data.root, self.config) / "manifest.json").parent
            return
        self.directory = ensure_dataset(self.cfg.foundation.data.root, self.config, headless=bool(self.cfg.env.headless),
                                        step_timeout_s=float(self.cfg.env.step_timeout_s),
                                        progress=bool(self.cfg.trainer.progress),
                                        workers=int(self.cfg.foundation.data.record_workers))

    def setup(self, stage: str | None = None) -> None:
        if self.ready:
            return
        data = self.cfg.foundation.data
        gamma = float(self.cfg.foundation.search.gamma)
        recs = load_recorded(dataset_dir(data.root, self.config))
        train, val = split(recs, float(data.val_fraction))
        convert = lambda rs: [to_episode(r, float(data.fps), int(data.frames_per_step), gamma) for r in rs]  # noqa: E731
        self.train_episodes = convert([r for r in train if self.stage != "sft" or r.clean])
        self.val_episodes = convert([r for r in val if r.clean])
        if not self.train_episodes:
            raise ZooError(f"stage {self.stage}: the recorded dataset has no usable training episodes")
        self.tokenizer = load_or_train_tokenizer(self.run_dir, convert(train), int(self.cfg.model.vocab_size))
        self.builder = builder_for(self.cfg, self.tokenizer, tokens_per_frame(self.cfg))
        self.train_examples = [self.builder.build(e) for e in self.train_episodes]
        self.val_examples = [self.builder.build(e) for e in self.val_episodes]
        self.ready = True

    def batch_size(self) -> int:
        return int(self.cfg.foundation[self.stage].batch_size)

    def train_dataloader(self) -> DataLoader:
        # resumable: a stage killed mid-epoch continues on the very batches the unstopped run would have had
        trainer = self.trainer
        ranks, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        groups = int(self.cfg.foundation[self.stage].length_groups)
        return ResumableLoader(self.train_examples, self.batch_size(), int(self.cfg.seed), collate,
                               num_replicas=ranks, rank=rank, lengths=[len(e.ids) for e in self.train_examples],
                               length_groups=groups)

    def val_dataloader(self) -> DataLoader:
        own = torch.Generator().manual_seed(int(self.cfg.seed))  # iterating it draws nothing from the global one
        return DataLoader(self.val_examples or self.train_examples[:1], batch_size=self.batch_size(), shuffle=False,
                          collate_fn=collate, num_workers=0, generator=own)
