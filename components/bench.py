"""``zoo bench attention``: time and peak memory of each attention variant as the sequence grows.

    zoo bench attention dim=64 n_heads=4 timeout_s=180    # the committed CPU sweep, 1K..64K (~10-15 min)
    zoo bench attention device=cuda                       # the same sweep on a GPU

The default lengths are 1K..64K tokens: one minute of screen video at 3 fps is ~46K tokens (design
note), so the memory variants must be measured out there. Each variant runs in its own child
process (components/bench_worker.py) over growing lengths of one (1, T, dim) sequence, forward +
backward, the recurrent variants segment by segment as the trunk runs them.

Per-case caps: a point that passes ``timeout_s`` is killed and recorded as ``timeout``. Before a
point runs, its time and memory are estimated from the variant's last measured point and its cost
class (``COST``: time and memory grow as T for the windowed/recurrent variants, time as T^2 for
dense and the one-process ring); a point estimated past ``timeout_s`` or past the memory cap
(``MEM_CAP_MB``, default half the memory available at start, at most 8 GB) is recorded as
``skipped`` with the estimate and the reason, and so are the longer lengths after a timeout or an
out-of-memory. Nothing is silently missing: every (variant, length) has a row.
Writes ``attention.json``, ``attention.md`` and ``attention.png`` under ``out`` (reports/bench/).
"""
from __future__ import annotations

import json
import math
import os
import platform
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from components.attention import check_heads, list_attention
from components.bench_report import print_table, write_outputs
from zoo.core.errors import ZooError
from zoo.core.registry import family

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "actionzoo.bench.attention/1"
STARTUP_TIMEOUT_S = 180.0
# Per-variant settings of the sweep: a window / segment of 512 tokens is two 256-token frames.
BENCH_ATTENTION: dict[str, dict[str, Any]] = {
    "sliding": {"window": 512},
    "xl": {"mem_len": 512, "segment_len": 512},
    "infini": {"segment_len": 512},
}
NOTES = {
    "ring": "one process: dense fallback (the ring itself needs several ranks)",
    "xl": "runs segment by segment (512 queries over 512 memory + 512 segment keys); the blockwise kernel's "
          "block is sized from each call's q/k/v (blockwise.score_budget: 160 queries here, 2.5 MB of fp32 scores) "
          "and its bias is one per-distance vector, so no working set is sized for long sequences",
}
# How time / peak memory grow with T (exponents used to estimate the next point before running it).
# dense and the one-process ring do T^2 work; SDPA's fused CPU/GPU kernels keep their memory ~T.
# sliding, xl and infini do a fixed amount of work per token (window / segment + memory).
COST: dict[str, tuple[float, float]] = {
    "dense": (2.0, 1.0), "ring": (2.0, 1.0), "sliding": (1.0, 1.0), "xl": (1.0, 1.0), "infini": (1.0, 1.0),
}
MEM_CAP_MB: float | None = None  # None: half the memory available when the sweep starts, at most 8 GB
REPEAT_BUDGET_S = 6.0  # wall time for the warm repeats of one point (median), within half the cap


def default_mem_cap_mb() -> float:
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration):
        return 8192.0
    return float(min(8192.0, avail / 2))


def output_paths(out: str | None) -> dict[str, Path]:
    base = Path(out) if out else ROOT / "reports" / "bench"
    stem = base.with_suffix("") if base.suffix == ".json" else base / "attention"
    return {ext: stem.with_suffix("." + ext) for ext in ("json", "md", "png")}


