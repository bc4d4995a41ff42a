"""Writers of the attention benchmark: JSON, a Markdown table, a time/memory plot, a rich table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    if row["status"] == "ok":
        return f"{row['fwd_bwd_ms'] / 1e3:.3g} s / {row['peak_mb']:.0f} MB"
    if row["status"] == "skipped" and "est_s" in row:
        return f"skipped (est. {row['est_s']:.3g} s)"
    return row["status"]


def _spread_cell(row: dict[str, Any] | None) -> str:
    """min-max of the timed runs and their count, so the noise of each median is visible."""
    if row is None or row["status"] != "ok":
        return "-"
    if row.get("runs", 1) < 2 or "fwd_bwd_min_ms" not in row:
        return f"{row['fwd_bwd_ms'] / 1e3:.3g} s (1 run)"
    return f"{row['fwd_bwd_min_ms'] / 1e3:.3g}-{row['fwd_bwd_max_ms'] / 1e3:.3g} s ({row['runs']} runs)"


def _k(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def _cpu_cell(row: dict[str, Any] | None) -> str:
    if row is None or row["status"] != "ok" or "cpu_ms" not in row:
        return "-" if row is None or row["status"] == "ok" else row["status"]
    return f"{row['cpu_ms'] / 1e3:.3g} s"


def _grid(results: dict[str, Any]) -> tuple[list[str], list[int], dict[tuple[str, int], dict[str, Any]]]:
    rows = results["rows"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    lens = sorted({r["seq_len"] for r in rows})
    return variants, lens, {(r["variant"], r["seq_len"]): r for r in rows}


# issue 13's memory goals: peak memory within this factor of dense SDPA's at the same length
MEMORY_GOALS = {"sliding": 2.0, "xl": 3.0}
FASTER_FROM = 8192  # ... and sliding faster than dense from this length on


def goal_lines(by: dict[tuple[str, int], dict[str, Any]], lens: list[int]) -> list[str]:
    """Each length's measured ratios against dense, and whether the goals hold (met / NOT met)."""
    ok = lambda v, n: by.get((v, n), {}).get("status") == "ok"  # noqa: E731
    lines: list[str] = []
    for v, limit in MEMORY_GOALS.items():
        pairs = [(n, by[(v, n)]["peak_mb"] / max(by[("dense", n)]["peak_mb"], 1e-9)) for n in lens
                 if ok(v, n) and ok("dense", n)]
        if pairs:
            bad = [f"{_k(n)} {r:.2f}x" for n, r in pairs if r > limit]
            lines.append(f"- {v} peak memory / dense's (goal <= {limit:g}x): "
                         + ", ".join(f"{_k(n)} {r:.2f}x" for n, r in pairs)
                         + (" -- met" if not bad else f" -- NOT met at {', '.join(bad)}"))
    pairs = [(n, by[("sliding", n)], by[("dense", n)]) for n in lens
             if n >= FASTER_FROM and ok("sliding", n) and ok("dense", n)]
    if pairs:
        cells = [f"{_k(n)} {d['fwd_bwd_ms'] / s['fwd_bwd_ms']:.1f}x wall, {d['cpu_ms'] / s['cpu_ms']:.1f}x CPU"
                 for n, s, d in pairs]
        slower = [_k(n) for n, s, d in pairs if s["fwd_bwd_ms"] >= d["fwd_bwd_ms"] or s["cpu_ms"] >= d["cpu_ms"]]
        lines.append(f"- sliding speed-up over dense from {_k(FASTER_FROM)} (goal > 1x): " + "; ".join(cells)
                     + (" -- met" if not slower else f" -- NOT met at {', '.join(slower)}"))
    return ["", "Goals of issue 13 (measured ratios in this run):", *lines] if lines else []


