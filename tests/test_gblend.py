"""The online gradient-blending rule against a direct computation on made-up loss curves."""

import math

import pytest

from musicrep.errors import ConfigError
from musicrep.objectives.gblend import OnlineGradientBlending, gblend_raw, gblend_weights

# Made-up curves: "good" keeps generalising with little overfitting, "over" overfits
# (train drops, valid barely moves), "stuck" stops generalising at checkpoint 2.
TRAIN = {"good": [1.0, 0.8, 0.6], "over": [1.0, 0.5, 0.2], "stuck": [1.0, 0.9, 0.85]}
VALID = {"good": [1.1, 0.9, 0.72], "over": [1.1, 1.0, 0.98], "stuck": [1.1, 1.0, 1.05]}


def direct(n, eps=1e-8):
    raw = {}
    for k in TRAIN:
        dg = VALID[k][n - 1] - VALID[k][n]
        do = (VALID[k][n] - TRAIN[k][n]) - (VALID[k][n - 1] - TRAIN[k][n - 1])
        raw[k] = max(dg, 0.0) / (do**2 + eps)
    z = sum(raw.values())
    return {k: v / z for k, v in raw.items()}


def at(n, curves):
    return {k: v[n] for k, v in curves.items()}


def test_rule_matches_direct_computation():
    for n in (1, 2):
        w = gblend_weights(at(n - 1, TRAIN), at(n - 1, VALID), at(n, TRAIN), at(n, VALID))
        ref = direct(n)
        assert w == pytest.approx(ref, rel=1e-9)
        assert sum(w.values()) == pytest.approx(1.0)
    w2 = gblend_weights(at(1, TRAIN), at(1, VALID), at(2, TRAIN), at(2, VALID))
    assert w2["stuck"] == 0.0  # held-out loss rose: the branch stops learning
    assert w2["good"] > w2["over"]  # the overfitting branch is slowed down


def test_raw_single_branch_value():
    # dG = 0.2, dO = (0.9-0.8) - (1.1-1.0) = 0 -> 0.2 / eps
    assert gblend_raw(1.0, 1.1, 0.8, 0.9, eps=1e-4) == pytest.approx(0.2 / 1e-4)


def test_online_tracker_smoothing_floor_and_history():
    beta, floor = 0.5, 0.1
    g = OnlineGradientBlending(list(TRAIN), smoothing=beta, floor=floor)
    w0 = g.update(at(0, TRAIN), at(0, VALID), step=0)
    assert w0 == pytest.approx({k: 1 / 3 for k in TRAIN})  # first checkpoint only records
    w1 = g.update(at(1, TRAIN), at(1, VALID), step=10)
    d1 = direct(1)
    smoothed = {k: beta / 3 + (1 - beta) * d1[k] for k in TRAIN}
    assert min(smoothed.values()) >= floor  # floor inactive here
    assert w1 == pytest.approx(smoothed)
    w2 = g.update(at(2, TRAIN), at(2, VALID), step=20)
    d2 = direct(2)
    pre = {k: beta * w1[k] + (1 - beta) * d2[k] for k in TRAIN}
    assert min(w2.values()) >= floor - 1e-12 and sum(w2.values()) == pytest.approx(1.0)
    low = [k for k in pre if pre[k] < floor]
    for k in low:
        assert w2[k] == pytest.approx(floor)
    rest = [k for k in pre if k not in low]
    mass = sum(pre[k] for k in rest)
    for k in rest:
        assert w2[k] == pytest.approx(pre[k] / mass * (1 - floor * len(low)))
    assert [s for s, _ in g.history] == [0, 10, 20]
    state = g.state_dict()
    h = OnlineGradientBlending(list(TRAIN))
    h.load_state_dict(state)
    assert h.weights == g.weights and h.history == g.history


def test_no_branch_generalises_gives_uniform():
    t = {"a": 1.0, "b": 1.0}
    w = gblend_weights(t, {"a": 1.0, "b": 1.0}, t, {"a": 1.2, "b": 1.5})
    assert all(math.isclose(v, 0.5) for v in w.values())


def test_bad_knobs_raise():
    t = {"a": 1.0, "b": 1.0}
    with pytest.raises(ConfigError):
        gblend_weights(t, t, t, t, floor=0.5)
    with pytest.raises(ConfigError):
        gblend_weights(t, t, t, t, smoothing=1.0)
    with pytest.raises(ConfigError):
        gblend_weights(t, {"a": 1.0}, t, t)
