"""Learning-curve CSVs that survive kills and resumes.

Lightning's CSVLogger rewrites ``csv/<stage>/metrics.csv`` from scratch when a run resumes.  So before a
Trainer is built for a stage that already logged rows, the old file is renamed (one atomic rename, on
disk before training starts) to ``segment-000.csv``, ``segment-001.csv``, ...; a kill at any moment
loses at most the rows the logger had not flushed yet.  ``read_stage_metrics`` puts the segments and the
live file back together: a later segment replaces an earlier one's rows from its first step on (a
resume repeats the steps after the checkpoint it started from).
"""
from __future__ import annotations

import csv
from pathlib import Path

SEGMENT_GLOB = "segment-*.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error):
        return []


def start_segment(stage_dir: Path) -> Path | None:
    """Keep the rows an earlier run of this stage logged: move ``metrics.csv`` to the next segment file."""
    live = Path(stage_dir) / "metrics.csv"
    if not live.is_file() or not _rows(live):
        return None
    n = len(list(Path(stage_dir).glob(SEGMENT_GLOB)))
    target = Path(stage_dir) / f"segment-{n:03d}.csv"
    live.replace(target)
    return target


def read_stage_metrics(stage_dir: Path) -> list[dict[str, str]]:
    """Every logged row of a stage, across resumes, in step order of the final history."""
    stage_dir = Path(stage_dir)
    parts = sorted(stage_dir.glob(SEGMENT_GLOB)) + [stage_dir / "metrics.csv"]
    rows: list[dict[str, str]] = []
    for part in parts:
        new = _rows(part) if part.is_file() else []
        steps = [int(float(r["step"])) for r in new if r.get("step") not in (None, "")]
        if steps:
            first = min(steps)
            rows = [r for r in rows if r.get("step") in (None, "") or int(float(r["step"])) < first]
        rows += new
    return rows