def markdown(results: dict[str, Any]) -> str:
    variants, lens, by = _grid(results)
    load = results.get("load_avg_start"), results.get("load_avg_end")
    lines = [
        "# Attention variants: time and peak memory vs sequence length",
        "",
        f"Device: {results['device']} (torch {results['torch']}, {results['cpu_threads']} CPU threads). "
        f"Batch 1, dim {results['dim']}, {results['n_heads']} heads, one attention layer, forward + backward; "
        f"per-point time cap {results['timeout_s']:g} s"
        + (f", memory cap {results['mem_cap_mb']:.0f} MB" if "mem_cap_mb" in results else "")
        + ". Cells: median wall time / peak memory added by the step.",
    ]
    if "command" in results:
        lines += ["", f"Command: `{results['command']}`"]
    if all(load):
        lines += ["", f"Machine load (1/5/15-min averages, {results.get('cpu_count', '?')} CPUs): "
                      f"{'/'.join(map(str, load[0]))} at start, {'/'.join(map(str, load[1]))} at the end. "
                      "Other jobs shared the CPUs; the CPU-time table and the run spread show how much that moved "
                      "the wall times (each row's own load is in the JSON, `load1`)."]
    lines += ["", "| T | " + " | ".join(variants) + " |", "|---:|" + "---|" * len(variants)]
    for n in lens:
        lines.append(f"| {_k(n)} | " + " | ".join(_cell(by.get((v, n))) for v in variants) + " |")
    for title, cell in (
        ("Process CPU time of the same step (all threads; less disturbed by other load on a shared host):", _cpu_cell),
        ("Spread of the timed wall runs (min-max) and their number:", _spread_cell),
    ):
        lines += ["", title, "", "| T | " + " | ".join(variants) + " |", "|---:|" + "---|" * len(variants)]
        for n in lens:
            lines.append(f"| {_k(n)} | " + " | ".join(cell(by.get((v, n))) for v in variants) + " |")
    lines += ["", "Variant settings: " + "; ".join(
        f"{v}: {', '.join(f'{k}={x}' for k, x in cfg.items()) or 'defaults'}" for v, cfg in results["variant_config"].items()
    ) + "."]
    for v, note in results.get("notes", {}).items():
        lines.append(f"- {v}: {note}")
    lines += goal_lines(by, lens)
    failed = [r for r in results["rows"] if r["status"] != "ok"]
    if failed:
        lines += ["", "Not measured (estimates extrapolate the variant's last measured point by its cost class):"]
        lines += [f"- {r['variant']} T={_k(r['seq_len'])}: {r['status']} ({r.get('note', '')})" for r in failed]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    """Log-log time and memory; skipped points as hollow markers at their estimate, timeouts at the cap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants, lens, _ = _grid(results)
    fig, (ax_t, ax_c, ax_m) = plt.subplots(1, 3, figsize=(16, 4.8))
    cap_s, cap_mb = results["timeout_s"], results.get("mem_cap_mb")
    for i, v in enumerate(variants):
        color = f"C{i}"
        rows = [r for r in results["rows"] if r["variant"] == v]
        ok = [r for r in rows if r["status"] == "ok"]
        xs = [r["seq_len"] for r in ok]
        ax_t.plot(xs, [r["fwd_bwd_ms"] / 1e3 for r in ok], marker="o", color=color, label=v)
        ax_m.plot(xs, [max(r["peak_mb"], 0.1) for r in ok], marker="o", color=color, label=v)
        with_cpu = [r for r in ok if "cpu_ms" in r]  # CPU time: what other load on the host disturbs least
        ax_c.plot([r["seq_len"] for r in with_cpu], [r["cpu_ms"] / 1e3 for r in with_cpu], marker="o", color=color)
        for ax, key, measured in ((ax_t, "est_s", "fwd_bwd_ms"), (ax_m, "est_mb", "peak_mb")):
            est = [r for r in rows if r["status"] == "skipped" and key in r]
            if not est:
                continue
            xs_e, ys_e = [r["seq_len"] for r in est], [max(r[key], 0.1) for r in est]
            if ok:  # dotted line from the last measured point through the estimates
                last = ok[-1][measured] / (1e3 if measured == "fwd_bwd_ms" else 1.0)
                ax.plot([ok[-1]["seq_len"]] + xs_e, [max(last, 0.1)] + ys_e, linestyle=":", color=color)
            ax.plot(xs_e, ys_e, linestyle="none", marker="o", markerfacecolor="white", markeredgecolor=color,
                    markersize=8)
        for r in rows:
            if r["status"] in ("timeout", "oom", "error"):
                ax_t.plot([r["seq_len"]], [cap_s], marker="^" if r["status"] == "timeout" else "X", color=color,
                          markersize=10, linestyle="none")
    ax_t.axhline(cap_s, color="grey", linestyle="--", linewidth=1)
    ax_t.text(lens[-1], cap_s, f"time cap {cap_s:g} s ", va="bottom", ha="right", fontsize=8, color="grey")
    if cap_mb:
        ax_m.axhline(cap_mb, color="grey", linestyle="--", linewidth=1)
        ax_m.text(lens[-1], cap_mb, f"memory cap {cap_mb:.0f} MB ", va="bottom", ha="right", fontsize=8, color="grey")
    for ax, label in ((ax_t, "forward + backward wall time (s)"), (ax_c, "process CPU time, all threads (s)"),
                      (ax_m, "peak memory added (MB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(lens, [_k(n) for n in lens])
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles, _ = ax_t.get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", linestyle=":", color="grey", markerfacecolor="white",
                       label="skipped (estimate)"),
                Line2D([], [], marker="^", linestyle="none", color="grey", label="timeout (at cap)")]
    fig.legend(handles=handles, fontsize=9, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(f"Attention variants on {results['device']} (dim {results['dim']}, {results['n_heads']} heads, "
                 "batch 1, forward + backward; log-log)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(results: dict[str, Any], paths: dict[str, Path]) -> dict[str, Path]:
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["md"].write_text(markdown(results))
    plot(results, paths["png"])
    return paths


def print_table(results: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    variants, lens, by = _grid(results)
    table = Table(title=f"attention: time / peak memory ({results['device']})", title_justify="left")
    table.add_column("T", justify="right")
    for v in variants:
        table.add_column(v)
    for n in lens:
        table.add_row(_k(n), *(_cell(by.get((v, n))) for v in variants))
    console.print(table)
