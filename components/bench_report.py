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
    return row["status"]


def _cpu_cell(row: dict[str, Any] | None) -> str:
    if row is None or row["status"] != "ok" or "cpu_ms" not in row:
        return "-" if row is None or row["status"] == "ok" else row["status"]
    return f"{row['cpu_ms'] / 1e3:.3g} s"


def _grid(results: dict[str, Any]) -> tuple[list[str], list[int], dict[tuple[str, int], dict[str, Any]]]:
    rows = results["rows"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    lens = sorted({r["seq_len"] for r in rows})
    return variants, lens, {(r["variant"], r["seq_len"]): r for r in rows}


def markdown(results: dict[str, Any]) -> str:
    variants, lens, by = _grid(results)
    lines = [
        "# Attention variants: time and peak memory vs sequence length",
        "",
        f"Device: {results['device']} (torch {results['torch']}, {results['cpu_threads']} CPU threads). "
        f"Batch 1, dim {results['dim']}, {results['n_heads']} heads, one attention layer, forward + backward; "
        f"per-point timeout {results['timeout_s']:g} s. Cells: time / peak memory added by the step.",
        "",
        "| T | " + " | ".join(variants) + " |",
        "|---:|" + "---|" * len(variants),
    ]
    for n in lens:
        lines.append(f"| {n} | " + " | ".join(_cell(by.get((v, n))) for v in variants) + " |")
    lines += ["", "Process CPU time of the same step (all threads; less disturbed by other load on a shared host):", "",
              "| T | " + " | ".join(variants) + " |", "|---:|" + "---|" * len(variants)]
    for n in lens:
        lines.append(f"| {n} | " + " | ".join(_cpu_cell(by.get((v, n))) for v in variants) + " |")
    lines += ["", "Variant settings: " + "; ".join(
        f"{v}: {', '.join(f'{k}={x}' for k, x in cfg.items()) or 'defaults'}" for v, cfg in results["variant_config"].items()
    ) + "."]
    for v, note in results.get("notes", {}).items():
        lines.append(f"- {v}: {note}")
    failed = [r for r in results["rows"] if r["status"] != "ok"]
    if failed:
        lines += ["", "Not measured:"]
        lines += [f"- {r['variant']} T={r['seq_len']}: {r['status']} ({r.get('note', '')})" for r in failed]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants, _, _ = _grid(results)
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for v in variants:
        ok = [r for r in results["rows"] if r["variant"] == v and r["status"] == "ok"]
        if not ok:
            continue
        xs = [r["seq_len"] for r in ok]
        ax_t.plot(xs, [r["fwd_bwd_ms"] / 1e3 for r in ok], marker="o", label=v)
        ax_m.plot(xs, [max(r["peak_mb"], 0.1) for r in ok], marker="o", label=v)
    for ax, label in ((ax_t, "forward + backward time (s)"), (ax_m, "peak memory added (MB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend()
    fig.suptitle(f"Attention variants on {results['device']} (dim {results['dim']}, {results['n_heads']} heads)")
    fig.tight_layout()
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
        table.add_row(str(n), *(_cell(by.get((v, n))) for v in variants))
    console.print(table)
