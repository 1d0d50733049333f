"""Summaries over seeds (mean, sample std, Student-t interval) against numpy/scipy, and the
aggregation of the multi-view benchmark (G-Blend minus each baseline, paired by seed)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from musicrep.benchmark.seeds import paired_difference, parse_seeds, seed_stats

ROOT = Path(__file__).resolve().parent.parent


def test_seed_stats_matches_numpy_scipy():
    x = [0.404, 0.351, 0.456]
    s = seed_stats(x)
    assert s.n == 3
    assert s.mean == pytest.approx(np.mean(x))
    assert s.std == pytest.approx(np.std(x, ddof=1))
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (s.lo, s.hi) == pytest.approx((lo, hi))
    # by hand: t_{0.975, 2} = 4.3027
    assert s.half_width == pytest.approx(4.302653 * np.std(x, ddof=1) / math.sqrt(3), rel=1e-6)
    assert not s.excludes_zero() or s.lo > 0
    s90 = seed_stats(x, confidence=0.9)
    assert s90.half_width < s.half_width


def test_one_seed_has_no_interval_and_bad_input_raises():
    s = seed_stats([0.5])
    assert (s.mean, s.std) == (0.5, 0.0)
    assert math.isnan(s.lo) and math.isnan(s.hi) and not s.excludes_zero()
    with pytest.raises(ValueError):
        seed_stats([])
    with pytest.raises(ValueError):
        seed_stats([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_paired_difference_and_excludes_zero():
    a, b = [0.80, 0.82, 0.79, 0.81], [0.70, 0.71, 0.69, 0.72]
    d = paired_difference(a, b)
    diff = np.subtract(a, b)
    lo, hi = stats.t.interval(0.95, 3, loc=diff.mean(), scale=stats.sem(diff))
    assert d.mean == pytest.approx(diff.mean())
    assert (d.lo, d.hi) == pytest.approx((lo, hi))
    assert d.excludes_zero()
    noisy = paired_difference([0.5, 0.7, 0.4], [0.6, 0.5, 0.5])
    assert not noisy.excludes_zero()


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0 1, 2") == [0, 1, 2]
    assert parse_seeds("3-5") == [3, 4, 5]
    with pytest.raises(ValueError):
        parse_seeds("0,0")
    with pytest.raises(ValueError):
        parse_seeds(" ")


def _benchmark_module():
    path = ROOT / "benchmarks" / "multiview_reproduction.py"
    spec = importlib.util.spec_from_file_location("multiview_reproduction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_multiview_aggregate_and_findings():
    mv = _benchmark_module()
    methods = ["single-mel", "single-gammatone", "single-cqt", "single-wave"]
    methods += ["late-fusion", "concat", "uniform", "gblend"]
    base = dict(zip(methods, [0.40, 0.30, 0.35, 0.20, 0.45, 0.50, 0.44, 0.42]))
    per_seed = {}
    for i, seed in enumerate(["0", "1", "2"]):
        row = {m: v + 0.01 * i for m, v in base.items()}
        row["uniform"] = [0.40, 0.47, 0.44][i]  # G-Blend - uniform: +0.02, -0.04, 0.0
        per_seed[seed] = {"style": row}
    cells, diffs, best = mv.aggregate(per_seed)
    assert best["style"] == "single-mel"
    g = [0.42, 0.43, 0.44]
    assert cells["style"]["gblend"].mean == pytest.approx(np.mean(g))
    assert cells["style"]["gblend"].std == pytest.approx(np.std(g, ddof=1))
    # concat is 0.08 above G-Blend on every seed: std 0, established
    assert diffs["style"]["concat"].mean == pytest.approx(-0.08)
    assert diffs["style"]["concat"].excludes_zero()
    u = np.array(g) - np.array([0.40, 0.47, 0.44])
    lo, hi = stats.t.interval(0.95, 2, loc=u.mean(), scale=stats.sem(u))
    assert (diffs["style"]["uniform"].lo, diffs["style"]["uniform"].hi) == pytest.approx((lo, hi))
    assert not diffs["style"]["uniform"].excludes_zero()
    assert diffs["style"]["best-single"].mean == pytest.approx(0.02)
    text = " ".join(mv.findings(cells, diffs, best, {"style": 57}, 3))
    assert "worse than concatenation on style" in text
    assert "G-Blend vs uniform weights on style" in text
    signs = mv.findings(cells, diffs, best, {"style": 57}, 3, per_seed)[-1]
    assert "below concatenation on style" in signs
    assert "uniform" not in signs  # +0.02, -0.04, 0.0: no common sign
