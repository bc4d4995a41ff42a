"""Report sections from the micro-benchmarks: attention time/memory scaling and harness throughput.

Both files are read leniently (a list of records, or records under ``results``/``records``;
common key spellings accepted) so a benchmark can add fields without breaking the report.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from zoo.report import plots
from zoo.report.document import Note, Section, Table
from zoo.core.stats import fmt_count

VARIANT_KEYS = ("variant", "attention", "name")
LEN_KEYS = ("seq_len", "seq", "length", "tokens", "T")
TIME_MS_KEYS = ("fwd_bwd_ms", "ms", "time_ms", "median_ms", "mean_ms", "fwd_ms", "forward_ms")
TIME_S_KEYS = ("time_s", "seconds", "s")
MEM_MB_KEYS = ("peak_mb", "memory_mb", "mem_mb", "peak_mem_mb", "peak_memory_mb", "state_mb")
MEM_BYTES_KEYS = ("peak_bytes", "memory_bytes", "mem_bytes", "bytes")
CONTEXT_KEYS = ("contexts", "num_envs", "n_contexts", "envs")
RATE_KEYS = ("steps_per_s", "env_steps_per_s", "throughput", "sps")


def records(data: Any) -> list[dict]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        for key in ("results", "records", "rows", "measurements"):
            if isinstance(data.get(key), list):
                return records(data[key])
    return []


def _first(rec: dict, keys: tuple[str, ...], scale: float = 1.0) -> float | None:
    for k in keys:
        v = rec.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v) * scale
    return None


Points = dict[str, list[tuple[float, float]]]


def attention_points(data: Any) -> tuple[Points, Points, dict[tuple[str, float], str]]:
    """Per variant: (seq_len, ms) and (seq_len, MB) points, and the status of each point that was
    not measured (oom, timeout, skipped, error)."""
    times: Points = {}
    mems: Points = {}
    failed: dict[tuple[str, float], str] = {}
    for r in records(data):
        name = next((str(r[k]) for k in VARIANT_KEYS if r.get(k) is not None), "?")
        n = _first(r, LEN_KEYS)
        if n is None:
            continue
        status = r.get("status") or ("oom" if r.get("oom") else "error" if r.get("error") else "ok")
        if status != "ok":
            failed[(name, n)] = str(status)
            continue
        ms = _first(r, TIME_MS_KEYS)
        ms = ms if ms is not None else _first(r, TIME_S_KEYS, 1000.0)
        mb = _first(r, MEM_MB_KEYS)
        mb = mb if mb is not None else _first(r, MEM_BYTES_KEYS, 1 / 2**20)
        if ms is not None and ms > 0:
            times.setdefault(name, []).append((n, ms))
        if mb is not None and mb > 0:
            mems.setdefault(name, []).append((n, mb))
    return times, mems, failed


def attention_scaling(ctx: Any, data: Any, where: str) -> Section:
    sec = Section("scaling", "Attention time and memory scaling")
    if data is None:
        sec.blocks.append(Note(f"No attention benchmark ({where} not found): run `zoo bench attention`.", missing=True))
        return sec
    times, mems, failed = attention_points(data)
    if not times and not mems:
        sec.blocks.append(Note(f"{where} holds no usable measurements.", missing=True))
        return sec
    lens = sorted({n for pts in list(times.values()) + list(mems.values()) for n, _ in pts} | {n for _, n in failed})
    rows = []
    for name in sorted(set(times) | set(mems) | {v for v, _ in failed}):
        t, m = dict(times.get(name, [])), dict(mems.get(name, []))
        cells = []
        for n in lens:
            if (name, n) in failed:
                cells.append(failed[(name, n)])
            else:
                cells.append((f"{t[n]:.3g} ms" if n in t else "-") + " / " + (f"{m[n]:.3g} MB" if n in m else "-"))
        rows.append([name] + cells)
    measure = data.get("measure", "one attention layer") if isinstance(data, dict) else "one attention layer"
    sec.blocks.append(Table(["variant"] + [fmt_count(n) for n in lens], rows,
                            f"Time / peak memory at each sequence length ({measure}); "
                            "oom / timeout / skipped: not measured"))
    device = data.get("device") if isinstance(data, dict) else None
    suffix = f" on {device}" if device else ""
    sec.blocks += ctx.image(plots.scaling(times, "time (ms)", f"Attention time{suffix}",
                                          ctx.out_dir / "attention_time.png"),
                            "Time against sequence length (log-log): quadratic variants bend upward, "
                            "linear-memory variants stay straight.")
    sec.blocks += ctx.image(plots.scaling(mems, "peak memory (MB)", f"Attention memory{suffix}",
                                          ctx.out_dir / "attention_memory.png"),
                            "Peak memory against sequence length (log-log).")
    return sec


def harness_points(data: Any) -> list[tuple[float, float]]:
    """(contexts, env steps/s) of the harness on one task: the median over repetitions of each context
    count (``zoo bench env``'s ``runs``, one browser), or the flat records of older files."""
    runs = data.get("runs") if isinstance(data, dict) else None
    if isinstance(runs, list):
        by_n: dict[float, list[float]] = {}
        for r in runs:
            if r.get("name") == "harness/single" and r.get("browsers", 1) == 1 and r.get("env_steps_per_s") is not None:
                by_n.setdefault(float(r["contexts"]), []).append(float(r["env_steps_per_s"]))
        return sorted((n, float(np.median(v))) for n, v in by_n.items())
    pts = []
    for r in records(data):
        n, rate = _first(r, CONTEXT_KEYS), _first(r, RATE_KEYS)
        if n is not None and rate is not None:
            pts.append((n, rate))
    return sorted(pts)


def harness_throughput(ctx: Any, data: Any, where: str) -> Section:
    sec = Section("throughput", "Benchmark harness throughput")
    if data is None:
        sec.blocks.append(Note(f"No throughput measurement ({where} not found): run `zoo bench env`.", missing=True))
        return sec
    pts = harness_points(data)
    if not pts:
        sec.blocks.append(Note(f"{where} holds no usable measurements.", missing=True))
        return sec
    rows = [[fmt_count(n), f"{rate:.1f}", f"{rate / n:.1f}"] for n, rate in pts]
    sec.blocks.append(Table(["browser contexts", "env steps / s", "steps / s per context"], rows,
                            "Real-Chromium environment steps per second (harness, one task)"))
    goals = data.get("goals") if isinstance(data, dict) else None
    if isinstance(goals, list) and goals:
        sec.blocks.append(Table(["goal", "measured", "met"],
                                [[str(g.get("goal")), f"{float(g.get('measured', float('nan'))):.2f}x",
                                  "yes" if g.get("met") else "no"] for g in goals],
                                "Issue 13's goals, as ratios measured in the same run (details: reports/bench/env_throughput.md)"))
    sec.blocks += ctx.image(plots.throughput(pts, ctx.out_dir / "throughput.png"),
                            "Harness throughput against concurrent browser contexts.")
    return sec
    pts = []
    for r in records(data):
        n, rate = _first(r, CONTEXT_KEYS), _first(r, RATE_KEYS)
        if n is not None and rate is not None:
            pts.append((n, rate))
    if not pts:
        sec.blocks.append(Note(f"{where} holds no usable measurements.", missing=True))
        return sec
    pts.sort()
    rows = [[fmt_count(n), f"{rate:.1f}", f"{rate / n:.1f}"] for n, rate in pts]
    sec.blocks.append(Table(["browser contexts", "env steps / s", "steps / s per context"], rows,
                            "Real-Chromium environment steps per second"))
    sec.blocks += ctx.image(plots.throughput(pts, ctx.out_dir / "throughput.png"),
                            "Harness throughput against concurrent browser contexts.")
    return sec
