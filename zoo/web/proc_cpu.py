"""CPU time of a process tree, read from /proc: what ``zoo bench env`` charges to each timing.

Only the bench's own processes count (Python, its Playwright drivers, browsers and renderers), so
other users' load on a shared machine does not enter the figure.
"""
from __future__ import annotations

import os
from typing import Any


def stat_cpu(stat: str, ticks: float) -> tuple[int, float]:
    """(parent pid, CPU seconds user + system) from a ``/proc/<pid>/stat`` line (the name may hold spaces
    and parentheses: the fields start after its last ')')."""
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_s(root: int | None = None) -> dict[int, float]:
    """CPU seconds so far of ``root`` (default: this process: the harness, its loop thread and the
    Playwright driver it talks to) and every process below it (drivers, browsers, renderers), by pid.
    Other users' processes are not below it, so a loaded machine does not inflate it.  {} without /proc."""
    root = os.getpid() if root is None else root
    ticks = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    try:
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent[pid], cpu[pid] = stat_cpu(f.read(), ticks)
        except (OSError, ValueError, IndexError):
            continue
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in cpu:
            out[pid] = cpu[pid]
        todo += children.get(pid, [])
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two ``tree_cpu_s`` readings (a process started in between counts from 0;
    one that ended in between is lost)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def cpu_fields(cpu_s: float, steps: int, wall: float) -> dict[str, Any]:
    """The CPU columns of one timing: ms per env step and cores used."""
    return {"cpu_ms_per_step": round(1000 * cpu_s / max(1, steps), 3), "cpu_cores_used": round(cpu_s / wall, 3)}
