"""Checkpoint IO: files are data, never code.

Every load goes through ``torch.load(..., weights_only=True)``: a checkpoint holds tensors, numbers,
strings and containers, and a pickle that asks to build any other object (the way a crafted file
runs code) is refused.  A file that is not a checkpoint at all (truncated, garbage, another format)
raises ``InvalidCheckpoint``: one line naming the path, never a torch traceback.

Two layouts: one file (``last.ckpt``), or a directory of torch.distributed.checkpoint shards plus
Lightning's ``meta.pt`` (``trainer.sharded_checkpoint=true``).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from zoo.core.errors import ZooError


class InvalidCheckpoint(ZooError):
    """A path that exists but does not hold a loadable checkpoint."""


# torch's own advice around the reason (how to load the file unsafely, where the docs are) is left out
_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation", "WeightsUnpickler error")


def load_failure_reason(err: BaseException) -> str:
    """The line of a torch.load error that says what is wrong with the file (at most 160 characters)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(_BOILERPLATE)] or lines or [type(err).__name__]
    reason = useful[0]
    if reason.startswith("PytorchStreamReader failed"):  # miniz's first sentence is the reason
        reason = reason.split(". ")[0]
    return reason[:160]


def _torch_load(path: Path, **kwargs: Any) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, **kwargs)
    except pickle.UnpicklingError as err:  # weights_only refused a global (the file asked to run code) or junk
        raise InvalidCheckpoint(f"not a valid checkpoint: {path} (refused to load: {load_failure_reason(err)})") from None
    except Exception as err:  # noqa: BLE001 - torch's reader fails on junk in many ways (struct.error, ...)
        raise InvalidCheckpoint(f"not a valid checkpoint: {path} ({load_failure_reason(err)})") from None


class _MetadataUnpickler(pickle.Unpickler):
    """torch.distributed.checkpoint keeps a sharded checkpoint's index (``.metadata``) as a plain pickle,
    which it loads with ``pickle.load``: checked here first, allowing only the types such an index holds
    (DCP's metadata classes, torch sizes / dtypes / layouts, paths), so a crafted index cannot run code."""

    ALLOWED = {("torch", "Size"), ("torch.serialization", "_get_layout"), ("collections", "OrderedDict"),
               ("pathlib", "PosixPath"), ("pathlib", "PurePosixPath"), ("pathlib", "WindowsPath"),
               ("pathlib", "PureWindowsPath"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice")}

    def find_class(self, module: str, name: str) -> Any:
        import torch

        obj = super().find_class(module, name) if module.startswith(("torch", "pathlib", "collections", "builtins")) else None
        allowed = (module, name) in self.ALLOWED \
            or (module == "torch" and isinstance(obj, (torch.dtype, torch.memory_format, torch.layout))) \
            or (module.startswith("torch.distributed.checkpoint.") and isinstance(obj, type))
        if not allowed:
            raise pickle.UnpicklingError(f"unsupported global {module}.{name} in the sharded checkpoint's .metadata")
        return obj


def check_sharded_metadata(path: str | Path) -> None:
    """Raise ``InvalidCheckpoint`` unless the ``.metadata`` index of a sharded checkpoint directory holds
    only the data types torch.distributed.checkpoint writes there (nothing that could run code)."""
    meta = Path(path) / ".metadata"
    if not meta.is_file():
        return
    try:
        with meta.open("rb") as f:
            _MetadataUnpickler(f).load()
    except Exception as err:  # noqa: BLE001 - refused global, truncated or garbage index: one line
        raise InvalidCheckpoint(f"not a valid checkpoint: {path} (refused to load its .metadata: "
                                f"{load_failure_reason(err)})") from None


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
        data = _torch_load(meta) if meta.is_file() else {}
    elif p.is_file():
        data = _torch_load(p, mmap=True)
    else:
        raise ZooError(f"checkpoint not found: {p}")
    if not isinstance(data, dict):
        raise InvalidCheckpoint(f"not a valid checkpoint: {p} (holds a {type(data).__name__}, not a checkpoint dict)")
    return {k: v for k, v in data.items() if k not in ("state_dict", "optimizer_states")}


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

        check_sharded_metadata(path)  # before torch.distributed.checkpoint unpickles it
        ckpt: dict[str, Any] = {}  # as lightning's _load_distributed_checkpoint, but meta.pt may hold any object
        try:
            _load_state_dict(ckpt, storage_reader=FileSystemReader(path), planner=_EmptyStateDictLoadPlanner(),
                             no_dist=True)
        except Exception as err:  # noqa: BLE001 - any shard-reading failure is one line
            raise InvalidCheckpoint(f"not a valid checkpoint: {path} ({str(err).strip().splitlines()[0][:160]})") from None
        if (path / "meta.pt").is_file():
            ckpt.update(read_checkpoint_meta(path))
        if "model" in ckpt:  # FSDPStrategy's layout; ModelParallelStrategy already says state_dict
            ckpt["state_dict"] = ckpt.pop("model")
        n_opt = sum(1 for k in ckpt if k.startswith("optimizer_") and k[len("optimizer_"):].isdigit())
        if n_opt:
            ckpt["optimizer_states"] = [ckpt.pop(f"optimizer_{i}") for i in range(n_opt)]
        return ckpt
    data = _torch_load(path)
    if not isinstance(data, dict) or "state_dict" not in data:
        raise InvalidCheckpoint(f"not a valid checkpoint: {path} (no state_dict in it)")
    return data


def check_loadable(path: str | Path) -> None:
    """Raise ``InvalidCheckpoint`` unless ``path`` loads as a checkpoint (its weights included)."""
    load_checkpoint(path)


def load_weights(module: Any, state: dict[str, Any], path: str | Path) -> None:
    """``module.load_state_dict(state)``, where weights of another shape or name (a checkpoint made by a version whose
    model differs, as when an observation gained a feature) are one line naming the first difference, not torch's
    list of every tensor."""
    mine = module.state_dict()
    missing, unexpected = sorted(set(mine) - set(state)), sorted(set(state) - set(mine))
    changed = [k for k in mine if k in state and tuple(mine[k].shape) != tuple(state[k].shape)]
    if changed:
        k = changed[0]
        raise InvalidCheckpoint(f"checkpoint {path} does not fit this model: {k} is {tuple(state[k].shape)} there, "
                                f"{tuple(mine[k].shape)} here (tensors of another shape: {len(changed)}; made by another "
                                "version or settings? train it again)")
    if missing or unexpected:
        k, where = (missing[0], "missing there") if missing else (unexpected[0], "not in this model")
        raise InvalidCheckpoint(f"checkpoint {path} does not fit this model: {k} is {where} "
                                f"(missing: {len(missing)}, unexpected: {len(unexpected)}; made by another version or "
                                "settings? train it again)")
    module.load_state_dict(state)


def saved_run_config(saved: Any, schema: type, group: str) -> Any:
    """A checkpoint's run config (``hyper_parameters["cfg"]``) as a DictConfig whose ``group`` (the strategy's own:
    ``foundation``, ``ppo``) is laid over that group's defaults in ``schema`` (the strategy's run-config dataclass).
    A key added after the checkpoint was written then reads its dataclass default, which every such option keeps
    at the behaviour it had before, so code reads ``cfg.<group>.<key>`` with no fallback of its own.  Only the
    one group is filled: groups holding a named variant (``model.attention``) keep exactly the saved keys."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(saved)
    defaults = OmegaConf.to_container(OmegaConf.structured(schema)[group])
    cfg[group] = OmegaConf.merge(OmegaConf.create(defaults), cfg.get(group) or {})
    return cfg
