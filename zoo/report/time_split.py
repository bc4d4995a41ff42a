"""Where training wall time went: the browser, the model, featurizing, the rest (issue 13, item 6).

Strategy 2 logs, per PPO update, ``train/time_<part>_s`` (seconds) for the parts below; this section
sums them over each run's updates, so a share is of the run's whole logged training time, not a mean
of per-update shares.  Runs that log no such columns (Strategy 1, older runs) are left out.
"""
from __future__ import annotations

from pathlib import Path

from zoo.report.document import Note, Section, Table
from zoo.report.gather import Gathered
from zoo.train.metrics import read_stage_metrics

PARTS = ("browser", "model", "featurize", "other")
WHAT = {"browser": "env steps: acting on the pages and reading them back (with acting passes computed while "
                   "another env group's pages worked)",
        "model": "policy forward passes the pages waited for while acting + the PPO update's passes",
        "featurize": "observations into arrays",
        "other": "logging, checkpoint writes, Lightning between updates"}


def run_time_split(run_dir: Path) -> dict[str, float] | None:
    """Seconds per part summed over a run's logged updates (every csv/<stage>/ that has them), the
    number of updates and the mean env steps/s; None when the run logged no time split."""
    totals = dict.fromkeys(PARTS, 0.0)
    updates, rates = 0, []
    for stage_dir in sorted((Path(run_dir) / "csv").glob("*/")):
        for row in read_stage_metrics(stage_dir):
            cells = [row.get(f"train/time_{p}_s") for p in PARTS]
            if any(c in (None, "") for c in cells):
                continue
            for p, c in zip(PARTS, cells):
                totals[p] += float(c)
            updates += 1
            if row.get("train/env_steps_per_s") not in (None, ""):
                rates.append(float(row["train/env_steps_per_s"]))
    if not updates:
        return None
    return {**totals, "updates": float(updates), "env_steps_per_s": sum(rates) / len(rates) if rates else float("nan")}


def _pct(part: float, total: float) -> str:
    return f"{100 * part / total:.1f}%" if total > 0 else "-"


def time_split(g: Gathered) -> Section:
    sec = Section("time-split", "Training time: browser vs model")
    rows = []
    for r in g.runs:
        split = run_time_split(r.path)
        if split is None:
            continue
        total = sum(split[p] for p in PARTS)
        rows.append([r.name, r.variant, str(int(split["updates"])), f"{split['env_steps_per_s']:.1f}",
                     *[_pct(split[p], total) for p in PARTS], f"{total:.0f} s"])
    if not rows:
        # not a missing input: Strategy 1 runs and older Strategy 2 runs simply have none
        sec.blocks.append(Note("No run logged a time split (train/time_*_s: Strategy 2 runs from this version on)."))
        return sec
    sec.blocks.append(Table(["run", "variant", "updates", "env steps/s (mean)", *[f"{p} share" for p in PARTS],
                             "logged time"], rows, "Share of each run's training wall time, summed over its updates"))
    sec.blocks.append(Note("Parts: " + "; ".join(f"{p}: {WHAT[p]}" for p in PARTS) + "."))
    return sec

