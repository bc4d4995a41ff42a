"""``zoo report``: gather results JSON and write a static comparison report (HTML + Markdown)."""
from zoo.report.build import build_report, main

__all__ = ["build_report", "main"]
