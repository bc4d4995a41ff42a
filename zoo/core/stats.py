"""Confidence intervals for success rates measured over a finite number of episodes."""
from __future__ import annotations

import math
from statistics import NormalDist


def wilson(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Chosen over the normal approximation because benchmark rates sit near 0 or 1 with few
    episodes per task, where p +- z*sqrt(p(1-p)/n) collapses to zero width or leaves [0, 1].
    """
    if n <= 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)  # exact at the edges, not 1e-17 off
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (lo, hi)


def fmt_rate(rate: float | None, lo: float | None = None, hi: float | None = None) -> str:
    """``62.5% [41.0, 80.2]`` (percentages), or ``-`` for a missing value."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "-"
    text = f"{100 * rate:.1f}%"
    if lo is not None and hi is not None:
        text += f" [{100 * lo:.1f}, {100 * hi:.1f}]"
    return text


def fmt_count(n: float | None) -> str:
    """``1.23M`` / ``45.6k`` / ``789``."""
    if n is None:
        return "-"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.3g}" if isinstance(n, float) and not float(n).is_integer() else str(int(n))


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"
