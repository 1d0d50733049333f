"""The online gradient-blending rule against a direct computation on made-up loss curves."""

import math

import pytest

from musicrep.errors import ConfigError
from musicrep.objectives.gblend import gblend_raw, gblend_weights
from musicrep.objectives.weighting import WEIGHTINGS, create_weighting

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


def test_registered_weighting_smoothing_floor_and_state():
    """The ``gblend`` scheme of the weighting registry, fed epoch by epoch."""
    import torch

    assert "gblend" in WEIGHTINGS.names()
    beta, floor = 0.5, 0.1
    g = create_weighting({"name": "gblend", "smoothing": beta, "floor": floor}, list(TRAIN))
    assert g.weights() == pytest.approx({k: 1 / 3 for k in TRAIN})
    g.epoch_end(at(0, TRAIN), valid=at(0, VALID))
    w0 = g.weights()
    assert w0 == pytest.approx({k: 1 / 3 for k in TRAIN})  # first checkpoint only records
    g.epoch_end(at(1, TRAIN), valid=at(1, VALID))
    w1 = g.weights()
    d1 = direct(1)
    smoothed = {k: beta / 3 + (1 - beta) * d1[k] for k in TRAIN}
    assert min(smoothed.values()) >= floor  # floor inactive here
    assert w1 == pytest.approx(smoothed, abs=1e-6)
    g.epoch_end(at(2, TRAIN), valid=at(2, VALID))
    w2 = g.weights()
    d2 = direct(2)
    pre = {k: beta * w1[k] + (1 - beta) * d2[k] for k in TRAIN}
    assert min(w2.values()) >= floor - 1e-6 and sum(w2.values()) == pytest.approx(1.0)
    low = [k for k in pre if pre[k] < floor]
    assert low  # the floor is active at this checkpoint
    assert d2["stuck"] == 0.0  # its held-out loss rose: raw weight 0
    for k in low:
        assert w2[k] == pytest.approx(floor)
    rest = [k for k in pre if k not in low]
    mass = sum(pre[k] for k in rest)
    for k in rest:
        assert w2[k] == pytest.approx(pre[k] / mass * (1 - floor * len(low)), abs=1e-6)
    # combine = sum_k w_k L_k with the current weights
    losses = {k: torch.tensor(float(i + 1)) for i, k in enumerate(TRAIN)}
    total = g.combine(losses)
    assert float(total) == pytest.approx(sum(w2[k] * float(losses[k]) for k in TRAIN), abs=1e-6)
    # the state (weights, last checkpoint) resumes through state_dict
    h = create_weighting({"name": "gblend", "smoothing": beta, "floor": floor}, list(TRAIN))
    h.load_state_dict(g.state_dict())
    assert h.weights() == pytest.approx(w2)
    more_t = {k: v * 0.9 for k, v in at(2, TRAIN).items()}
    more_v = {k: v * 0.95 for k, v in at(2, VALID).items()}
    g.epoch_end(more_t, valid=more_v)
    h.epoch_end(more_t, valid=more_v)
    assert h.weights() == pytest.approx(g.weights())


def test_update_every_skips_epochs_between_checkpoints():
    g = create_weighting(
        {"name": "gblend", "update_every": 2, "smoothing": 0, "floor": 0}, list(TRAIN)
    )
    g.epoch_end(at(0, TRAIN), valid=at(0, VALID))  # checkpoint 1 (records)
    g.epoch_end(at(1, TRAIN), valid=at(1, VALID))  # between checkpoints: ignored
    assert g.weights() == pytest.approx({k: 1 / 3 for k in TRAIN})
    g.epoch_end(at(2, TRAIN), valid=at(2, VALID))  # checkpoint 2: compares epochs 0 and 2
    raw = {
        k: max(VALID[k][0] - VALID[k][2], 0)
        / (((VALID[k][2] - TRAIN[k][2]) - (VALID[k][0] - TRAIN[k][0])) ** 2 + 1e-8)
        for k in TRAIN
    }
    z = sum(raw.values())
    assert g.weights() == pytest.approx({k: v / z for k, v in raw.items()}, abs=1e-6)


def test_gblend_weighting_needs_valid_losses_and_sane_knobs():
    g = create_weighting("gblend", list(TRAIN))
    with pytest.raises(ConfigError, match="held-out"):
        g.epoch_end(at(0, TRAIN))
    with pytest.raises(ConfigError):
        create_weighting({"name": "gblend", "floor": 0.4}, list(TRAIN))
    with pytest.raises(ConfigError):
        create_weighting({"name": "gblend", "update_every": 0}, list(TRAIN))


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


