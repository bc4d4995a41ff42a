"""The success-vs-demonstrations curve of ``zoo report``'s comparison section.

Success vs demonstrations: cells that differ only in their demonstrations per training task are named
``<series>-d<N>`` (``N`` = their ``demos_per_task``; a cell without the suffix is its series' point at its
own demonstrations, so cpu-small's ``foundation`` is series ``foundation`` at 6), possibly across several
matrices; each series gets one point per demonstrations count and split (mean over seeds, Student-t 95%).
A series is also held to one pair of suites and one set of settings: a cell trained on other tasks
(cpu-scale's 49 against cpu-small's 6), or with other overrides or another env-step budget (key presses on or
off), is not a point on the same curve.  A point is one matrix's runs: where several matrices measured it with
the same settings and seeds (cpu-small's ``foundation`` again in cpu-fewshot and cpu-ablations; cpu-scale's
Strategy 1 before the action space was extended, which is code, not a setting, and cpu-scale-actions' after),
the one scored last is the point (a re-run after a change, as the headline pair is chosen), and the others are
named in the table's caption rather than counted as more seeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo.core.stats import fmt_rate, mean_t_interval, wilson
from zoo.report import plots
from zoo.report.cells import (SPLITS, CellStats, cell_label, demos_of, matrix_of, scored_at, series_of, settings_of,
                              split_score, suites_of)
from zoo.report.document import Image, Table
from zoo.report.gather import Scored


@dataclass
class CurvePoint:
    series: str
    strategy: str
    demos: int
    scores: dict[str, list[Scored]]  # split -> one score per training seed
    matrix: str = ""
    superseded: tuple[str, ...] = ()  # other matrices that measured this point (scored earlier)

    def interval(self, split: str) -> tuple[float, float, float, int]:
        """(mean, lo, hi, seeds): Student-t 95% over seeds; with one seed, Wilson 95% over its episodes."""
        scores = self.scores[split]
        if len(scores) == 1:
            lo, hi = wilson(scores[0].successes, scores[0].episodes)
            return (scores[0].rate, lo, hi, 1)
        mean, lo, hi = mean_t_interval([sc.rate for sc in scores])
        return (mean, max(0.0, lo), min(1.0, hi), len(scores))

    def text(self, split: str) -> str:
        scores = self.scores[split]
        if not scores:
            return "-"
        mean, lo, hi, n = self.interval(split)
        if n == 1:
            return f"{fmt_rate(mean, lo, hi)} (1 seed; Wilson over {scores[0].episodes} episodes)"
        return f"{fmt_rate(mean, lo, hi)} ({n} seeds)"


def demos_curve(cells: list[CellStats], splits: list[str]) -> list[CurvePoint]:
    """Every (series, strategy, suites, settings, demonstrations) point with its per-seed rates on each split;
    only series measured at two or more demonstration counts on the same suites and settings make a curve.
    Where two kept curves would share a name, the suites (then the matrices) are added to it."""
    runs_at: dict[tuple, dict[str, list[Any]]] = {}  # point -> matrix -> its runs
    for c in cells:
        for r in c.runs:
            n = demos_of(r)
            if n is not None:
                key = (series_of(cell_label(r), n), c.strategy, suites_of(r), settings_of(r), n)
                runs_at.setdefault(key, {}).setdefault(matrix_of(r), []).append(r)
    points: dict[tuple, CurvePoint] = {}
    matrices: dict[tuple, set[str]] = {}
    for key, by_matrix in runs_at.items():
        latest = max(by_matrix, key=lambda m: (scored_at(by_matrix[m]), m))
        pt = points[key] = CurvePoint(key[0], key[1], key[4], {s: [] for s in splits}, latest,
                                      tuple(sorted(m for m in by_matrix if m != latest)))
        matrices.setdefault(key[:4], set()).add(latest)
        for r in by_matrix[latest]:
            for split in splits:
                s = split_score(r, split)
                if s is not None and s.episodes:
                    pt.scores[split].append(s)
    counts: dict[tuple, int] = {}
    for key in points:
        counts[key[:4]] = counts.get(key[:4], 0) + 1
    kept = [(key, pt) for key, pt in sorted(points.items()) if counts[key[:4]] >= 2]
    if len({key[2] for key, _ in kept}) > 1:
        for key, pt in kept:
            pt.series = f"{pt.series} on {key[2][0]}"
    curves = {key[:4] for key, _ in kept}
    for key, pt in kept:
        if sum(1 for other in curves if other[:3] == key[:3]) > 1:
            pt.series = f"{pt.series} ({'+'.join(sorted(matrices[key[:4]]))})"
    return [pt for _, pt in kept]


def demos_curve_blocks(ctx: Any, cells: list[CellStats], ks: list[int]) -> list[Any]:
    splits = [*SPLITS, *(f"fewshot-k{k}" for k in ks)]
    points = demos_curve(cells, splits)
    if not points:
        return []
    labels = {c.strategy: c.runs[0].label for c in cells}
    rows = [[pt.series, labels.get(pt.strategy, pt.strategy), str(pt.demos),
             str(max(len(v) for v in pt.scores.values())), *[pt.text(s) for s in splits]]
            for pt in points]
    headers = ["series", "strategy", "demos / training task", "seeds", "trained", "held-out (zero-shot)",
               *[f"few-shot k={k}" for k in ks]]
    caption = ("Success (full credit) vs recorded demonstrations per training task: mean over training seeds with "
               "its 95% Student-t interval (one seed: the Wilson interval over its episodes)")
    again = [f"{pt.series} at {pt.demos}: {pt.matrix} (not {', '.join(pt.superseded)})" for pt in points if pt.superseded]
    if again:
        caption += ("; a point measured by several matrices with the same settings is the one scored last: "
                    + "; ".join(again))
    blocks: list[Any] = [Table(headers, rows, caption)]
    if ctx is not None:
        curves = {}
        for pt in points:
            for split in splits:
                if pt.scores[split]:
                    curves.setdefault(split, {}).setdefault((pt.series, pt.strategy), []).append(
                        (pt.demos, *pt.interval(split)))
        short = {"train": "trained (training split)", "heldout": "held-out, zero-shot",
                 **{f"fewshot-k{k}": f"held-out, few-shot k={k}" for k in ks}}
        made = plots.demos_curves({short[s]: curves[s] for s in splits if s in curves},
                                  ctx.out_dir / "curve_demos.png")
        if made:
            blocks.append(Image(made.name, "Success vs demonstrations per training task, one panel per split; "
                                           "bars: 95% Student-t interval over training seeds (one seed: Wilson over its episodes)"))
    return blocks
