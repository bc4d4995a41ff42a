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


# ---------------------------------------------------------------- paired comparisons
Z95 = 1.959963984540054


def t_quantile(df: int, z: float = Z95) -> float:
    """Student-t 0.975 quantile: exact table values for df <= 2, else the Cornish-Fisher expansion around
    the normal quantile (within 0.5% of the exact value for df >= 3)."""
    if df <= 0:
        return float("inf")
    if df == 1:
        return 12.706
    if df == 2:
        return 4.303
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def mean_t_interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean and its 95% Student-t interval (infinite with fewer than two values)."""
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"), float("nan"))
    mean = sum(values) / n
    if n < 2:
        return (mean, float("-inf"), float("inf"))
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return (mean, mean - half, mean + half)


def sign_flip_p(diffs: list[float]) -> float:
    """Exact two-sided p-value of the paired sign-flip (permutation) test that the mean difference is 0:
    the share of the 2^n sign assignments whose |mean| is at least the observed one.  With n pairs the
    smallest possible p is 2 / 2^n (0.25 for three seeds): few seeds cannot make a difference significant."""
    n = len(diffs)
    if n == 0:
        return float("nan")
    observed = abs(sum(diffs))
    hits = 0
    for mask in range(2**n):
        total = sum(-d if mask >> i & 1 else d for i, d in enumerate(diffs))
        hits += abs(total) >= observed - 1e-12
    return hits / 2**n


def mcnemar_exact_p(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar test on paired binary outcomes: ``a_only`` pairs where only A succeeded,
    ``b_only`` where only B did (a binomial test of the discordant pairs against 1/2)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)