# ---------------------------------------------------------------------- hand-worked example
# Three branches, two checkpoints; every number below was worked out by hand.
#   a: train 1.0 -> 0.6, valid 1.2 -> 1.0: dG = 0.2, gap 0.2 -> 0.4, dO = 0.2, raw 0.2/0.04 = 5
#   b: train 1.0 -> 0.5, valid 1.2 -> 1.1: dG = 0.1, gap 0.2 -> 0.6, dO = 0.4, raw 0.1/0.16 = 0.625
#   c: train 1.0 -> 0.9, valid 1.2 -> 1.3: dG = -0.1 (held-out loss rose), raw 0
# Normalised: a = 5/5.625 = 8/9, b = 0.625/5.625 = 1/9, c = 0. The weight is dG / dO^2: the
# branch with the larger overfitting-to-generalisation ratio dO/dG (b: 4, a: 1) gets less.
HAND_T0 = {"a": 1.0, "b": 1.0, "c": 1.0}
HAND_V0 = {"a": 1.2, "b": 1.2, "c": 1.2}
HAND_T1 = {"a": 0.6, "b": 0.5, "c": 0.9}
HAND_V1 = {"a": 1.0, "b": 1.1, "c": 1.3}


def test_hand_worked_raw_weights():
    assert gblend_raw(1.0, 1.2, 0.6, 1.0) == pytest.approx(5.0, rel=1e-6)
    assert gblend_raw(1.0, 1.2, 0.5, 1.1) == pytest.approx(0.625, rel=1e-6)
    assert gblend_raw(1.0, 1.2, 0.9, 1.3) == 0.0


def test_hand_worked_weights_no_knobs():
    w = gblend_weights(HAND_T0, HAND_V0, HAND_T1, HAND_V1)
    assert w == pytest.approx({"a": 8 / 9, "b": 1 / 9, "c": 0.0}, abs=1e-6)


def test_hand_worked_weights_floor():
    # floor 0.2: b (1/9) and c (0) are both below it -> 0.2 each, a gets 1 - 0.4 = 0.6
    w = gblend_weights(HAND_T0, HAND_V0, HAND_T1, HAND_V1, floor=0.2)
    assert w == pytest.approx({"a": 0.6, "b": 0.2, "c": 0.2}, abs=1e-6)
    # floor 0.15 needs two rounds: c -> 0.15, a and b share 0.85 as 8:1 (b = 0.0944 < 0.15),
    # then b -> 0.15 and a = 1 - 0.3 = 0.7
    w = gblend_weights(HAND_T0, HAND_V0, HAND_T1, HAND_V1, floor=0.15)
    assert w == pytest.approx({"a": 0.7, "b": 0.15, "c": 0.15}, abs=1e-6)


def test_hand_worked_weights_smoothing_and_floor():
    third = {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    # smoothing 0.5 from uniform: a = 1/6 + 4/9 = 11/18, b = 1/6 + 1/18 = 4/18, c = 3/18
    w = gblend_weights(HAND_T0, HAND_V0, HAND_T1, HAND_V1, previous=third, smoothing=0.5)
    assert w == pytest.approx({"a": 11 / 18, "b": 4 / 18, "c": 3 / 18}, abs=1e-6)
    # plus floor 0.2: c (1/6) -> 0.2, a and b share 0.8 as 11:4 -> 44/75 and 16/75
    w = gblend_weights(HAND_T0, HAND_V0, HAND_T1, HAND_V1, previous=third, smoothing=0.5, floor=0.2)
    assert w == pytest.approx({"a": 44 / 75, "b": 16 / 75, "c": 0.2}, abs=1e-6)
    # the online weighting gives the same after its second epoch (the first only records)
    g = create_weighting({"name": "gblend", "smoothing": 0.5, "floor": 0.2}, ["a", "b", "c"])
    g.epoch_end(HAND_T0, valid=HAND_V0)
    assert g.weights() == pytest.approx(third)
    g.epoch_end(HAND_T1, valid=HAND_V1)
    assert g.weights() == pytest.approx({"a": 44 / 75, "b": 16 / 75, "c": 0.2}, abs=1e-6)
