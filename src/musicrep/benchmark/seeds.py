"""Summaries over seeds: mean, sample standard deviation and a Student-t interval.

Used by the reproduction scripts that repeat every run for several seeds (e.g.
``benchmarks/multiview_reproduction.py --seeds 0,1,2``): a cell of a table is the mean ± std over
seeds, and a comparison of two methods is the mean of their per-seed differences (paired: the
same seed, data split and task) with a t-interval on ``n - 1`` degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SeedStats", "parse_seeds", "paired_difference", "seed_stats"]


@dataclass(frozen=True)
class SeedStats:
    """Mean, sample std (``ddof=1``; 0 for one value) and a t-interval of values over seeds.

    ``lo``/``hi`` are NaN with fewer than two values (no interval from one seed).
    """

    n: int
    mean: float
    std: float
    lo: float
    hi: float
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below 0 (NaN interval: False)."""
        return bool(self.lo > 0 or self.hi < 0)

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "lo": self.lo,
            "hi": self.hi,
            "confidence": self.confidence,
        }


def seed_stats(values: Sequence[float], confidence: float = 0.95) -> SeedStats:
    """Mean, sample std and the two-sided ``confidence`` Student-t interval of the mean:
    ``mean ± t_{(1+c)/2, n-1} * std / sqrt(n)``."""
    from scipy import stats

    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("seed_stats needs at least one value")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    mean = math.fsum(xs) / n
    if n == 1:
        return SeedStats(1, mean, 0.0, math.nan, math.nan, confidence)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * std / math.sqrt(n)
    return SeedStats(n, mean, std, mean - half, mean + half, confidence)


def paired_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> SeedStats:
    """:func:`seed_stats` of the per-seed differences ``a[i] - b[i]`` (paired by seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired values of unequal length: {len(a)} vs {len(b)}")
    return seed_stats([float(x) - float(y) for x, y in zip(a, b)], confidence)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` (or ``"0 1 2"``, or a range ``"0-2"``) -> ``[0, 1, 2]``; seeds are
    non-negative, duplicates are refused."""
    seeds: list[int] = []
    for part in text.replace(",", " ").split():
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds += list(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"duplicate seeds in {text!r}")
    return seeds
