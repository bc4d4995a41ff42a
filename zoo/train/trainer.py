"""One place that turns ``cfg.trainer`` into a Lightning Trainer, for every strategy and stage.

``trainer.strategy``:
  auto      single process (CPU or one GPU)
  ddp       DistributedDataParallel (gloo on CPU, NCCL on GPU)
  fsdp      Lightning FSDP on GPUs, the transformer ``Block`` as wrap unit (+ activation checkpointing)
  fsdp_cpu  FSDP2 through ``ModelParallelStrategy``; each LightningModule's ``configure_model`` calls
            ``shard_for_model_parallel(self)``, which ``fully_shard``s every Block then the root.
            Works on CPU processes over gloo, so sharded training is testable without GPUs.
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig

from zoo.core.errors import ZooError

# Quiet two messages every run would print that say nothing about the run: Lightning's advert for
# its hosted logger, and a torch-internal pytree deprecation raised inside Lightning itself.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")


# Callbacks added to every Trainer built while ``extra_callbacks`` is active: how ``zoo search``
# hands its pruning callback to a strategy's ``fit`` without the strategy knowing about Optuna.
_EXTRA_CALLBACKS: list[Callback] = []


@contextmanager
def extra_callbacks(*callbacks: Callback) -> Iterator[None]:
    _EXTRA_CALLBACKS.extend(callbacks)
    try:
        yield
    finally:
        for cb in callbacks:
            _EXTRA_CALLBACKS.remove(cb)


class WallClock(Callback):
    """Logs ``time/wall_s``: training seconds so far, carried through checkpoints so a resumed run's
    curve continues where it stopped (``zoo report`` plots success against it)."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter() - self.elapsed

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._start is not None:
            self.elapsed = time.perf_counter() - self._start
            pl_module.log("time/wall_s", self.elapsed, on_step=True, on_epoch=False, batch_size=1, rank_zero_only=True)

    def state_dict(self) -> dict[str, float]:
        return {"elapsed": self.elapsed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.elapsed = float(state_dict.get("elapsed", 0.0))


def reshard_all(module: torch.nn.Module) -> None:
    """Free the gathered parameters of every FSDP2 unit (no-op without FSDP2)."""
    from torch.distributed.fsdp import FSDPModule

    for sub in module.modules():
        if isinstance(sub, FSDPModule):
            sub.reshard()


class RunCheckpoint(ModelCheckpoint):
    """``last.ckpt`` always holds the final step, also when training stops between two periodic saves
    (``max_steps`` not a multiple of ``checkpoint_every``, ``max_time``); Lightning's own end-of-training
    save is skipped once any ``last.ckpt`` was written, so evaluation would score stale weights."""

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        reshard_all(trainer.lightning_module)  # save from the sharded layout, never half-gathered units
        super()._save_checkpoint(trainer, filepath)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and self._last_global_step_saved < trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        else:
            super().on_train_end(trainer, pl_module)


def block_classes() -> set[type]:
    from components.block import Block

    return {Block}


def build_strategy(tc: DictConfig) -> Any:
    name = tc.strategy
    if name == "auto":
        return "auto"
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        backend = "nccl" if tc.accelerator in ("gpu", "cuda") else "gloo"
        return DDPStrategy(process_group_backend=backend, find_unused_parameters=True)
    if name == "fsdp":
        if tc.accelerator not in ("gpu", "cuda", "auto") or not torch.cuda.is_available():
            raise ZooError("trainer.strategy=fsdp needs CUDA GPUs; on CPU use trainer.strategy=fsdp_cpu (FSDP2 over gloo)")
        from lightning.pytorch.strategies import FSDPStrategy

        blocks = block_classes()
        return FSDPStrategy(
            auto_wrap_policy=blocks,
            activation_checkpointing_policy=blocks if tc.activation_checkpointing else None,
            state_dict_type="sharded" if tc.sharded_checkpoint else "full",
            use_orig_params=True,
        )
    if name == "fsdp_cpu":
        from lightning.pytorch.strategies import ModelParallelStrategy

        strategy = ModelParallelStrategy(
            data_parallel_size=int(tc.devices) * int(tc.num_nodes),
            tensor_parallel_size=1,
            save_distributed_checkpoint=bool(tc.sharded_checkpoint),  # default: one full file, loadable anywhere
            process_group_backend="gloo",
        )
        strategy.zoo_activation_checkpointing = bool(tc.activation_checkpointing)  # read by shard_for_model_parallel
        return strategy
    raise ZooError(f"unknown value for 'trainer.strategy' '{name}'; valid choices: auto, ddp, fsdp, fsdp_cpu")


def _within(path: str, parent: str) -> bool:
    """``path`` is ``parent`` or lies below it (module paths; "" is the root)."""
    return parent == "" or path == parent or path.startswith(parent + ".")


def shard_units(module: torch.nn.Module) -> list[str]:
    """Paths of the submodules ``shard_for_model_parallel`` makes FSDP2 units, innermost first.

    A unit gathers its parameters only while its own ``forward`` runs, so units are the modules
    whose weights are reached only through their forward: each ``Block`` (where the parameters
    are) and the torch layers built like one (``nn.MultiheadAttention``, encoder/decoder layers).
    A unit holding a tied weight (one tensor in several modules) is left out.  Everything else --
    embeddings, heads, positional tables, timm's ``forward_features`` models -- goes to the root.
    """
    from torch import nn
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper

    atomic_types = tuple(block_classes()) + (CheckpointWrapper, nn.MultiheadAttention, nn.TransformerEncoderLayer,
                                             nn.TransformerDecoderLayer)
    owners: dict[int, set[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        owners.setdefault(id(p), set()).add(name.rpartition(".")[0])
    tied = {path for paths in owners.values() if len(paths) > 1 for path in paths}
    atomic = {path for path, m in module.named_modules(remove_duplicate=False)
              if path and isinstance(m, atomic_types) and not any(_within(t, path) for t in tied)}
    outer = {a for a in atomic if not any(b != a and _within(a, b) for b in atomic)}
    order = [path for path, _ in module.named_modules(remove_duplicate=False)]
    return sorted(outer, key=order.index, reverse=True)


_MANUAL_ROOTS: list[Any] = []  # weak enough: one entry per sharded manual-optimisation module of this process


def _refresh_roots(optimizer: torch.optim.Optimizer, *_: Any) -> None:
    """After every optimiser step: re-gather the root's (replicated-while-training) parameters so a
    second forward in the same manual-optimisation step sees the updated values."""
    for root in _MANUAL_ROOTS:
        root.reshard()
        root.unshard()


def shard_for_model_parallel(module: L.LightningModule) -> None:
    """Call from ``configure_model``: FSDP2-shard the model when a device mesh is set (fsdp_cpu).

    Blocks (``shard_units``) are units; the LightningModule is the root unit, holding every other
    parameter, gathered around the step methods (Lightning calls ``training_step``, never
    ``forward``).  So model code may use embeddings, heads and tables however it likes inside a
    step.  Under manual optimisation (PPO: several forward/backward/step rounds per step) the root
    stays gathered and is re-gathered after each optimiser step.

    The rule for model code (as for any FSDP): use a Block's parameters only inside the Block's
    ``forward`` -- calling a Block's submodule directly (``block.norm1(x)``) reads sharded weights.
    """
    mesh = getattr(module, "device_mesh", None)
    if mesh is None:
        return
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    dp_mesh = mesh["data_parallel"] if "data_parallel" in (mesh.mesh_dim_names or ()) else mesh
    if getattr(module.trainer.strategy, "zoo_activation_checkpointing", False):
        wrap_blocks_for_checkpointing(module)
    modules = dict(module.named_modules(remove_duplicate=False))
    for path in shard_units(module):
        fully_shard(modules[path], mesh=dp_mesh)
    fully_shard(module, mesh=dp_mesh)
    for method in ("training_step", "validation_step", "test_step", "predict_step"):
        if callable(getattr(type(module), method, None)):
            register_fsdp_forward_method(module, method)
    if not module.automatic_optimization:
        module.set_reshard_after_backward(False)
        if not _MANUAL_ROOTS:
            from torch.optim.optimizer import register_optimizer_step_post_hook

            register_optimizer_step_post_hook(_refresh_roots)
        _MANUAL_ROOTS.append(module)


def wrap_blocks_for_checkpointing(module: torch.nn.Module) -> None:
    """Replace every Block by a checkpoint wrapper that recomputes its activations in backward.

    The wrapper (not the Block) becomes the FSDP unit, so the recomputation runs inside the unit's
    forward and finds its parameters gathered.  State-dict keys are unchanged (the wrapper strips
    its own prefix), so checkpoints load into unwrapped models."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    blocks = tuple(block_classes())
    for path, sub in list(module.named_modules()):
        if isinstance(sub, blocks):
            parent_path, _, name = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            setattr(parent, name, checkpoint_wrapper(sub))


def is_sharded_checkpoint(path: str | Path) -> bool:
    """A checkpoint *directory* written with ``trainer.sharded_checkpoint=true`` (torch.distributed.checkpoint
    shards plus Lightning's ``meta.pt``), rather than one file."""
    p = Path(path)
    return p.is_dir() and ((p / "meta.pt").is_file() or (p / ".metadata").is_file())


def checkpoint_exists(path: str | Path) -> bool:
    """True for a full checkpoint file or a sharded checkpoint directory: use this, not ``is_file()``."""
    p = Path(path)
    return p.is_file() or is_sharded_checkpoint(p)


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """Everything in a checkpoint but the weights and optimizer state (``global_step``,
    ``hyper_parameters``, what ``on_save_checkpoint`` added...), cheaply, from either layout."""
    p = Path(path)
    if is_sharded_checkpoint(p):
        meta = p / "meta.pt"
        return torch.load(meta, map_location="cpu", weights_only=False) if meta.is_file() else {}
    if not p.is_file():
        raise ZooError(f"checkpoint not found: {p}")
    ckpt = torch.load(p, map_location="cpu", weights_only=False, mmap=True)
    if not isinstance(ckpt, dict):
        return {}
    return {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer_states")}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint as one dict (``state_dict``, ``hyper_parameters``, ``global_step``...),
    from a full checkpoint file or a sharded checkpoint directory (``trainer.sharded_checkpoint``),
    which is consolidated in memory on this one process."""
    path = Path(path)
    if not checkpoint_exists(path):
        raise ZooError(f"checkpoint not found: {path}")
    if path.is_dir():
        from torch.distributed.checkpoint import FileSystemReader
        from torch.distributed.checkpoint.format_utils import _EmptyStateDictLoadPlanner
        from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

        ckpt: dict[str, Any] = {}  # as lightning's _load_distributed_checkpoint, but meta.pt may hold any object
        _load_state_dict(ckpt, storage_reader=FileSystemReader(path), planner=_EmptyStateDictLoadPlanner(),
                         no_dist=True)
        if (path / "meta.pt").is_file():
            ckpt.update(read_checkpoint_meta(path))
        if "model" in ckpt:  # FSDPStrategy's layout; ModelParallelStrategy already says state_dict
            ckpt["state_dict"] = ckpt.pop("model")
        n_opt = sum(1 for k in ckpt if k.startswith("optimizer_") and k[len("optimizer_"):].isdigit())
        if n_opt:
            ckpt["optimizer_states"] = [ckpt.pop(f"optimizer_{i}") for i in range(n_opt)]
        return ckpt
    return torch.load(path, map_location="cpu", weights_only=False)


def make_trainer(
    cfg: DictConfig,
    run_dir: str | Path,
    stage: str = "",
    max_steps: int | None = None,
    callbacks: list[Callback] | None = None,
    checkpoint: bool = True,
    **overrides: Any,
) -> L.Trainer:
    """A Trainer whose logs and checkpoints live inside ``run_dir`` (under ``stage`` when given)."""
    tc = cfg.trainer
    run_dir = Path(run_dir)
    cbs: list[Callback] = list(callbacks or []) + list(_EXTRA_CALLBACKS) + [WallClock()]
    if checkpoint:
        cbs.append(
            RunCheckpoint(
                dirpath=run_dir / "checkpoints" / stage if stage else run_dir / "checkpoints",
                filename="step{step:06d}",
                auto_insert_metric_name=False,
                every_n_train_steps=max(1, int(tc.checkpoint_every)),
                save_last=True,
                save_top_k=1,
            )
        )
    if tc.progress:
        from lightning.pytorch.callbacks import RichProgressBar

        cbs.append(RichProgressBar(leave=True))
    kwargs: dict[str, Any] = dict(
        accelerator="gpu" if tc.accelerator == "cuda" else tc.accelerator,
        devices=tc.devices,
        num_nodes=tc.num_nodes,
        strategy=build_strategy(tc),
        precision=tc.precision,
        max_steps=int(max_steps if max_steps is not None else tc.max_steps),
        max_time=timedelta(minutes=float(tc.max_time_min)) if tc.max_time_min else None,
        logger=CSVLogger(save_dir=str(run_dir), name="csv", version=stage or "main"),
        callbacks=cbs,
        log_every_n_steps=int(tc.log_every_n_steps),
        enable_progress_bar=bool(tc.progress),
        enable_model_summary=False,
        default_root_dir=str(run_dir),
        deterministic=False,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)
