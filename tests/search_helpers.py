"""Cheap trial objectives for the ``zoo search`` tests, and a worker process entry point.

The study machinery (storage, resume, pruning, best config) is the same as for real trials;
only the training is swapped for something that takes milliseconds.  Every objective still
composes the trial's overrides through ``zoo.config.compose``, so a sampled value that the
run config would reject fails the test.

Run as a script it is one ``zoo search`` worker: ``python tests/search_helpers.py KIND key=value ...``
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from zoo.config import compose  # noqa: E402


def quadratic(trial, space, overrides) -> dict:
    """Success peaks at lr = 1e-3 with XL memory; a deterministic function of the composed config."""
    cfg = compose(overrides, validate_choices=False)
    distance = abs(math.log10(cfg.ppo.lr) + 3.0)
    bonus = {"xl": 0.2, "infini": 0.1}.get(cfg.model.attention.name, 0.0)
    success = max(0.0, min(1.0, 0.8 - 0.3 * distance + bonus))
    params = cfg.model.n_layers * cfg.model.dim * cfg.model.dim * 12
    return {"success": success, "params": params, "time_s": 0.01 * cfg.model.n_layers}


def slow_quadratic(trial, space, overrides) -> dict:
    """The same objective, 1.5 s per trial: long enough to kill a worker in the middle of one."""
    time.sleep(1.5)
    return quadratic(trial, space, overrides)


def lightning_objective(trial, space, overrides) -> dict:
    """A real Lightning fit through ``zoo.train.trainer.make_trainer`` with the search's pruning callback:
    a toy regression whose logged ``train/success_rate`` rises faster with a better learning rate."""
    import lightning as L
    import torch

    from zoo.train.runs import new_run_dir
    from zoo.search import make_pruning_callback
    from zoo.train.trainer import make_trainer

    cfg = compose(overrides, validate_choices=False)

    class Toy(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(4))

        def training_step(self, batch, _):
            x, y = batch
            loss = ((x @ self.w - y) ** 2).mean()
            self.log("train/success_rate", float(torch.exp(-loss.detach())), on_step=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=float(cfg.ppo.lr) * 100)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    data = torch.utils.data.TensorDataset(x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0]))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    run_dir = new_run_dir(cfg)
    model = Toy()
    pruning = make_pruning_callback(trial, space.metric)
    make_trainer(cfg, run_dir, checkpoint=False, callbacks=[pruning]).fit(model, loader)
    loss = float(((x @ model.w.detach() - data.tensors[1]) ** 2).mean())
    return {"success": math.exp(-loss), "params": 4, "time_s": 0.0, "run_dir": str(run_dir)}


OBJECTIVES = {"quadratic": quadratic, "slow": slow_quadratic, "lightning": lightning_objective}


def run_worker(kind: str, overrides: list[str]) -> dict:
    from zoo.config import parse_tool_config
    from zoo.schema.tools import StudyConfig
    from zoo.search import run_study

    cfg = parse_tool_config(StudyConfig, overrides)
    return run_study(cfg, objective=OBJECTIVES[kind])


if __name__ == "__main__":
    summary = run_worker(sys.argv[1], sys.argv[2:])
    print(f"finished {sum(t['state'] in ('COMPLETE', 'PRUNED') for t in summary['trials'])}")
