"""Assemble the report and write ``<out>/<name>/``: index.html, README.md, report.json, *.png.

The folder is rebuilt from scratch each time (old figures of inputs that disappeared must
not linger), written to a sibling temp folder first and swapped in, so a failed build never
leaves half a report.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from omegaconf import DictConfig

from zoo.core.errors import ZooError
from zoo.report import answer, bench_sections, comparison, sections, time_split
from zoo.report.document import Image, Note, Table, render_html, render_markdown
from zoo.report.gather import gather


def _check(cfg: DictConfig) -> None:
    name = str(cfg.name)
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ZooError(f"bad value for 'name': '{name}' (a folder name, e.g. name=latest)")
    if not 0.5 <= float(cfg.confidence) < 1.0:
        raise ZooError(f"bad value for 'confidence': {cfg.confidence} (between 0.5 and 1, e.g. 0.95)")
    if not Path(cfg.runs).is_dir() and not Path(cfg.bench).is_dir() and not Path(cfg.search).is_dir():
        raise ZooError(f"nothing to report: none of runs={cfg.runs}, bench={cfg.bench}, search={cfg.search} exists")


def build_report(cfg: DictConfig) -> Path:
    """Write the report; return the path of its index.html."""
    _check(cfg)
    final = Path(cfg.out) / str(cfg.name)
    tmp = final.with_name(f".{final.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        g = gather(cfg.runs, cfg.bench, cfg.search)
        ctx = sections.Ctx(tmp, float(cfg.confidence))
        inputs = {"runs": str(cfg.runs), "bench": str(cfg.bench), "search": str(cfg.search)}
        first = answer.answer(g)  # zoo compare runs of both strategies only
        secs = [
            *([first] if first is not None else []),
            sections.overview(ctx, g, inputs),
            sections.strategies(ctx, g),
            *([comparison.comparison(ctx, g)] if comparison.cells_of(g.runs) else []),  # zoo compare runs only
            sections.per_task(ctx, g),
            sections.attention_variants(ctx, g),
            sections.published(ctx, g),
            sections.curves(ctx, g),
            time_split.time_split(g),
            bench_sections.attention_scaling(ctx, g.attention, f"{cfg.bench}/attention.json"),
            bench_sections.harness_throughput(ctx, g.throughput, f"{cfg.bench}/env_throughput.json"),
            sections.runs_table(ctx, g),
            sections.search(ctx, g),
        ]
        subtitle = f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `zoo report name={cfg.name}`."
        (tmp / "index.html").write_text(render_html(str(cfg.title), subtitle, secs))
        (tmp / "README.md").write_text(render_markdown(str(cfg.title), subtitle, secs))
        summary = {
            "schema": "actionzoo.report/1", "title": str(cfg.title), "inputs": inputs,
            "sections": [{"id": s.id, "title": s.title,
                          "tables": sum(isinstance(b, Table) for b in s.blocks),
                          "images": [b.file for b in s.blocks if isinstance(b, Image)],
                          "missing": [b.text for b in s.blocks if isinstance(b, Note) and b.missing]} for s in secs],
        }
        (tmp / "report.json").write_text(json.dumps(summary, indent=2))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final / "index.html"


def main(cfg: DictConfig) -> Path:
    """Entry point of ``zoo report`` (cfg: ``zoo.schema.tools.ReportConfig``)."""
    from rich.console import Console

    index = build_report(cfg)
    summary = json.loads((index.parent / "report.json").read_text())
    console = Console()
    for s in summary["sections"]:
        state = "[yellow]missing input[/]" if s["missing"] and not s["tables"] and not s["images"] else "[green]ok[/]"
        console.print(f"  {s['title']:<40} {state}  {s['tables']} tables, {len(s['images'])} figures")
    console.print(f"[bold]report[/] -> {index}  (and {index.parent / 'README.md'})")
    return index
