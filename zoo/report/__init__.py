"""``zoo report``: gather results JSON and write a static comparison report (HTML + Markdown)."""
import zoo  # noqa: F401  (torchvision guard before matplotlib/torch imports)
from zoo.report.build import build_report, main

__all__ = ["build_report", "main"]
