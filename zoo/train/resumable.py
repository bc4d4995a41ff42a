"""What a stage needs to continue exactly after a kill: the data order and the random streams.

Lightning restores weights, optimiser, scheduler and loop counters from a checkpoint, but a plain
shuffled ``DataLoader`` starts its epoch over with a fresh shuffle (Lightning warns "your dataloader
is not resumable"), and the global random generators (dropout) start wherever the new process left
them. A run resumed mid-epoch then trains on other batches with other dropout masks than the run
that was never stopped.

``ResumableLoader``: epoch ``e``'s order is a pure function of ``(seed, e)`` (``DistributedSampler``'s
own seeded permutation, so each rank keeps its share under DDP/FSDP and Lightning leaves the sampler
in place), and the loader's ``state_dict`` is how far into that epoch it has got; Lightning saves it in
every checkpoint and hands it back before the first batch of the resumed run.

Batches by length (``length_groups`` > 0): a batch is padded to its longest sequence, so batches drawn at random
compute mostly padding where lengths vary widely (``grouped_by_length``).  The grouped order is still a pure
function of ``(seed, epoch)``, so a resumed run continues on the same batches.

``RandomState``: a callback that saves the torch (CPU and the process's CUDA device), Python and NumPy
generators in every checkpoint and puts them back when the resumed run starts training. Lightning
writes rank 0's copy, so under several processes every rank resumes with rank 0's generators.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence, Sized
from typing import Any, Callable

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, DistributedSampler


def grouped_by_length(order: list[int], lengths: Sequence[int], batch_size: int, length_groups: int,
                      seed: int) -> list[int]:
    """``order`` rearranged so that batches hold sequences of like length: each run of ``length_groups`` x
    ``batch_size`` consecutive indices is sorted by length (stable) and cut into batches, and the batches of
    a run are put in an order drawn from ``seed`` (so a run's long batches do not always come last).  Every
    run starts at a multiple of ``batch_size``, so the loader's batches are exactly these."""
    span = batch_size * length_groups
    rng = random.Random(seed)
    out: list[int] = []
    for start in range(0, len(order), span):
        run = sorted(order[start:start + span], key=lambda i: lengths[i])
        batches = [run[b:b + batch_size] for b in range(0, len(run), batch_size)]
        rng.shuffle(batches)
        out += [i for batch in batches for i in batch]
    return out


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (epoch order from ``seed + epoch``, rank ``rank`` of ``num_replicas`` takes
    every ``num_replicas``-th index) that remembers how many indices of the current epoch it has handed
    out and starts a later iteration of the same epoch after them.  With ``lengths`` and ``length_groups``
    > 0 each rank's order is ``grouped_by_length`` into batches of ``batch_size``."""

    def __init__(self, data: Sized, seed: int, shuffle: bool = True, num_replicas: int = 1, rank: int = 0,
                 lengths: Sequence[int] | None = None, batch_size: int = 1, length_groups: int = 0):
        super().__init__(data, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        if length_groups > 0 and (lengths is None or len(lengths) != len(data)):
            raise ValueError("length_groups needs one length per item")
        self.consumed = 0
        self.lengths, self.batch_size, self.length_groups = lengths, int(batch_size), int(length_groups)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:  # Lightning calls this at every epoch start, also for the resumed epoch
            self.consumed = 0
        super().set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        order = list(super().__iter__())
        if self.length_groups > 0 and self.lengths is not None:
            order = grouped_by_length(order, self.lengths, self.batch_size, self.length_groups, self.seed + self.epoch)
        for index in order[self.consumed:]:
            self.consumed += 1
            yield index


class ResumableLoader(DataLoader):
    """A single-process ``DataLoader`` over ``data`` in ``ResumableSampler`` order whose position is part
    of Lightning's checkpoints. Its own ``generator`` keeps ``iter()`` from drawing on torch's global
    generator, so a resumed run's random stream is not shifted by the loader it rebuilt.  ``lengths`` /
    ``length_groups``: batches of like length (``grouped_by_length``); 0 draws them at random."""

    def __init__(self, data: Any, batch_size: int, seed: int, collate_fn: Callable[[list[Any]], Any],
                 shuffle: bool = True, num_replicas: int = 1, rank: int = 0, lengths: Sequence[int] | None = None,
                 length_groups: int = 0):
        sampler = ResumableSampler(data, seed, shuffle=shuffle, num_replicas=num_replicas, rank=rank,
                                   lengths=lengths, batch_size=batch_size, length_groups=length_groups)
        super().__init__(data, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, num_workers=0,
                         generator=torch.Generator().manual_seed(seed))

    def state_dict(self) -> dict[str, int]:
        sampler: ResumableSampler = self.sampler  # type: ignore[assignment]
        return {"epoch": int(sampler.epoch), "consumed": int(sampler.consumed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sampler: ResumableSampler = self.sampler  # type: ignore[assignment]
        sampler.epoch, sampler.consumed = int(state["epoch"]), int(state["consumed"])


def random_state() -> dict[str, Any]:
    """The torch, CUDA, Python and NumPy generators' states as tensors, ints and lists (loadable with
    ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # its key array as a list: not a tensor
    return {
        "torch": torch.get_rng_state(),
        # this process's own device only, and only once CUDA is in use: reading every device's generator would
        # open a CUDA context on each GPU from every rank
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None,
        "python": random.getstate(),  # a tuple of ints, as strategies/foundation/rl.py keeps its own
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }


def set_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if isinstance(state.get("cuda"), torch.Tensor) and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


class RandomState(Callback):
    """Saves the random generators in every checkpoint; a resumed run sets them back when training starts
    (after the model, optimiser and data were rebuilt, which may draw on them)."""

    def __init__(self) -> None:
        self.loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return random_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.loaded = state_dict

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.loaded is not None:
            set_random_state(self.loaded)
            self.loaded = None


__all__ = ["RandomState", "ResumableLoader", "ResumableSampler", "grouped_by_length", "random_state", "set_random_state"]
