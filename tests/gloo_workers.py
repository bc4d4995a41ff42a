"""Run a test function on several gloo CPU processes and report its failures, not gloo's teardown.

On torch 2.13, a gloo process that has used point-to-point sends can abort at interpreter exit
("terminate called without an active exception", SIGABRT) after every check passed and the process
group was destroyed: a C++ thread is still joinable when static destructors run. Reproduced here in
about 1 of 12 runs of the 3-process ring test, always after the last line of the worker. So a worker
that succeeded leaves with ``os._exit(0)``, skipping those destructors; a worker that failed raises
as usual and ``mp.spawn`` reports its traceback.
"""
from __future__ import annotations

import os
import socket
import sys
from typing import Callable

import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, fn: Callable[[int, int], None], world: int, port: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        fn(rank, world)
    finally:
        dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_gloo(fn: Callable[[int, int], None], world: int) -> None:
    """Run ``fn(rank, world)`` on ``world`` processes joined by a gloo group; raise if any check fails."""
    mp.spawn(_entry, args=(fn, world, free_port()), nprocs=world, join=True)
