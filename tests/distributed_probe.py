"""``python tests/distributed_probe.py OUT_DIR fit key=value ...``: ``zoo fit`` with two probes, for
tests/test_distributed.py.  Lightning starts the other ranks by re-running this very command line,
so every process is probed:

* at train start, ``OUT_DIR/shards-rank<r>.json``: per parameter of the LightningModule whether it
  is a DTensor, its placements and mesh size, and how many elements this rank holds of how many;
* whenever the benchmark scores an agent (``zoo.web.bench.evaluate``), ``OUT_DIR/scored-rank<r>-<k>``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rank() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    from zoo.train.distributed import global_rank

    return global_rank(2)


def install(out: Path) -> None:
    import zoo  # noqa: F401  (first: its import guards torchvision before Lightning loads it)

    import lightning as L

    import zoo.web.bench as bench
    from zoo.train import plugin

    class ShardProbe(L.Callback):
        def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            from torch.distributed.tensor import DTensor, Shard

            params = {}
            for name, p in pl_module.named_parameters():
                dt = isinstance(p, DTensor)
                places = [f"shard{x.dim}" if isinstance(x, Shard) else type(x).__name__.lower()
                          for x in (p.placements if dt else ())]
                params[name] = {"dtensor": dt, "placements": places,
                                "mesh": int(p.device_mesh.size()) if dt else 0,
                                "local": int(p.to_local().numel() if dt else p.numel()), "full": int(p.numel())}
            (out / f"shards-rank{trainer.global_rank}.json").write_text(json.dumps(params))

    run_fit = plugin.Strategy.run_fit

    def probed_fit(self, cfg, run_dir, callbacks=()):
        return run_fit(self, cfg, run_dir, [*callbacks, ShardProbe()])

    evaluate = bench.evaluate

    def probed_evaluate(*args, **kwargs):
        r = rank()
        k = len(list(out.glob(f"scored-rank{r}-*")))
        (out / f"scored-rank{r}-{k}").write_text("")
        return evaluate(*args, **kwargs)

    plugin.Strategy.run_fit = probed_fit
    bench.evaluate = probed_evaluate


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    install(out_dir)
    from zoo.cli import main

    sys.exit(main(sys.argv[2:]))
