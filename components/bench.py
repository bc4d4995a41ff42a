"""``zoo bench attention``: time and peak memory of each attention variant as the sequence grows.

    zoo bench attention seq_lens=[1024,2048,4096,8192,16384] device=cpu timeout_s=60
    zoo bench attention device=cuda                      # the full 1K..64K sweep on a GPU

Each variant runs in its own child process (components/bench_worker.py) over growing lengths of
one (1, T, dim) sequence, forward + backward, the recurrent variants segment by segment as the
trunk runs them. A point that passes ``timeout_s`` is killed and recorded as ``timeout``; after a
timeout, an out-of-memory or a point whose predicted time (extrapolated from the last two
lengths) exceeds ``timeout_s``, the longer lengths of that variant are recorded as ``skipped``.
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

from zoo.errors import ZooError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "actionzoo.bench.attention/1"
STARTUP_TIMEOUT_S = 180.0
# Per-variant settings of the sweep: a window / segment of 512 tokens is two 256-token frames.
BENCH_ATTENTION: dict[str, dict[str, Any]] = {
    "sliding": {"window": 512},
    "xl": {"mem_len": 512, "segment_len": 512},
    "infini": {"segment_len": 512},
}
NOTES = {"ring": "one process: dense fallback (the ring itself needs several ranks)"}


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


def predicted_seconds(rows: list[dict[str, Any]], seq_len: int) -> float | None:
    """Cold forward+backward time at seq_len, extrapolated from the last two measured lengths."""
    ok = [r for r in rows if r["status"] == "ok"]
    if len(ok) < 2:
        return None
    (l1, t1), (l2, t2) = [(r["seq_len"], r["fwd_bwd_ms"] / 1e3) for r in ok[-2:]]
    exponent = math.log(max(t2, 1e-6) / max(t1, 1e-6)) / math.log(l2 / l1) if l2 > l1 else 2.0
    return t2 * (seq_len / l2) ** min(max(exponent, 1.0), 2.2)


def sweep_variant(variant: str, cfg: Any, lens: list[int], progress: Any, task: Any) -> list[dict[str, Any]]:
    job = {
        "variant": variant, "dim": int(cfg.dim), "n_heads": int(cfg.n_heads), "device": str(cfg.device),
        "attention": BENCH_ATTENTION.get(variant, {}),
    }
    timeout = float(cfg.timeout_s)
    rows: list[dict[str, Any]] = []
    worker = Worker(job)
    stop: str | None = None
    try:
        for seq_len in lens:
            progress.update(task, description=f"{variant} T={seq_len}")
            guess = predicted_seconds(rows, seq_len)
            if stop is None and guess is not None and guess > timeout:
                stop = f"predicted {guess:.0f} s > timeout {timeout:g} s"
            if stop is not None:
                rows.append({"variant": variant, "seq_len": seq_len, "status": "skipped", "note": stop})
            else:
                row = worker.point(seq_len, timeout)
                rows.append(row)
                if row["status"] != "ok":
                    stop = f"{row['status']} at T={seq_len}"
            progress.advance(task)
    finally:
        worker.close()
    return rows


def main(cfg: Any) -> dict[str, Any]:
    """Run the sweep described by a BenchConfig; returns the results dict (also written to disk)."""
    import torch
    from rich.console import Console
    from rich.progress import Progress

    from components.attention import list_attention
    from zoo.registry import family

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
    if int(cfg.dim) % int(cfg.n_heads):
        raise ZooError(f"bad value for 'n_heads': {cfg.n_heads} does not divide dim={cfg.dim}")

    rows: list[dict[str, Any]] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("attention", total=len(variants) * len(lens))
        for variant in variants:
            rows += sweep_variant(variant, cfg, lens, progress, task)
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
        "measure": "forward + backward of one attention layer on (1, T, dim); median of warm runs",
        "variant_config": {v: BENCH_ATTENTION.get(v, {}) for v in variants},
        "notes": {v: NOTES[v] for v in variants if v in NOTES},
        "rows": rows,
    }
    from components.bench_report import print_table, write_outputs

    paths = write_outputs(results, output_paths(cfg.out))
    print_table(results, Console())
    results["paths"] = {k: str(p) for k, p in paths.items()}
    return results


if __name__ == "__main__":  # python -m components.bench seq_lens=[1024,2048] variants=[dense]
    from zoo.config import parse_tool_config
    from zoo.schema.tools import BenchConfig

    main(parse_tool_config(BenchConfig, sys.argv[1:]))
