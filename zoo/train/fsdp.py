"""Sharding for ``trainer.strategy=fsdp_cpu``: FSDP2 (``fully_shard``) through Lightning's
``ModelParallelStrategy``, on CPU processes over gloo, so sharded training is testable without GPUs.
The GPU ``fsdp`` strategy uses Lightning's FSDPStrategy with ``block_classes()`` as wrap policy."""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import ModelParallelStrategy

from components.block import Block


class ShardedCPUStrategy(ModelParallelStrategy):
    """``ModelParallelStrategy`` that also says whether Blocks recompute their activations in backward
    (read by ``shard_for_model_parallel`` when the module shards itself)."""

    def __init__(self, activation_checkpointing: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation_checkpointing = bool(activation_checkpointing)


def block_classes() -> set[type]:
    return {Block}


def reshard_all(module: torch.nn.Module) -> None:
    """Free the gathered parameters of every FSDP2 unit (no-op without FSDP2)."""
    from torch.distributed.fsdp import FSDPModule

    for sub in module.modules():
        if isinstance(sub, FSDPModule):
            sub.reshard()


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


class ManualRootRefresh(Callback):
    """Under manual optimisation (PPO: several forward/backward/step rounds per training step) a sharded
    module's root unit stays gathered; after every optimiser step it is re-gathered so the next forward
    in the same step sees the updated values.  Hooks are registered on this run's own optimisers."""

    def __init__(self) -> None:
        self._handles: list[Any] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from torch.distributed.fsdp import FSDPModule

        if pl_module.automatic_optimization or not isinstance(pl_module, FSDPModule):
            return

        def refresh(*_: Any) -> None:
            pl_module.reshard()
            pl_module.unshard()

        for opt in trainer.optimizers:
            opt = getattr(opt, "optimizer", opt)  # a LightningOptimizer wraps the torch one
            self._handles.append(opt.register_step_post_hook(refresh))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def shard_for_model_parallel(module: L.LightningModule) -> None:
    """Call from ``configure_model``: FSDP2-shard the model when a device mesh is set (fsdp_cpu).

    Blocks (``shard_units``) are units; the LightningModule is the root unit, holding every other
    parameter, gathered around the step methods (Lightning calls ``training_step``, never
    ``forward``).  So model code may use embeddings, heads and tables however it likes inside a
    step.  Under manual optimisation (PPO: several forward/backward/step rounds per step) the root
    stays gathered and is re-gathered after each optimiser step (``ManualRootRefresh``).

    The rule for model code (as for any FSDP): use a Block's parameters only inside the Block's
    ``forward`` -- calling a Block's submodule directly (``block.norm1(x)``) reads sharded weights.
    """
    mesh = getattr(module, "device_mesh", None)
    if mesh is None:
        return
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    dp_mesh = mesh["data_parallel"] if "data_parallel" in (mesh.mesh_dim_names or ()) else mesh
    if getattr(module.trainer.strategy, "activation_checkpointing", False):
        wrap_blocks_for_checkpointing(module)
    modules = dict(module.named_modules(remove_duplicate=False))
    for path in shard_units(module):
        fully_shard(modules[path], mesh=dp_mesh)
    fully_shard(module, mesh=dp_mesh)
    for method in ("training_step", "validation_step", "test_step", "predict_step"):
        if callable(getattr(type(module), method, None)):
            register_fsdp_forward_method(module, method)
    if not module.automatic_optimization:
        module.set_reshard_after_backward(False)  # the root is re-gathered by ManualRootRefresh instead


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