class Worker:
    """One child process measuring one variant; ``point(seq_len, timeout)`` -> result row."""

    def __init__(self, job: dict[str, Any]):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # big buffers are returned to the OS: clean RSS peaks
        # OpenMP threads sleep at barriers instead of spinning: on shared, oversubscribed cores spinning
        # burns the other threads' time (measured at 8K tokens, sliding: 3.9 s CPU spinning, 0.14 s passive)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.variant = job["variant"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "components.bench_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send(json.dumps(job))
        ready = self._next(STARTUP_TIMEOUT_S)
        if ready != "READY":
            self.close()
            raise ZooError(f"attention bench worker for '{self.variant}' failed to start: {self._stderr_tail()}")

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())
        self.lines.put(None)

    def _send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def _next(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return "TIMEOUT"

    def _stderr_tail(self) -> str:
        try:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""  # type: ignore[union-attr]
        except (OSError, ValueError):
            err = ""
        return (err.strip().splitlines() or ["no output"])[-1][:200]

    def point(self, seq_len: int, timeout: float) -> dict[str, Any]:
        try:
            self._send(str(seq_len))
        except (BrokenPipeError, OSError):
            return {"variant": self.variant, "seq_len": seq_len, "status": "error", "note": self._stderr_tail()}
        line = self._next(timeout)
        if line == "TIMEOUT":
            self.close()
            return {"variant": self.variant, "seq_len": seq_len, "status": "timeout", "note": f"> {timeout:g} s"}
        if line is None:  # the child died: the kernel's OOM killer, or a crash
            code = self.proc.wait()
            status = "oom" if code in (-9, 137) else "error"
            return {"variant": self.variant, "seq_len": seq_len, "status": status, "note": f"exit {code}"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _extrapolate(rows: list[dict[str, Any]], seq_len: int, key: str, exponent: float | None) -> float | None:
    ok = [r for r in rows if r["status"] == "ok"]
    if exponent is None:  # unknown cost class: the growth measured between the last two lengths
        if len(ok) < 2:
            return None
        (l1, v1), (l2, v2) = [(r["seq_len"], max(r[key], 1e-6)) for r in ok[-2:]]
        exponent = min(max(math.log(v2 / v1) / math.log(l2 / l1), 1.0), 2.2) if l2 > l1 else 2.0
    if not ok:
        return None
    last = ok[-1]
    return max(last[key], 0.0) * (seq_len / last["seq_len"]) ** exponent


def predicted_seconds(rows: list[dict[str, Any]], seq_len: int, exponent: float | None = None) -> float | None:
    """Forward+backward time at seq_len from the last measured point (growth: exponent, else measured)."""
    ms = _extrapolate(rows, seq_len, "fwd_bwd_ms", exponent)
    return None if ms is None else ms / 1e3


def predicted_mb(rows: list[dict[str, Any]], seq_len: int, exponent: float | None = None) -> float | None:
    return _extrapolate(rows, seq_len, "peak_mb", exponent)


def skip_reason(variant: str, rows: list[dict[str, Any]], seq_len: int, timeout: float, mem_cap: float) -> dict | None:
    """Why seq_len should not run (with the estimates), or None."""
    t_exp, m_exp = COST.get(variant, (None, None))
    est_s, est_mb = predicted_seconds(rows, seq_len, t_exp), predicted_mb(rows, seq_len, m_exp)
    est = {k: round(v, 2) for k, v in (("est_s", est_s), ("est_mb", est_mb)) if v is not None}
    if est_mb is not None and est_mb > mem_cap:
        return {**est, "note": f"estimated {est_mb:.0f} MB > memory cap {mem_cap:.0f} MB"}
    if est_s is not None and est_s > timeout:
        return {**est, "note": f"estimated {est_s:.0f} s > time cap {timeout:g} s"}
    return None


def sweep_variant(
    variant: str, cfg: Any, lens: list[int], progress: Any, task: Any, mem_cap: float
) -> list[dict[str, Any]]:
    timeout = float(cfg.timeout_s)
    job = {
        "variant": variant, "dim": int(cfg.dim), "n_heads": int(cfg.n_heads), "device": str(cfg.device),
        "attention": BENCH_ATTENTION.get(variant, {}), "repeat_budget_s": min(REPEAT_BUDGET_S, timeout / 2),
    }
    rows: list[dict[str, Any]] = []
    worker = Worker(job)
    stop: str | None = None
    try:
        for seq_len in lens:
            progress.update(task, description=f"{variant} T={seq_len}")
            skip = skip_reason(variant, rows, seq_len, timeout, mem_cap)
            if stop is not None or skip is not None:
                note = stop or skip["note"]  # type: ignore[index]
                rows.append({"variant": variant, "seq_len": seq_len, "status": "skipped", **(skip or {}), "note": note})
            else:
                row = worker.point(seq_len, timeout)
                rows.append(row)
                if row["status"] != "ok":
                    stop = f"after {row['status']} at T={seq_len}"
            progress.advance(task)
    finally:
        worker.close()
    return rows


def main(cfg: Any) -> dict[str, Any]:
    """Run the sweep described by a BenchConfig; returns the results dict (also written to disk)."""
    import torch
    from rich.console import Console
    from rich.progress import Progress

    variants = list(cfg.variants) or list_attention()
    for v in variants:
        family("attention").get(v)  # unknown names -> one-line ZooError with the choices
    device = str(cfg.device)
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ZooError(f"bad value for 'device': '{device}'; valid choices: cpu, cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError("device=cuda but no CUDA GPU is visible; use device=cpu")
    lens = sorted({int(n) for n in cfg.seq_lens})
    if not lens or lens[0] <= 0:
        raise ZooError(f"bad value for 'seq_lens': {list(cfg.seq_lens)} (positive lengths)")
    check_heads(int(cfg.dim), int(cfg.n_heads), where="")

    mem_cap = float(MEM_CAP_MB) if MEM_CAP_MB is not None else default_mem_cap_mb()
    load_start = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("attention", total=len(variants) * len(lens))
        for variant in variants:
            rows += sweep_variant(variant, cfg, lens, progress, task, mem_cap)
    results = {
        "schema": SCHEMA,
        "device": device if device == "cpu" else torch.cuda.get_device_name(torch.device(device)),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "host": platform.node(),
        "batch": 1,
        "dim": int(cfg.dim),
        "n_heads": int(cfg.n_heads),
        "timeout_s": float(cfg.timeout_s),
        "mem_cap_mb": round(mem_cap),
        "cpu_count": os.cpu_count(),
        "load_avg_start": [round(v, 2) for v in load_start],
        "load_avg_end": [round(v, 2) for v in os.getloadavg()],
        "command": "zoo bench attention " + " ".join(
            f"{k}={v}" for k, v in (("dim", cfg.dim), ("n_heads", cfg.n_heads), ("device", cfg.device),
                                    ("timeout_s", cfg.timeout_s), ("seq_lens", "[" + ",".join(map(str, lens)) + "]"),
                                    *([("variants", "[" + ",".join(cfg.variants) + "]")] if cfg.variants else []))),
        "measure": "forward + backward of one attention layer on (1, T, dim); median of up to 3 warm runs "
                   "(the cold run alone when it was too slow to repeat)",
        "variant_config": {v: BENCH_ATTENTION.get(v, {}) for v in variants},
        "notes": {v: NOTES[v] for v in variants if v in NOTES},
        "rows": rows,
    }

    paths = write_outputs(results, output_paths(cfg.out))
    print_table(results, Console())
    results["paths"] = {k: str(p) for k, p in paths.items()}
    return results
