"""Which process of a multi-process run this is, read from the launcher's environment.

Needed before a Trainer has set up its process group (seeding, who records shared files), so it
cannot ask the Trainer. Launchers and what they set:
  torchrun         RANK (global), LOCAL_RANK
  SLURM srun       SLURM_PROCID (global), SLURM_LOCALID, one task per process (SLURM_NTASKS > 1)
  Lightning's own  LOCAL_RANK in the processes it starts, NODE_RANK per node (set by the user);
                   no global rank: it is NODE_RANK * processes per node + LOCAL_RANK
Two questions, two helpers: ``global_rank`` (one answer per run: who scores, whose seed block)
and ``local_rank`` (one answer per node: who writes files to a node-local disk, which Lightning's
``prepare_data`` also runs once per node).
"""
from __future__ import annotations

import os
from typing import Any


def _int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.strip().lstrip("-").isdigit() else None


def _under_srun() -> bool:
    return (_int("SLURM_NTASKS") or 1) > 1 and _int("SLURM_PROCID") is not None


def processes_per_node(devices: Any) -> int:
    """``trainer.devices`` as a count: an int, a digit string, a list of ids, or "auto" (1)."""
    if isinstance(devices, int) or str(devices).isdigit():
        return int(devices)
    if isinstance(devices, str):
        return 1
    return len(devices)


def global_rank(devices: Any = 1) -> int:
    """This process's rank in the whole run (0 in a one-process run)."""
    if (rank := _int("RANK")) is not None:
        return rank
    if _under_srun():
        return int(_int("SLURM_PROCID") or 0)
    return (_int("NODE_RANK") or 0) * processes_per_node(devices) + local_rank()


def local_rank() -> int:
    """This process's rank on its node (0 in a one-process run)."""
    if (rank := _int("LOCAL_RANK")) is not None:
        return rank
    if _under_srun():
        return int(_int("SLURM_LOCALID") or 0)
    return 0
