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


PROCESS_KINDS = ("python", "driver", "browser", "renderer", "other")


def process_kind(pid: int) -> str:
    """What a process of the bench's tree is: python (the harness and its loop thread), driver (Playwright's
    node process), browser (Chromium's main process), renderer (the pages' JS, style and layout) or other
    (Chromium's GPU, network and zygote helpers; a process that has gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ")  # Chromium rewrites its argv into one string
    except OSError:
        return "other"
    exe = cmd.split(b" ", 1)[0].rsplit(b"/", 1)[-1]
    if exe.startswith(b"python"):
        return "python"
    if exe in (b"node", b"chromedriver"):
        return "driver"
    if b"--type=renderer" in cmd:
        return "renderer"
    return "other" if b"--type=" in cmd else "browser"


def cpu_used_by_kind(before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """``cpu_used`` split by ``process_kind`` (read while the processes are still running)."""
    out = dict.fromkeys(PROCESS_KINDS, 0.0)
    for pid, v in after.items():
        out[process_kind(pid)] += v - before.get(pid, 0.0)
    return out


def cpu_fields(cpu_s: float | dict[str, float], steps: int, wall: float) -> dict[str, Any]:
    """The CPU columns of one timing: ms per env step and cores used (and, given CPU seconds by process
    kind, ms per env step of each kind)."""
    split = cpu_s if isinstance(cpu_s, dict) else None
    total = sum(split.values()) if split is not None else cpu_s
    out: dict[str, Any] = {"cpu_ms_per_step": round(1000 * total / max(1, steps), 3),
                           "cpu_cores_used": round(total / wall, 3)}
    if split is not None:
        out["cpu_ms_per_step_by_process"] = {k: round(1000 * v / max(1, steps), 3) for k, v in split.items()}
    return out
