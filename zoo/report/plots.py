"""The report's figures: matplotlib (Agg backend, no display) written as PNG beside index.html.

Each function takes already-gathered numbers and a path, draws one figure and returns the
path, or None when there is nothing to draw (the caller then omits the figure).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLORS = {"foundation": "#3566a8", "compressive_rl": "#c2571a"}  # Strategy 1 blue, Strategy 2 orange, everywhere
PALETTE = ["#3566a8", "#c2571a", "#2f8f5b", "#8a4fb0", "#b8860b", "#4a4a4a", "#d0457a", "#1f9bb0"]
DPI = 110


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def smooth(values: list[float], alpha: float = 0.3) -> list[float]:
    """Exponential moving average: PPO's per-update success rate is a handful of episodes each."""
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def success_bars(entries: list[dict], path: Path, title: str) -> Path | None:
    """Horizontal bars of success rate with confidence-interval whiskers.

    entries: {"label", "rate", "lo", "hi", "color"}; lo/hi may be None (published figures).
    """
    entries = [e for e in entries if e.get("rate") is not None and not math.isnan(e["rate"])]
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(entries) + 1.4))
    ys = list(range(len(entries)))[::-1]
    for y, e in zip(ys, entries):
        ax.barh(y, 100 * e["rate"], color=e.get("color", PALETTE[0]), alpha=0.85, hatch=e.get("hatch"))
        if e.get("lo") is not None:
            below, above = max(0.0, e["rate"] - e["lo"]), max(0.0, e["hi"] - e["rate"])  # rounding can cross
            ax.errorbar(100 * e["rate"], y, xerr=[[100 * below], [100 * above]],
                        fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(ys, [e["label"] for e in entries])
    ax.set_xlim(0, 100)
    ax.set_xlabel("success rate (%)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def learning_curves(runs: list[Any], x_key: str, xlabel: str, path: Path, log_x: bool = False) -> Path | None:
    if not any(p.get(x_key) is not None for r in runs for p in r.curve):
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, run in enumerate(runs):  # colour by position in `runs`, so both curve plots agree
        pts = [p for p in run.curve if p.get(x_key) is not None]
        if not pts:
            continue
        xs = [p[x_key] for p in pts]
        ys = [100 * v for v in smooth([p["success"] for p in pts])]
        style = "-" if run.strategy == "compressive_rl" else "--"
        metric = pts[-1].get("metric", "success")
        ax.plot(xs, ys, style, color=PALETTE[i % len(PALETTE)], lw=1.6,
                label=f"{run.name} ({run.attention}; {metric})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("training success rate (%, EMA)")
    ax.set_ylim(-2, 102)
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def scaling(series: dict[str, list[tuple[float, float]]], ylabel: str, title: str, path: Path) -> Path | None:
    """Log-log lines of a measure against sequence length, one per attention variant."""
    series = {k: sorted(v) for k, v in series.items() if v}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, pts) in enumerate(sorted(series.items())):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=PALETTE[i % len(PALETTE)], label=name, ms=4)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length (tokens)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def throughput(points: list[tuple[float, float]], path: Path) -> Path | None:
    if not points:
        return None
    points = sorted(points)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    xs = [p[0] for p in points]
    ax.plot(xs, [p[1] for p in points], "o-", color=PALETTE[2], label="measured")
    ax.plot(xs, [points[0][1] * x / points[0][0] for x in xs], ":", color="gray", label="linear from 1st point")
    ax.set_xlabel("browser contexts stepped concurrently")
    ax.set_ylabel("env steps / second")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def parameter_counts(runs: list[Any], path: Path) -> Path | None:
    runs = [r for r in runs if r.params]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(runs) + 1.3))
    ys = list(range(len(runs)))[::-1]
    ax.barh(ys, [r.params for r in runs], color=[COLORS.get(r.strategy, PALETTE[5]) for r in runs])
    ax.set_yticks(ys, [f"{r.name} ({r.attention})" for r in runs], fontsize=8)
    ax.set_xlabel("parameters")
    counts = [r.params for r in runs]
    if max(counts) / max(1, min(counts)) > 20:  # log only when sizes span orders of magnitude
        ax.set_xscale("log")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def study_history(study: dict, path: Path) -> Path | None:
    trials = study.get("trials") or []
    done = [t for t in trials if t.get("values")]
    if not done:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for state, marker, color in (("COMPLETE", "o", PALETTE[0]), ("PRUNED", "x", PALETTE[5])):
        pts = [(t["number"], 100 * t["values"][0]) for t in done if t["state"] == state]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, color=color, ls="", label=state.lower())
    best, xs, ys = -math.inf, [], []
    for t in sorted((t for t in done if t["state"] == "COMPLETE"), key=lambda t: t["number"]):
        best = max(best, 100 * t["values"][0])
        xs.append(t["number"])
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color=PALETTE[1], label="best so far")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("benchmark success (%)")
    ax.set_title(f"study {study.get('study')}: optimisation history")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def study_importance(study: dict, path: Path) -> Path | None:
    imp = study.get("importance") or {}
    if not imp:
        return None
    items = sorted(imp.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 1.3))
    ax.barh(range(len(items)), [v for _, v in items], color=PALETTE[3])
    ax.set_yticks(range(len(items)), [k for k, _ in items], fontsize=8)
    ax.set_xlabel("importance for success (normalised)")
    ax.set_title(f"study {study.get('study')}: parameter importance")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def demos_curves(panels: dict[str, dict[tuple[str, str], list[tuple]]], path: Path) -> Path | None:
    """Success vs demonstrations per training task: one panel per split (title -> series), a line per
    (series, strategy) of points (demos, mean, lo, hi, seeds) with its interval as whiskers."""
    panels = {t: s for t, s in panels.items() if s}
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.6, 3.8), squeeze=False, sharey=True)
    names = sorted({key for series in panels.values() for key in series})
    demos = sorted({p[0] for series in panels.values() for pts in series.values() for p in pts})
    for ax, (title, series) in zip(axes[0], panels.items()):
        for i, key in enumerate(names):
            pts = sorted(series.get(key, []))
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [100 * p[1] for p in pts]
            color = COLORS.get(key[1], PALETTE[i % len(PALETTE)])
            style = ["o-", "s--", "^:", "d-."][i % 4]
            ax.plot(xs, ys, style, color=color, label=key[0], ms=5)
            err = [(x, 100 * m, 100 * max(0.0, m - lo), 100 * max(0.0, hi - m)) for x, m, lo, hi, _ in pts]
            if err:
                ax.errorbar([e[0] for e in err], [e[1] for e in err], yerr=[[e[2] for e in err], [e[3] for e in err]],
                            fmt="none", ecolor=color, capsize=3, lw=1, alpha=0.7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("demonstrations per training task")
        ax.set_xticks(demos)  # every panel on the same axis, so the splits line up
        ax.set_xlim(demos[0] - 0.5, demos[-1] + 0.5)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("success rate (%)")
    axes[0][0].legend(fontsize=8, loc="best")
    return _save(fig, path)
