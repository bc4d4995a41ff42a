"""zoo.train.resumable: a run killed mid-epoch and resumed trains on the same batches with the same
dropout masks as the run that was never stopped (a real Lightning Trainer, real checkpoints)."""
from __future__ import annotations

import random

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from fault_helpers import Killed, KillBeforeStep
from zoo.train.resumable import (RandomState, ResumableLoader, ResumableSampler, grouped_by_length, random_state,
                                 set_random_state)

SAMPLES = 5  # batches of 2: three per epoch, the last one short


def test_epoch_order_is_a_function_of_seed_and_epoch_and_continues_after_the_consumed_indices():
    first = ResumableSampler(range(SAMPLES), seed=3)
    epoch0 = list(first)
    assert sorted(epoch0) == list(range(SAMPLES)) and list(ResumableSampler(range(SAMPLES), seed=3)) == epoch0
    first.set_epoch(1)
    epoch1 = list(first)
    assert sorted(epoch1) == list(range(SAMPLES)) and epoch1 != epoch0

    stopped = ResumableSampler(range(SAMPLES), seed=3)
    stopped.set_epoch(1)
    it = iter(stopped)
    taken = [next(it), next(it)]
    resumed = ResumableSampler(range(SAMPLES), seed=3)
    resumed.epoch, resumed.consumed = stopped.epoch, stopped.consumed
    resumed.set_epoch(1)  # Lightning sets the resumed epoch again: the position stays
    assert taken + list(resumed) == epoch1
    resumed.set_epoch(2)
    assert resumed.consumed == 0 and len(list(resumed)) == SAMPLES


def test_ranks_share_out_each_epoch():
    ranks = [list(ResumableSampler(range(6), seed=0, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == list(range(6)) and len(ranks[0]) == len(ranks[1]) == 3


def test_grouped_by_length_sorts_each_run_of_batches_and_keeps_every_index():
    """Hand-made lengths: runs of 2 batches of 2 (4 indices) are sorted by length and cut, the batches of a run
    come in an order drawn from the seed, a short last run keeps its indices, and nothing is lost or repeated."""
    lengths = [50, 10, 40, 20, 30, 5, 7]
    order = [0, 1, 2, 3, 4, 5, 6]
    out = grouped_by_length(order, lengths, batch_size=2, length_groups=2, seed=0)
    assert sorted(out) == order
    batches = [out[i:i + 2] for i in range(0, len(out), 2)]
    assert sorted(map(sorted, batches[:2])) == [[0, 2], [1, 3]]  # first run (50, 10, 40, 20): 10+20 / 40+50
    assert sorted(map(sorted, batches[2:])) == [[4], [5, 6]]  # last run (30, 5, 7): 5+7 / 30
    assert grouped_by_length(order, lengths, 2, 2, seed=0) == out  # a pure function of the seed
    assert {tuple(grouped_by_length(order, lengths, 2, 2, seed=s)) for s in range(20)} != {tuple(out)}
    from strategies.foundation.batch_bench import padded_ratio  # what zoo bench batches reports

    assert padded_ratio([[0, 2], [1, 3]], lengths) == (2 * 50 + 2 * 20) / 120
    assert padded_ratio([[0, 1], [2, 3]], lengths) == (2 * 50 + 2 * 40) / 120


def test_length_groups_cut_padding_and_resume_on_the_same_batches():
    """Lengths spread like recorded episodes': batches of like length pad far less than random ones; the order
    is a function of (seed, epoch), and a loader stopped mid-epoch resumes on the very same batches."""
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.lognormal(5.5, 0.8, 400)]

    def padded(loader: ResumableLoader) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in loader)

    def loader(groups: int) -> ResumableLoader:
        return ResumableLoader(list(range(400)), 8, seed=1, collate_fn=list, lengths=lengths, length_groups=groups)

    plain, grouped = padded(loader(0)), padded(loader(8))
    assert grouped < 0.7 * plain and grouped >= sum(lengths)
    batches = [tuple(b) for b in loader(8)]
    assert sorted(i for b in batches for i in b) == list(range(400)) and batches == [tuple(b) for b in loader(8)]
    stopped = loader(8)
    it = iter(stopped)
    head = [tuple(next(it)) for _ in range(7)]
    resumed = loader(8)
    resumed.load_state_dict(stopped.state_dict())
    assert head + [tuple(b) for b in resumed] == batches
    with pytest.raises(ValueError, match="one length per item"):
        ResumableLoader(list(range(3)), 2, seed=0, collate_fn=list, lengths=[1, 2], length_groups=1)


def test_random_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    torch.save(random_state(), tmp_path / "rng.pt")
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(2), random.seed(2), np.random.seed(2)
    set_random_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(expected[0], again[0]) and expected[1:] == again[1:]


class DropoutRegression(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1))
        self.seen: list[list[int]] = []  # sample ids, one list per step

    def training_step(self, batch, batch_idx):
        ids, x, y = batch
        self.seen.append(ids.tolist())
        return torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def samples() -> list[tuple[int, torch.Tensor, float]]:
    g = torch.Generator().manual_seed(0)
    return [(i, torch.randn(4, generator=g), float(i)) for i in range(SAMPLES)]


def collate(items):
    return (torch.tensor([i for i, _, _ in items]), torch.stack([x for _, x, _ in items]),
            torch.tensor([y for _, _, y in items]))


def train(tmp_path, name: str, resumable: bool, stop: int | None = None, resume: bool = False):
    """7 steps (two epochs and a third begun) of a tiny regression with dropout; returns the module."""
    torch.manual_seed(0 if not resume else 123)  # a resumed process starts with other random state
    module = DropoutRegression()
    loader = (ResumableLoader(samples(), 2, seed=0, collate_fn=collate) if resumable
              else DataLoader(samples(), batch_size=2, shuffle=True, collate_fn=collate))
    folder = tmp_path / name
    callbacks = [ModelCheckpoint(dirpath=folder, every_n_train_steps=1, save_last=True)]
    callbacks += [RandomState()] if resumable else []
    callbacks += [KillBeforeStep(stop)] if stop is not None else []
    trainer = L.Trainer(max_steps=7, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=callbacks, default_root_dir=folder)
    trainer.fit(module, loader, ckpt_path=folder / "last.ckpt" if resume else None, weights_only=True)
    return module


@pytest.mark.parametrize("stop", [1, 4])  # inside the first epoch, inside the second
def test_a_run_killed_mid_epoch_resumes_on_the_same_batches_and_weights(tmp_path, stop):
    straight = train(tmp_path, "straight", resumable=True)
    with pytest.raises(Killed):
        train(tmp_path, "killed", resumable=True, stop=stop)
    resumed = train(tmp_path, "killed", resumable=True, resume=True)
    assert straight.seen[stop:] == resumed.seen  # the steps after the kill saw the same samples
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_plain_shuffled_loader_does_not_resume_exactly(tmp_path):
    """The same kill with torch's own loader and no saved random state: other weights (what the test above
    guards against)."""
    straight = train(tmp_path, "straight", resumable=False)
    with pytest.raises(Killed):
        train(tmp_path, "killed", resumable=False, stop=4)
    resumed = train(tmp_path, "killed", resumable=False, resume=True)
    assert any(not torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))
